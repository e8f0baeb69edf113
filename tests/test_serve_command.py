"""`make run`'s web server (manage.py serve, recommender/web_server.py) lets long request lines through to Django: a
long URL (a long shared "for me" list, a long search) gets Django's answer, not the server's own 414. A worker that
dies is started again, as gunicorn's arbiter did."""

import os
import signal
import subprocess
import sys

import pytest
import requests

from recommender.management.commands import serve
from tests.helpers import ROOT
from tests.servers import free_port, stop, wait_until


def start_web_server() -> tuple[list[subprocess.Popen], str]:
    port = free_port()
    command = serve.Command()
    command.retrain_schedule = None
    processes = command.start({"no_worker": True, "host": "127.0.0.1", "port": port, "web_workers": 1})
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: processes[0].poll() is not None or answers(base), 60, "the web server")
    assert processes[0].poll() is None, "the web server exited"
    return processes, base


def answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/no/such/page/", timeout=2).status_code == 404
    except requests.ConnectionError:
        return False


def workers_of(server: subprocess.Popen) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in found]


def test_serve_lets_long_urls_through_to_django():
    processes, base = start_web_server()
    try:
        for length in (6000, 9000, 60_000):  # gunicorn stopped at 4094 by default and 8190 at most
            long = requests.get(f"{base}/no/such/page/?q={'x' * length}", timeout=10)
            assert long.status_code == 404 and "Page not found" in long.text  # Django's page, not the server's
        longest = requests.get(f"{base}/no/such/page/?q={'x' * 70_000}", timeout=10)  # beyond granian's 64 KB
        assert longest.status_code == 414
    finally:
        for process in processes:
            stop(process)


def test_a_killed_web_worker_is_started_again():
    processes, base = start_web_server()
    try:
        [worker] = workers_of(processes[0])
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: (found := workers_of(processes[0])) and worker not in found, 30, "a new worker")
        wait_until(lambda: answers(base), 60, "the new worker to answer")
        assert processes[0].poll() is None
    finally:
        for process in processes:
            stop(process)


@pytest.mark.parametrize("variable", ["WEB_THREADS", "WEB_CONCURRENCY", "PORT"])
def test_a_typo_in_a_server_variable_stops_with_its_name(variable):
    env = {**os.environ, variable: "two"}
    done = subprocess.run(
        [sys.executable, "manage.py", "serve", "--no-worker"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2  # argparse's usage error: nothing was migrated or started
    assert f"'two' is not a positive integer (the option, or {variable})" in done.stderr
    assert "Traceback" not in done.stderr
