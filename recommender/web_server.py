"""The HTTP server in front of recommender.wsgi: one command line for `make run` (manage.py serve), the tests' real
servers and benchmarks/serve_load.py, so that what is measured and tested is what runs.

granian (a Rust HTTP server with a WSGI interface), not gunicorn: it parses HTTP and keeps connections outside
Python, so a worker's Python thread only runs the app. `benchmarks/serve_load.py --server gunicorn` measures the
other one side by side (README, Serving). Each worker runs THREADS Python threads: the hot answers are CPU work that
holds the GIL, and more threads only hand it back and forth (README); workers, not threads, use the cores.

granian answers a request line longer than 64 KB with an empty 414 before Django sees it; anything shorter (a long
shared "for me" list, a long search) reaches Django, whose own limits answer in JSON or HTML.
"""

import sys

APP = "recommender.wsgi:application"
THREADS = 1


def web_command(
    host: str,
    port: int,
    workers: int,
    threads: int = THREADS,
    app: str = APP,
    access_log: bool = False,
    log_level: str = "info",
) -> list[str]:
    """The command line of the web server: `workers` processes of `threads` Python threads each."""
    command = [sys.executable, "-m", "granian", "--interface", "wsgi", app, "--host", host, "--port", str(port)]
    command += ["--workers", str(workers), "--blocking-threads", str(threads), "--backlog", "2048"]
    # a worker that dies (killed, out of memory) is started again, as gunicorn's arbiter would
    command += ["--respawn-failed-workers", "--log-level", log_level]
    return command + (["--access-log"] if access_log else [])
