"""Browser-test fixtures, shared by every module that drives a real headless Chromium (tests/conftest.py
re-exports them): the trained sample in a module-scoped live server, a second origin for host pages, Chromium through
Playwright's sync API (Debian's /usr/bin/chromium: Playwright cannot download browsers here), a page that fails its
test on any JavaScript error, and screenshots to /tmp/shots/ for a human look.
"""

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

SHOTS = Path("/tmp/shots")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@pytest.fixture(scope="module")
def site(trained_catalogue, django_db_blocker) -> Iterator[str]:
    """The site at http://localhost:<port>, serving the trained sample (static files included)."""
    from pytest_django.live_server_helper import LiveServer

    with django_db_blocker.unblock():
        server = LiveServer("localhost")
        server._live_server_modified_settings.enable()
        try:
            yield server.url
        finally:
            server._live_server_modified_settings.disable()
            server.stop()


@pytest.fixture(scope="module")
def other_origin(tmp_path_factory, site) -> Iterator[tuple[str, Path]]:
    """A plain static server on 127.0.0.1 (another origin than the site's localhost) for host pages."""
    root = tmp_path_factory.mktemp("host")
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser(site):
    """Chromium, driven by Playwright's sync API. That API keeps an asyncio loop running in this thread, which
    Django takes for an async context: the tests' own ORM calls are plain synchronous ones, so allow them."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium)")
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                # With Playwright's loop running, Django kept this module's ORM connections apart: close them
                # here, or the test database cannot be dropped at the end of the session.
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    local = ("http://localhost:", "http://127.0.0.1:")
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(local) else route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.js_errors = errors
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
