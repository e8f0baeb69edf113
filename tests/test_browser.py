"""End to end in a real headless Chromium: autocomplete by keyboard, the book page, "For me", the widget on another
origin and in an iframe, the empty state. Screenshots of each page go to /tmp/shots/ for a human look.

Needs Debian's chromium (/usr/bin/chromium) and Python Playwright (playwright==1.65.2, no downloaded browsers).
The site runs in a module-scoped live server over the committed trained_catalogue, so the import and the training
happen once for the module; requests for anything but the two local origins (cover images) are refused.
"""

import pytest

from recommender.catalogue.models import Book
from recommender.front import pages
from recommender.widget import WIDGET_DEFAULT_K, WIDGET_MAX_K
from tests.browser import shot

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
