"""Load test of /api/books/<id>/similar/ under gunicorn with the production settings.

Sets up its own PostgreSQL database and Redis cache (or uses --database-url/--redis-url), imports the
Wikipedia sample and trains a version on it (--skip-setup reuses them), then drives random book ids with wrk
(Debian's package) from a separate process for 30 s at 32 and 64 connections against gunicorn with 2 workers,
three ways side by side: the production setup (answers cached per model version, warmed up first), the same
with the answer cache off, and a constant answer of the same size from the same gunicorn setup (the floor
of this machine). Prints requests/s, p50, p99, errors and each worker's RSS and PSS (the index and vectors
are memory-mapped and shared). Targets: >= 1,500 requests/s, p99 <= 20 ms, 0 errors, <= 150 MB RSS/worker.

    .venv/bin/python benchmarks/serve_load.py [--duration 30] [--connections 32 64]
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT.parent / "shared" / "data" / "wikipedia"
TARGETS = {"rps": 1500, "p99_ms": 20.0, "rss_mb": 150.0}

# The floor: the same gunicorn configuration serving a constant answer of the same size, no Django.
TRIVIAL_APP = """
BODY = open(__file__.replace("trivial_app.py", "body.json"), "rb").read()

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
"""

LUA = """
local ids = {%s}
local counter = 0
function setup(thread) thread:set("seed", counter); counter = counter + 1 end
function init(args) math.randomseed(os.time() + seed * 7919) end
function request()
  return wrk.format("GET", "/api/books/" .. ids[math.random(#ids)] .. "/similar/?k=10")
end
"""


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def fresh_postgres(base: str, name: str) -> str:
    import psycopg

    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base}/{name}"


def wait_healthy(url: str, path: str = "/healthz", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + path, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not become healthy")


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB: PSS splits shared pages among the processes that map them."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1)) / 1024
    return rss, pss


def parse_wrk(output: str) -> dict:
    def latency_ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket:
        errors += sum(map(int, socket.groups()))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency_ms("50%"),
        "p99_ms": latency_ms("99%"),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--worker-class", default="gthread", help="gunicorn worker class (gthread keeps connections alive)"
    )
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--database-url", default="", help="default: a fresh PostgreSQL database bench_serve")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--artifacts", default="", help="default: a temporary folder")
    parser.add_argument("--skip-setup", action="store_true", help="reuse --database-url and --artifacts as they are")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")

    artifacts = Path(options.artifacts or tempfile.mkdtemp(prefix="serve-load-"))
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "benchmark-secret-key",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": options.database_url or fresh_postgres(options.pg, "bench_serve"),
        "REDIS_URL": options.redis_url,
        "ARTIFACTS_DIR": str(artifacts),
        "LOG_LEVEL": "WARNING",
    }
    if not options.skip_setup:
        print("setup: migrate, import the sample, train a version inline ...", flush=True)
        manage(env, "migrate", "-v0")
        manage(env, "import_books", str(SAMPLE))
        manage(env, "train", "--inline", "--epochs", "10")
    active = (artifacts / "active.json").read_text()
    version = re.search(r'"version": "([^"]+)"', active).group(1)
    ids = np.load(artifacts / "versions" / version / "book_ids.npy")

    sample_body = (
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-c",
                f"from django.test import Client; import sys; "
                f"sys.stdout.write(Client(HTTP_HOST='localhost').get('/api/books/{int(ids[0])}/similar/?k=10').content.decode())",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % ",".join(map(str, ids.tolist())))
    print(
        f"version {version}: {len(ids)} books; gunicorn {options.workers} workers, {options.worker_class}"
        f" x {options.threads} threads; answers of {len(sample_body)} bytes"
    )
    print(f"\n{'app':<8} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  worker RSS / PSS (MB)")
    verdicts = run_rounds("django", "recommender.wsgi", ROOT, env, options, script.name)
    run_rounds("uncached", "recommender.wsgi", ROOT, {**env, "ANSWER_CACHE_SECONDS": "0"}, options, script.name)

    floor_dir = Path(tempfile.mkdtemp(prefix="serve-floor-"))
    (floor_dir / "trivial_app.py").write_text(TRIVIAL_APP)
    (floor_dir / "body.json").write_text(sample_body)
    run_rounds("floor", "trivial_app", floor_dir, env, options, script.name)
    print(
        f"\n'floor' is a constant answer of the same size from the same gunicorn setup: what this machine allows"
        f" with wrk on the same 2 cores.\ntargets for django: >= {TARGETS['rps']} req/s, p99 <= {TARGETS['p99_ms']} ms,"
        f" 0 errors, <= {TARGETS['rss_mb']} MB RSS per worker: " + ("MEETS" if all(verdicts) else "MISSES")
    )


def run_rounds(name: str, app: str, cwd: Path, env: dict, options, script: str) -> list[bool]:
    """Start gunicorn with `app`, warm it up, drive it at each connection count; one verdict per round."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = options.port or probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(options.workers),
            "--worker-class",
            options.worker_class,
            "--threads",
            str(options.threads),
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
    )
    verdicts = []
    try:
        wait_healthy(url, path="/healthz" if name == "django" else "/")
        workers = [int(p) for p in subprocess.check_output(["pgrep", "-P", str(gunicorn.pid)], text=True).split()]
        subprocess.run(["wrk", "-t2", "-c16", "-d5s", "-s", script, url], capture_output=True, check=True)
        for connections in options.connections:
            output = subprocess.run(
                ["wrk", "-t2", f"-c{connections}", f"-d{options.duration}s", "--latency", "-s", script, url],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            result = parse_wrk(output)
            memory = [memory_mb(pid) for pid in workers]
            print(
                f"{name:<8} {connections:>5} {result['rps']:>8.0f} {result['p50_ms']:>7.2f} {result['p99_ms']:>7.2f}"
                f" {result['errors']:>6}  " + ", ".join(f"{rss:.0f} / {pss:.0f}" for rss, pss in memory),
                flush=True,
            )
            verdicts.append(
                result["rps"] >= TARGETS["rps"]
                and result["p99_ms"] <= TARGETS["p99_ms"]
                and result["errors"] == 0
                and max(rss for rss, _ in memory) <= TARGETS["rss_mb"]
            )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    return verdicts


if __name__ == "__main__":
    main()
