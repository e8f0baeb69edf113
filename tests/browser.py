"""Browser-test fixtures, shared by every module that drives a real headless Chromium (tests/conftest.py
re-exports them): the trained sample in a module-scoped live server, a second origin for host pages, Chromium through
Playwright's sync API (Debian's /usr/bin/chromium: Playwright cannot download browsers here), a page that fails its
test on any JavaScript error or Content-Security-Policy violation (in any frame), and screenshots to /tmp/shots/ for a
human look.
"""

import base64
import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.db import connections

from tests.helpers import wait_for

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
# Every frame reports its CSP violations to Python; Chromium also logs them to the console ("Refused to ...").
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(`${e.effectiveDirective} refused ${e.blockedURI || "inline"} in ${e.documentURI}`
    + ` (${e.sourceFile || "?"}:${e.lineNumber}) ${e.sample || ""}`);
}, true);"""
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
    violations = watch_csp(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: note_csp_console(message, violations))
    page.js_errors = errors
    page.csp_violations = violations
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"
    assert not violations, f"Content-Security-Policy violations: {violations}"


def watch_csp(context) -> list[str]:
    """Collects the CSP violations of every page and frame of the context (a list the test may inspect)."""
    violations: list[str] = []
    context.expose_function("__cspViolation", lambda text: violations.append(text))
    context.add_init_script(CSP_LISTENER)
    return violations


def note_csp_console(message, violations: list[str]) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        violations.append(f"console: {message.text}")


def coordinates(book) -> tuple[float, float, tuple]:
    """Where the active version's map puts a book: (x, y, the map's bounds (x0, x1, y0, y1))."""
    from recommender.map import map_data

    document = json.loads(map_data.payload("book").raw)
    ids = np.cumsum(np.frombuffer(base64.b64decode(document["ids"]["bdata"]), "<i4"))
    row = int(np.searchsorted(ids, book.pk))
    coords = [np.frombuffer(base64.b64decode(document[a]["bdata"]), "<u2")[row] / 65535 for a in ("x", "y")]
    x0, x1, y0, y1 = document["bounds"]
    return x0 + coords[0] * (x1 - x0), y0 + coords[1] * (y1 - y0), (x0, x1, y0, y1)


def wait_in_page(page, expression: str, timeout: float = 30.0) -> None:
    """Wait until a JavaScript expression is true in the page. Playwright's wait_for_function evaluates a string
    predicate with eval inside the page, which the content security policy (no 'unsafe-eval') refuses; evaluate()
    goes through the DevTools protocol, which the policy does not govern."""
    wait_for(lambda: page.evaluate(expression), timeout, f"the page to satisfy: {expression}", interval=0.1)


def shot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
