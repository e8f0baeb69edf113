"""`make run`'s web server (manage.py serve) lets long request lines through to Django: a long URL (a long shared
"for me" list, a long search) gets Django's answer, not the server's own 414."""

import requests

from recommender.management.commands import serve
from tests.servers import free_port, stop, wait_until


def test_serve_lets_long_urls_through_to_django():
    port = free_port()
    command = serve.Command()
    command.retrain_schedule = None
    processes = command.start({"no_worker": True, "host": "127.0.0.1", "port": port, "web_workers": 1})
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(f"{base}/no/such/page/", timeout=2).status_code == 404
        except requests.ConnectionError:
            return False

    try:
        wait_until(lambda: processes[0].poll() is not None or answers(), 60, "the web server")
        for length in (6000, 9000, 60_000):  # gunicorn stopped at 4094 by default and 8190 at most
            long = requests.get(f"{base}/no/such/page/?q={'x' * length}", timeout=10)
            assert long.status_code == 404 and "Page not found" in long.text  # Django's page, not the server's
        longest = requests.get(f"{base}/no/such/page/?q={'x' * 70_000}", timeout=10)  # beyond granian's 64 KB
        assert longest.status_code == 414
    finally:
        for process in processes:
            stop(process)
