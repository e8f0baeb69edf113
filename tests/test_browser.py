"""End to end in a real headless Chromium: autocomplete by keyboard, the book page, "For me", the widget on another
origin and in an iframe, the empty state. Screenshots of each page go to /tmp/shots/ for a human look.

Needs Debian's chromium (/usr/bin/chromium) and Python Playwright (playwright==1.65.2, no downloaded browsers).
The site runs in a module-scoped live server over the committed trained_catalogue, so the import and the training
happen once for the module; requests for anything but the two local origins (cover images) are refused.
"""

import html
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from embeddings.models import RunStatus, TrainingRun
from recommender.catalogue import snapshot
from recommender.catalogue.models import Book, Link
from recommender.catalogue.text import search_key
from recommender.front import pages
from recommender.map import map_data
from recommender.widget import WIDGET_DEFAULT_K, WIDGET_MAX_K
from tests.browser import coordinates, shot, wait_in_page
from tests.helpers import on_own_connection

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_home_autocomplete_by_keyboard_to_the_book_page(page, site):
    book = Book.objects.get(title="Watership Down")
    page.goto(site + "/")
    assert page.locator("#start-heading").is_visible()
    shot(page, "home")
    box = page.locator("#home-q")
    assert box.evaluate("el => el === document.activeElement")  # autofocus
    page.keyboard.type("watership", delay=20)
    options = page.locator("#home-q-list [role=option]")
    options.first.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    assert "Watership Down" in options.first.inner_text()
    page.keyboard.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == "home-q-option-0"
    assert options.first.get_attribute("aria-selected") == "true"
    shot(page, "home-autocomplete", full_page=False)
    page.keyboard.press("Escape")
    assert box.get_attribute("aria-expanded") == "false" and page.locator("#home-q-list").is_hidden()
    page.keyboard.press("ArrowDown")  # reopens on the first suggestion
    assert box.get_attribute("aria-expanded") == "true"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{site}/books/{book.pk}/"
    assert page.locator("h1").inner_text() == "Watership Down"
    results = page.locator(".results .result")
    assert results.count() == 10
    widths = page.locator(".results .bar > span").evaluate_all(
        "spans => spans.map(s => s.getBoundingClientRect().width)"
    )
    assert widths[0] > 0 and widths == sorted(widths, reverse=True)
    # The cover cannot load here (no network): the image is removed and the same-sized placeholder shows.
    cover = page.locator(".book-head .cover")
    size = cover.bounding_box()
    assert page.locator(".book-head .cover img").count() == 0
    assert page.locator(".book-head .cover-placeholder").is_visible()
    assert size["width"] == 200 and abs(size["height"] - 300) < 1
    shot(page, "book")
    # The explanation links lead to link pages.
    shared = page.locator(".results .shared a").first
    name = shared.inner_text()
    with page.expect_navigation():
        shared.click()
    assert "/links/" in page.url and page.locator("h1").inner_text() == name
    assert page.locator(".results .result").count() > 0 and page.locator(".link-results li").count() > 0
    shot(page, "link")


def pick_by_keyboard(page, box: str, text: str) -> None:
    """Type into a search box, take the first suggestion with the arrow key and Enter, wait for the page."""
    page.locator(box).focus()
    page.keyboard.type(text, delay=10)
    page.locator(f"{box}-list [role=option]").first.wait_for()
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_for_me_by_keyboard_and_shareable_url(page, site):
    liked = Book.objects.get(title="Watership Down")
    disliked = Book.objects.get(title="The Art of War")
    page.goto(site + "/for-me/")
    assert "Add a book you liked" in page.locator("main").inner_text()
    pick_by_keyboard(page, "#like-q", "watership down")
    assert page.url == f"{site}/for-me/?like={liked.pk}"
    pick_by_keyboard(page, "#dislike-q", "the art of war")
    assert page.url == f"{site}/for-me/?like={liked.pk}&dislike={disliked.pk}"
    results = page.locator(".results .result")
    assert results.count() == 12
    titles = results.locator(".result-title").all_inner_texts()
    assert "Watership Down" not in titles and "The Art of War" not in titles
    shot(page, "for-me")
    # The URL alone brings the same page back, and removing a pick updates it.
    page.goto(f"{site}/for-me/?like={liked.pk}&dislike={disliked.pk}")
    assert page.locator(".results .result-title").all_inner_texts() == titles
    with page.expect_navigation():
        page.get_by_role("link", name="Remove The Art of War").click()
    assert page.url == f"{site}/for-me/?like={liked.pk}"


def test_widget_script_on_another_origin(page, site, other_origin):
    origin, root = other_origin
    book = Book.objects.get(title="Watership Down")
    (root / "host.html").write_text(
        f"""<!doctype html><html><head><meta charset="utf-8"><title>A host page</title>
<style>body {{ font-family: serif; margin: 2rem; }} li, a, p {{ color: red !important; font-size: 30px; }}
.card, .title {{ border: 5px solid red; }}</style></head>
<body><h1>My book blog</h1>
<section id="by-title"><div data-book-recommendations="watership down" data-k="4"></div></section>
<section id="by-id"><div data-book-recommendations="{book.pk}" data-k="2"></div></section>
<section id="too-many"><div data-book-recommendations="{book.pk}" data-k="500"></div></section>
<section id="no-k"><div data-book-recommendations="{book.pk}"></div></section>
<section id="unknown"><div data-book-recommendations="No Such Book Zzqx"></div></section>
<p class="error" id="host-error">The host's own paragraph.</p>
<script src="{site}/static/widget.js" async></script></body></html>"""
    )
    page.goto(f"{origin}/host.html")
    cards = page.locator("#by-title a.card")
    cards.first.wait_for()
    page.locator("#by-id a.card").first.wait_for()  # each element renders on its own
    assert cards.count() == 4
    assert page.locator("#by-id a.card").count() == 2
    page.locator("#too-many a.card").first.wait_for()  # data-k is clamped to the server's limits (/api/widget/)
    assert page.locator("#too-many a.card").count() == WIDGET_MAX_K
    assert page.locator("#no-k a.card").count() == WIDGET_DEFAULT_K
    for href in cards.evaluate_all("links => links.map(a => a.href)"):
        assert href.startswith(f"{site}/books/")
    assert page.locator("#by-title .head").inner_text() == "Books like Watership Down"
    assert "% similar" in cards.first.inner_text()
    error = page.locator("#unknown p.error")
    error.wait_for()
    assert "No book called “No Such Book Zzqx”" in error.inner_text()
    # Styles stay on their side of the shadow root.
    title_color = page.locator("#by-title .title").first.evaluate("el => getComputedStyle(el).color")
    assert title_color == "rgb(26, 95, 180)"
    host_paragraph = page.locator("#host-error").evaluate("el => getComputedStyle(el).backgroundColor")
    assert host_paragraph == "rgba(0, 0, 0, 0)"
    shot(page, "widget-host")


def test_widget_docs_preview_and_iframe(page, site):
    example = pages.example_book()
    page.goto(site + "/widget/")
    page.locator(".preview-box a.card").first.wait_for()
    assert page.locator(".preview-box a.card").count() == 5
    frame = page.frame_locator(".preview-frame")
    frame.locator(".rw-card").first.wait_for()
    assert frame.locator(".rw-card").count() == 5
    assert example.title in frame.locator(".rw-head").inner_text()
    shot(page, "widget-docs")
    page.goto(f"{site}/widget/books/{example.pk}/?k=5")
    page.set_viewport_size({"width": 360, "height": 520})
    shot(page, "widget-iframe-page", full_page=False)


def test_mobile_book_page(browser, site):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    context.route("**/*", lambda route: route.continue_() if "//localhost:" in route.request.url else route.abort())
    page = context.new_page()
    try:
        book = Book.objects.get(title="Watership Down")
        page.goto(f"{site}/books/{book.pk}/")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, "the page scrolls sideways on a phone"
        shot(page, "book-mobile")
        page.goto(f"{site}/")
        shot(page, "home-mobile")
    finally:
        context.close()


def test_empty_state_without_a_model(page, site, settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path  # nothing trained in there
    book = Book.objects.get(title="Watership Down")
    page.goto(f"{site}/books/{book.pk}/")
    notice = page.locator(".notice")
    assert "No model has been trained yet" in notice.inner_text()
    assert "python manage.py train --wait" in notice.inner_text()
    shot(page, "book-no-model")


# --- Content-Security-Policy: every page passes it (the `page` fixture fails a test on any violation) ---

STAFF_PASSWORD = "a-long-test-password-9"


@pytest.fixture
def staff_user(committed_catalogue) -> User:
    """A librarian, committed for the live server's thread, in a test without a surrounding transaction: logging in
    writes (a session, last_login) on the server's connection, which SQLite refuses while a test transaction holds
    the write lock. The test's flush removes it."""
    return User.objects.create_user("csp-librarian", password=STAFF_PASSWORD, is_staff=True, is_superuser=True)


def log_in(page, site: str, user) -> None:
    page.goto(f"{site}/admin/login/?next=/training/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", STAFF_PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.url == f"{site}/training/"


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("content-security-policy", "")
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_page_passes_the_content_security_policy(page, site, staff_user, committed_catalogue):
    book = Book.objects.get(title="Watership Down")
    link = Link.objects.filter(book_links__book=book).order_by("-book_count").first()
    pages_and_ready = {
        "/": "#start-heading",
        "/books/?q=down": ".book-list",
        f"/books/{book.pk}/": ".results .result",
        f"/links/{link.pk}/": ".link-results li",
        f"/for-me/?like={book.pk}": ".results .result",
        "/widget/": ".preview-box a.card",
        f"/widget/books/{book.pk}/?k=5": ".rw-card",
        "/map/": "#map-plot[data-ready=true]",
        "/map/links/": "#map-plot[data-ready=true]",
        "/no/such/page/": "h1",
    }
    for path, ready in pages_and_ready.items():
        response = page.goto(site + path)
        page.wait_for_selector(ready)
        rules = policy(response)
        assert rules["script-src"] == ["'self'"] + (["'unsafe-eval'"] if path.startswith("/map/") else []), path
        assert rules["object-src"] == ["'none'"] and rules["base-uri"] == ["'none'"], path
        framing = ["*"] if path.startswith("/widget/books/") else ["'none'"]
        assert rules["frame-ancestors"] == framing, path
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin"
        assert "camera=()" in headers["permissions-policy"]
        assert headers.get("x-frame-options") == (None if framing == ["*"] else "DENY"), path
    page.goto(site + "/")
    page.locator("#home-q").type("watership", delay=10)  # the autocomplete's fetch is same-origin (connect-src)
    page.locator("#home-q-list [role=option]").first.wait_for()
    page.goto(f"{site}/map/?book={book.pk}")
    wait_in_page(page, "document.getElementById('map-plot').dataset.neighbours > 0")

    log_in(page, site, staff_user)  # the admin's login page, under the same policy
    run = committed_catalogue.run
    for path, ready in {
        "/training/": "table.data",
        "/training/versions/": ".compare-table",
        f"/training/runs/{run.pk}/curve/": ".run-curve:not([hidden]) .main-svg",  # the loss curve, drawn
        "/admin/": "#content",
        "/admin/embeddings/trainingrun/": "#result_list",
    }.items():
        response = page.goto(site + path)
        page.wait_for_selector(ready)
        assert "'unsafe-inline'" not in policy(response)["script-src"], path
    assert not page.csp_violations  # also checked by the fixture, for every test of the module


def test_only_the_widget_may_be_framed_by_other_sites(page, site, other_origin):
    origin, root = other_origin
    book = Book.objects.get(title="Watership Down")
    (root / "frames.html").write_text(
        f"""<!doctype html><html><head><meta charset="utf-8"><title>Frames</title></head><body>
<iframe id="widget" src="{site}/widget/books/{book.pk}/?k=3" width="360" height="400"></iframe>
<iframe id="page" src="{site}/books/{book.pk}/" width="360" height="400"></iframe></body></html>"""
    )
    page.goto(f"{origin}/frames.html")
    page.frame_locator("#widget").locator(".rw-card").first.wait_for()
    assert page.frame_locator("#widget").locator(".rw-card").count() == 3
    for _ in range(100):  # the refusal is reported a moment after the frame's answer
        if page.csp_violations:
            break
        page.wait_for_timeout(100)
    assert page.frame_locator("#page").locator("article.book").count() == 0  # the book page refused to be framed
    assert page.csp_violations and all("frame-ancestors" in v for v in page.csp_violations), page.csp_violations
    page.csp_violations.clear()  # expected: the refusal itself


def test_widget_script_under_a_strict_host_policy(page, site, other_origin):
    """A host page that allows nothing but our script, our API and https images still gets styled cards."""
    origin, root = other_origin
    host_policy = f"default-src 'none'; script-src {site}; connect-src {site}; img-src https:"
    (root / "strict.html").write_text(
        f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{host_policy}"><title>Strict host</title></head>
<body><div id="recs" data-book-recommendations="watership down" data-k="3"></div>
<script src="{site}/static/widget.js" async></script></body></html>"""
    )
    page.goto(f"{origin}/strict.html")
    cards = page.locator("#recs a.card")
    cards.first.wait_for()
    assert cards.count() == 3
    assert page.locator("#recs .title").first.evaluate("el => getComputedStyle(el).color") == "rgb(26, 95, 180)"
    widths = page.locator("#recs .bar > span").evaluate_all("s => s.map(e => e.getBoundingClientRect().width)")
    assert all(w > 0 for w in widths)  # the similarity bars' widths are set through the CSSOM
    hue = page.locator("#recs .cover").first.evaluate("el => el.style.getPropertyValue('--hue')")
    assert hue.strip().isdigit()


# --- A hostile book: HTML and script in its title, author, genre and a link's name show as text everywhere ---

HOSTILE_TITLE = '"><script>window.__xss = "title"</script><img src=x onerror=alert("title")> Zyxq'
HOSTILE_AUTHOR = "<img src=x onerror=alert('author')>"
HOSTILE_GENRE = "<svg onload=alert('genre')>"  # lower-case and without , ; / (the map's genre groups split on them)
HOSTILE_LINK = '<script>alert("link")</script>'
GENRE_BOOKS = 150  # books given the hostile genre, so that it is one of the map legend's coloured groups
INJECTED = "img[src='x'], svg[onload], script:not([src])"
FIND_INJECTED = """(selector) => {
  const found = [];
  const walk = (root) => {
    root.querySelectorAll(selector).forEach((el) => found.push(el.outerHTML));
    root.querySelectorAll("*").forEach((el) => { if (el.shadowRoot) walk(el.shadowRoot); });
  };
  walk(document);
  return window.__xss ? [...found, "window.__xss was set"] : found;
}"""


def forget_answers() -> None:
    cache.clear()  # similar-book answers cached per version still hold the old names
    map_data.forget_payloads()
    snapshot.holder.forget()  # so does the catalogue snapshot: update() sends no signal


@pytest.fixture
def hostile_book(committed_catalogue):
    """The book nearest to Watership Down gets HTML and script in its title, author and genre, a link it shares with
    Watership Down in its name, and a failed run names it in its error; all committed, and put back after the test.
    No surrounding transaction (committed_catalogue): the writes on their own connection need SQLite's write lock,
    and the test's own later reads (the map's payload, built in this process) must see them, as a SQLite
    transaction's snapshot would not."""
    neighbour = Book.objects.get(title="Watership Down")
    answer = Client().get(f"/api/books/{neighbour.pk}/similar/?k=5").json()["results"]
    first = next(r for r in answer if r["shared_links"])
    book = Book.objects.get(pk=first["id"])
    link = Link.objects.get(name=first["shared_links"][0])
    others = list(Book.objects.filter(has_links=True).exclude(pk=book.pk).order_by("pk")[: GENRE_BOOKS - 1])
    saved = {"book": Book.objects.get(pk=book.pk), "link_name": link.name, "genres": [(b.pk, b.genre) for b in others]}
    curve = committed_catalogue.run.curve
    assert curve, "the trained run stored no loss curve"

    def make_hostile() -> TrainingRun:
        Book.objects.filter(pk=book.pk).update(
            title=HOSTILE_TITLE,
            author=HOSTILE_AUTHOR,
            genre=HOSTILE_GENRE,
            infobox={},  # the page then shows the columns, as imported
            search_text=search_key(HOSTILE_TITLE, HOSTILE_AUTHOR),
            title_key=search_key(HOSTILE_TITLE),
        )
        Book.objects.filter(pk__in=[pk for pk, _ in saved["genres"]]).update(genre=HOSTILE_GENRE)
        Link.objects.filter(pk=link.pk).update(name=HOSTILE_LINK)
        return TrainingRun.objects.create(
            status=RunStatus.FAILED,
            slot=None,
            error=f"could not read {HOSTILE_TITLE}",
            curve=curve,
            finished_at=timezone.now(),
        )

    def restore() -> None:
        old = saved["book"]
        Book.objects.filter(pk=old.pk).update(
            title=old.title,
            author=old.author,
            genre=old.genre,
            infobox=old.infobox,
            search_text=old.search_text,
            title_key=old.title_key,
        )
        for pk, genre in saved["genres"]:
            Book.objects.filter(pk=pk).update(genre=genre)
        Link.objects.filter(pk=link.pk).update(name=saved["link_name"])
        TrainingRun.objects.filter(pk=failed.pk).delete()

    failed = on_own_connection(make_hostile)
    forget_answers()
    try:
        yield {"book": book, "neighbour": neighbour, "link": link, "run": failed}
    finally:
        on_own_connection(restore)
        forget_answers()


def assert_nothing_injected(page) -> None:
    for frame in page.frames:
        assert frame.evaluate(FIND_INJECTED, INJECTED) == [], frame.url


def test_a_hostile_book_is_shown_as_text_everywhere(page, site, other_origin, staff_user, hostile_book):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    book, neighbour, link = hostile_book["book"], hostile_book["neighbour"], hostile_book["link"]

    page.goto(f"{site}/books/{book.pk}/")
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    assert page.title().startswith(HOSTILE_TITLE)
    assert page.locator(".byline").inner_text() == f"by {HOSTILE_AUTHOR}"
    assert HOSTILE_GENRE in page.locator(".infobox dd").all_inner_texts()
    assert HOSTILE_LINK in page.locator(".links a").all_inner_texts()
    assert_nothing_injected(page)

    page.goto(f"{site}/books/{neighbour.pk}/")  # among the similar books, explained by the hostile link
    assert HOSTILE_TITLE in page.locator(".results .result-title").all_inner_texts()
    assert HOSTILE_LINK in page.locator(".results .shared a").all_inner_texts()
    assert_nothing_injected(page)
    page.goto(f"{site}/links/{link.pk}/")
    assert page.locator("h1").inner_text() == HOSTILE_LINK
    assert_nothing_injected(page)

    page.goto(f"{site}/")  # the autocomplete
    page.locator("#home-q").type("zyxq", delay=10)
    option = page.locator("#home-q-list [role=option]").first
    option.wait_for()
    assert option.locator(".option-title").inner_text() == HOSTILE_TITLE
    assert option.locator(".option-author").inner_text() == HOSTILE_AUTHOR
    assert_nothing_injected(page)
    page.goto(f"{site}/for-me/?like={book.pk}")
    assert page.locator(".picked a").first.inner_text() == HOSTILE_TITLE
    assert_nothing_injected(page)

    page.goto(f"{site}/widget/books/{neighbour.pk}/?k=5")  # the iframe widget's cards
    assert HOSTILE_TITLE in page.locator(".rw-title").all_inner_texts()
    page.goto(f"{site}/widget/books/{book.pk}/?k=5")
    assert page.locator(".rw-head a").inner_text() == HOSTILE_TITLE
    assert_nothing_injected(page)
    origin, root = other_origin  # widget.js on another site, naming the hostile book by its title
    (root / "hostile.html").write_text(
        f"""<!doctype html><html><head><meta charset="utf-8"><title>Host</title></head><body>
<div id="by-title" data-book-recommendations="{html.escape(HOSTILE_TITLE)}" data-k="3"></div>
<div id="by-id" data-book-recommendations="{neighbour.pk}" data-k="5"></div>
<script src="{site}/static/widget.js" async></script></body></html>"""
    )
    page.goto(f"{origin}/hostile.html")
    page.locator("#by-id a.card").first.wait_for()
    page.locator("#by-title a.card").first.wait_for()
    assert page.locator("#by-title .head").inner_text() == f"Books like {HOSTILE_TITLE}"
    assert HOSTILE_TITLE in page.locator("#by-id .title").all_inner_texts()
    assert_nothing_injected(page)

    x, y, (x0, x1, _, _) = coordinates(book)  # the map: hover, side panel, legend
    half = (x1 - x0) / 400  # so close that the book is the only point under the cursor
    page.goto(f"{site}/map/?book={book.pk}&colour=genre&x0={x - half}&x1={x + half}&y0={y - half}&y1={y + half}")
    page.wait_for_selector("#map-plot[data-ready=true]")
    wait_in_page(page, "document.getElementById('map-plot').dataset.neighbours > 0")
    panel = page.locator("#map-panel")
    assert panel.locator("h2").inner_text() == HOSTILE_TITLE
    assert panel.locator(".byline").inner_text() == f"by {HOSTILE_AUTHOR}"
    assert HOSTILE_GENRE in panel.locator("p.muted").all_inner_texts()
    label = map_data.genre_parts(HOSTILE_GENRE)[0]
    assert any(text.startswith(f"{label} (") for text in page.locator(".legendtext").all_text_contents())
    plot = page.locator("#map-plot .nsewdrag").bounding_box()
    page.mouse.move(plot["x"] + plot["width"] / 2, plot["y"] + plot["height"] / 2)
    page.wait_for_selector("#map-tooltip:not([hidden])")
    assert page.locator("#map-tooltip strong").inner_text() == HOSTILE_TITLE
    assert page.locator("#map-tooltip span").all_inner_texts() == [HOSTILE_AUTHOR, HOSTILE_GENRE]
    assert_nothing_injected(page)
    page.goto(f"{site}/map/?book={neighbour.pk}")
    wait_in_page(page, "document.getElementById('map-plot').dataset.neighbours > 0")
    assert HOSTILE_TITLE in panel.locator(".map-neighbours a").all_inner_texts()
    assert any(HOSTILE_LINK in text for text in panel.locator(".map-shared").all_inner_texts())
    assert_nothing_injected(page)

    log_in(page, site, staff_user)  # /training/: the runs table, a run's page with its loss curve, the versions
    assert HOSTILE_TITLE in page.locator("table.data").last.inner_text()
    page.goto(f"{site}/training/runs/{hostile_book['run'].pk}/curve/")
    page.wait_for_selector(".run-curve:not([hidden]) .main-svg")
    wait_in_page(page, "document.querySelector('.run-status').textContent.includes('could not read')")
    assert HOSTILE_TITLE in page.locator(".run-status").inner_text()
    assert page.locator("pre.error-text").inner_text() == f"could not read {HOSTILE_TITLE}"
    assert_nothing_injected(page)
    page.goto(f"{site}/training/versions/")  # (its comparisons need two versions: test_librarian_versions.py)
    page.locator("details.downloads summary").first.click()  # Projector files: downloads, never rendered
    metadata = page.locator("details.downloads a", has_text="metadata.tsv").first
    with page.expect_download() as download:
        metadata.click()
    rows = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert any(row.startswith(f"{HOSTILE_TITLE}\t{HOSTILE_AUTHOR}\t{HOSTILE_GENRE}") for row in rows)
    response = page.request.get(site + metadata.get_attribute("href"))
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-type"].startswith("text/tab-separated-values")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert urlparse(page.url).path == "/training/versions/"
    assert not dialogs
