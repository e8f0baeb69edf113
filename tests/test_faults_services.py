"""Redis stops and PostgreSQL restarts under the real web server: pages and the API degrade, then recover by themselves.

Both services are private instances on free ports (tests/servers.py), never the shared ones.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User

from recommender.catalogue.models import Book, BookLink
from tests.helpers import ROOT, WIKIPEDIA, test_database_url
from tests.servers import PrivatePostgres, PrivateRedis, WebServer, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

STALL = 1.0  # seconds: no request may take this long while a service is down


@pytest.fixture(scope="module")
def staff_login(trained_catalogue, django_db_blocker):
    """A committed staff account, so that a server process sees it."""
    with django_db_blocker.unblock():
        User.objects.create_user("faults-staff", password="faults-pw", is_staff=True)
        try:
            yield ("faults-staff", "faults-pw")
        finally:
            User.objects.filter(username="faults-staff").delete()


def login(server: WebServer, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(server.base + "/admin/login/", timeout=10)
    session.post(
        server.base + "/admin/login/?next=/training/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": server.base + "/admin/login/"},
        timeout=10,
    )
    return session


def timed_get(server: WebServer, path: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = server.get(path)
    return response, time.monotonic() - started


def test_redis_stops_and_comes_back(committed_catalogue, staff_login, tmp_path: Path):
    # committed_catalogue: no test transaction, which under SQLite would hold the write lock that the server's login
    # (a session, last_login) and its queued run need
    redis = PrivateRedis(tmp_path)
    redis.start()
    server = WebServer(
        {"DATABASE_URL": test_database_url(), "REDIS_URL": redis.url, "ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR)},
        tmp_path / "web.log",
    )
    book = Book.objects.get(title="Space Cadet").id
    # books for a link: cached in Redis by Django's view (the fast path answers plain `similar` without Redis)
    link = BookLink.objects.filter(book_id=book).values_list("link_id", flat=True).first()
    pages = ["/", f"/books/{book}/", f"/for-me/?like={book}", "/api/books/?q=space", f"/api/books/{book}/"]
    try:
        server.start()
        for k in (3, 4):
            assert server.get(f"/api/books/{book}/similar/?k={k}").status_code == 200
            assert server.get(f"/api/links/{link}/books/?k={k}").status_code == 200
        assert redis.client().dbsize() > 0  # answers are cached in Redis

        redis.stop()
        spent = []
        for k in range(5, 25):  # new k each time: computed, not replayed from the process's LRU
            response, seconds = timed_get(server, f"/api/books/{book}/similar/?k={k}")
            assert response.status_code == 200 and len(response.json()["results"]) == k
            spent.append(seconds)
        for path in pages:
            response, seconds = timed_get(server, path)
            assert response.status_code == 200, (path, response.text[:300])
            spent.append(seconds)
        assert max(spent) < STALL, f"slowest request {max(spent):.2f} s with Redis down"
        health, seconds = timed_get(server, "/healthz")
        assert health.status_code == 503 and health.json()["broker"]["ok"] is False and seconds < STALL

        session = login(server, *staff_login)
        started = time.monotonic()
        token = session.cookies["csrftoken"]
        answer = session.post(
            server.base + "/training/start/",
            data={"epochs": "1", "csrfmiddlewaretoken": token},
            headers={"Referer": server.base + "/training/"},
            timeout=30,
        )
        assert time.monotonic() - started < 10, "starting a run hung with Redis down"
        assert answer.status_code == 200 and "could not queue the run: the broker is unreachable" in answer.text

        redis.start()  # same port, empty: the web process was not restarted
        wait_until(lambda: server.get("/healthz").status_code == 200, 30, "healthz to recover")
        fresh_k = iter(range(40, 100))  # a new k each try: a replay from the process's LRU would write nothing
        wait_until(
            lambda: (
                server.get(f"/api/links/{link}/books/?k={next(fresh_k)}").status_code == 200
                and redis.client().dbsize() > 0
            ),
            30,
            "answers cached in Redis again",
        )
        # the same web process queues runs again: nothing in it stayed broken (Celery's result store included)
        session = login(server, *staff_login)
        answer = session.post(
            server.base + "/training/start/",
            data={"epochs": "1", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
            headers={"Referer": server.base + "/training/"},
            timeout=30,
        )
        assert answer.status_code == 200 and re.search(r"Training run \d+ queued", answer.text), answer.text[-2000:]
        assert redis.client().llen("celery") == 1  # the message waits in the restarted Redis for a worker
    finally:
        server.stop()
        redis.stop()


@pytest.mark.skipif(PrivatePostgres.why_not() is not None, reason=str(PrivatePostgres.why_not()))
def test_postgres_restarts_under_traffic(tmp_path: Path):
    pg = PrivatePostgres()
    pg.init()
    env = {"DATABASE_URL": pg.url(), "ARTIFACTS_DIR": str(tmp_path / "artifacts"), "REDIS_URL": ""}
    server = WebServer(env, tmp_path / "web.log")
    try:
        for command in (["migrate", "-v0"], ["import_books", str(WIKIPEDIA)]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=server.env,
                check=True,
                stdout=subprocess.DEVNULL,
                timeout=300,
            )
        server.start()
        assert server.get("/api/books/?q=space").status_code == 200

        pg.stop()
        spent = []
        for path in ("/api/books/?q=space", "/api/books/1/", "/books/", "/healthz"):
            response, seconds = timed_get(server, path)
            spent.append(seconds)
            assert response.status_code == 503, (path, response.status_code, response.text[:200])
            assert response.headers["Content-Type"].startswith("application/json")
            body = response.json()
            assert body["database"]["ok"] is False if path == "/healthz" else "database is unavailable" in body["error"]
        assert max(spent) < STALL * 3, f"slowest request {max(spent):.2f} s with PostgreSQL down"

        pg.start()
        wait_until(lambda: server.get("/api/books/?q=space").status_code == 200, 30, "the API to recover")
        # each web server thread may fail once on its connection from before the restart, then reconnects
        wait_until(lambda: server.get("/healthz").status_code == 200, 10, "healthz to recover")
        assert [server.get("/books/").status_code for _ in range(8)] == [200] * 8
        assert [server.get("/healthz").status_code for _ in range(8)] == [200] * 8
    finally:
        server.stop()
        pg.remove()
