"""Private service processes for fault tests: a Redis, a PostgreSQL cluster and the web server, each on a free port.

Fault tests stop and restart these, never the shared PostgreSQL and Redis that other test runs use.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from glob import glob
from pathlib import Path

import requests

from recommender.web_server import THREADS, web_command
from tests.helpers import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class PrivateRedis:
    """redis-server on a free port, no persistence; stop() and start() again on the same port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [*command, "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(lambda: self.client().ping(), 20, "the private redis")

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

    def stop(self) -> None:
        stop(self.process)


def postgres_bin() -> Path | None:
    found = sorted(glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb as user postgres) on a free port; restartable."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        # its own folder under /tmp: user postgres cannot enter pytest's (mode 0700, owned by root)
        self.folder = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.folder / "pgdata"
        self.port = free_port()

    @staticmethod
    def why_not() -> str | None:
        if postgres_bin() is None:
            return "no /usr/lib/postgresql/*/bin/pg_ctl"
        if os.geteuid() != 0 or not shutil.which("runuser"):
            return "needs root and runuser to run initdb as user postgres"
        return None

    def _as_postgres(self, *command: str, timeout: float = 120) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def init(self) -> None:
        shutil.chown(self.folder, "postgres")
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-l", str(self.folder / "log"), "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(Exception):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


class WebServer:
    """The web server of `make run` (recommender/web_server.py) serving the app with the given environment, on a free
    port: one worker of `threads` threads."""

    def __init__(self, env: dict[str, str], log: Path, threads: int = THREADS) -> None:
        self.port = free_port()
        self.env = {**os.environ, "DEBUG": "0", "SECRET_KEY": "test-only-secret-key", **env}
        self.log = log
        self.threads = threads
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = web_command("127.0.0.1", self.port, 1, self.threads, log_level="warning")
        with open(self.log, "a") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        wait_until(
            lambda: self.process.poll() is not None or requests.get(self.base + "/healthz", timeout=2), 60, "web server"
        )
        if self.process.poll() is not None:
            raise AssertionError(f"the web server exited:\n{self.log.read_text()}")

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.base + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def stop(self) -> None:
        stop(self.process)
