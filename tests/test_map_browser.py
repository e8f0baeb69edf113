"""The map in a real headless Chromium over the trained sample: it draws before its names arrive, search highlights
and zooms, a click opens the neighbour panel with lines, and the URL restores a view. Screenshots go to /tmp/shots/
(map-*.png)."""

import base64
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from recommender.catalogue.models import Book
from tests.browser import coordinates, shot, wait_in_page

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

READY = "#map-plot[data-ready=true]"
NAMED = "#map-plot[data-names=true]"
COUNT_INK = """async (png) => {
  const image = new Image();
  image.src = "data:image/png;base64," + png;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, image.width, image.height).data;
  const colours = new Set();
  let ink = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i] < 235 || pixels[i + 1] < 235 || pixels[i + 2] < 235) ink += 1;
    colours.add((pixels[i] >> 4) * 256 + (pixels[i + 1] >> 4) * 16 + (pixels[i + 2] >> 4));
  }
  return { ink, colours: colours.size };
}"""
TRACES = "() => document.getElementById('map-plot').data.map(t => ({name: t.name, n: t.x.length}))"
RANGES = "() => { const l = document.getElementById('map-plot').layout; return [...l.xaxis.range, ...l.yaxis.range]; }"


def ink(page) -> dict:
    """Ink and colours in the right 60% of the plot area (the legend sits at the left)."""
    box = page.locator("#map-plot .nsewdrag").bounding_box()
    clip = {"x": box["x"] + 0.4 * box["width"], "y": box["y"], "width": 0.6 * box["width"], "height": box["height"]}
    png = base64.b64encode(page.screenshot(clip=clip)).decode()
    return page.evaluate(COUNT_INK, png)


def test_map_draws_every_book_coloured_and_links_too(page, site, trained_catalogue):
    page.goto(site + "/map/")
    page.wait_for_selector(READY)
    traces = page.evaluate(TRACES)
    groups = [t for t in traces if "(" in t["name"]]
    assert sum(t["n"] for t in groups) == trained_catalogue.n_books
    assert any(t["name"].startswith("other (") for t in groups)
    drawn = ink(page)
    assert drawn["ink"] > 2000 and drawn["colours"] > 8  # points in many colours, not a blank canvas
    assert page.locator(".legendtext").count() == len(groups)
    shot(page, "map-books", full_page=False)
    page.select_option("#map-colour", "country")
    assert "colour=country" in page.url
    page.goto(site + "/map/links/")
    page.wait_for_selector(READY)
    links = [t for t in page.evaluate(TRACES) if "(" in t["name"]]
    assert sum(t["n"] for t in links) == trained_catalogue.n_links
    shot(page, "map-links", full_page=False)


def test_search_highlights_matches_and_zooms_to_the_chosen_book(page, site, trained_catalogue):
    book = Book.objects.get(title="Watership Down")
    page.goto(site + "/map/")
    page.wait_for_selector(READY)
    full = page.evaluate(RANGES)
    page.locator("#map-q").click()
    page.keyboard.type("watership", delay=20)
    wait_in_page(page, "document.getElementById('map-count').textContent.includes('highlighted')")
    assert page.locator("#map-count").inner_text() == "1 match highlighted"
    matches = next(t for t in page.evaluate(TRACES) if t["name"] == "matches")
    assert matches["n"] == 1
    page.locator("#map-q-list [role=option]").first.wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    wait_in_page(page, "document.getElementById('map-plot').dataset.neighbours > 0")
    assert urlparse(page.url).path == "/map/" and parse_qs(urlparse(page.url).query)["book"] == [str(book.pk)]
    zoomed = page.evaluate(RANGES)
    assert (zoomed[1] - zoomed[0]) < 0.2 * (full[1] - full[0])
    x, y, _ = coordinates(book)
    assert zoomed[0] < x < zoomed[1] and zoomed[2] < y < zoomed[3]
    assert page.locator("#map-panel h2").inner_text() == "Watership Down"
    shot(page, "map-search", full_page=False)


def test_click_opens_the_neighbour_panel_with_lines(page, site, trained_catalogue):
    book = Book.objects.get(title="Space Cadet")
    x, y, (x0, x1, _, _) = coordinates(book)
    half = (x1 - x0) / 400  # so close that the book is the only point under the cursor
    page.goto(f"{site}/map/?x0={x - half}&x1={x + half}&y0={y - half}&y1={y + half}")
    page.wait_for_selector(NAMED)
    box = page.locator("#map-plot .nsewdrag").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#map-tooltip:not([hidden])")
    assert page.locator("#map-tooltip strong").inner_text() == "Space Cadet"
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_in_page(page, "document.getElementById('map-plot').dataset.neighbours > 0")
    panel = page.locator("#map-panel")
    assert panel.locator("h2").inner_text() == "Space Cadet"
    items = panel.locator(".map-neighbours li")
    assert items.count() == 10
    assert panel.locator("a", has_text="Open the book page").get_attribute("href") == f"/books/{book.pk}/"
    traces = {t["name"]: t["n"] for t in page.evaluate(TRACES)}
    on_map = int(page.locator("#map-plot").get_attribute("data-neighbours"))
    assert traces["neighbour lines"] == 3 * on_map  # from, to, gap for each
    assert traces["neighbours"] + traces["far on the map"] == on_map
    assert traces["chosen"] == 1
    assert page.locator("#map-panel .map-badge--far").count() == traces["far on the map"]
    shot(page, "map-click", full_page=False)


def test_url_state_restores_book_colouring_and_zoom(page, site, trained_catalogue):
    book = Book.objects.get(title="Red Planet (novel)")
    x, y, _ = coordinates(book)
    view = [x - 0.5, x + 0.5, y - 0.4, y + 0.4]
    query = f"book={book.pk}&colour=author&x0={view[0]}&x1={view[1]}&y0={view[2]}&y1={view[3]}"
    page.goto(f"{site}/map/?{query}")
    page.wait_for_selector(READY)
    wait_in_page(page, "document.getElementById('map-plot').dataset.neighbours > 0")
    assert page.locator("#map-colour").input_value() == "author"
    assert page.locator("#map-panel h2").inner_text() == "Red Planet (novel)"
    assert np.allclose(page.evaluate(RANGES), view, atol=1e-4)
    restored = parse_qs(urlparse(page.url).query)
    assert restored["book"] == [str(book.pk)] and restored["colour"] == ["author"]
    assert np.allclose([float(restored[k][0]) for k in ("x0", "x1", "y0", "y1")], view, atol=1e-4)


def test_the_map_draws_before_its_names_arrive_and_hover_waits_for_them(page, site, trained_catalogue):
    book = Book.objects.get(title="Space Cadet")
    x, y, (x0, x1, _, _) = coordinates(book)
    half = (x1 - x0) / 400
    held = []  # the names' request, answered only when the test says so
    page.route("**/map/data/books-names.json*", lambda route: held.append(route))
    page.goto(f"{site}/map/?x0={x - half}&x1={x + half}&y0={y - half}&y1={y + half}")
    page.wait_for_selector(READY)  # drawn while the names are held back
    wait_in_page(page, "document.getElementById('map-count').textContent.includes('books')")
    while not held:
        page.wait_for_timeout(50)
    assert page.locator(NAMED).count() == 0
    box = page.locator("#map-plot .nsewdrag").bounding_box()
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*centre)
    page.wait_for_selector("#map-tooltip:not([hidden])")
    assert page.locator("#map-tooltip strong").inner_text() == "Loading names…"
    page.mouse.click(*centre)  # the panel waits for the names, then shows the book
    page.wait_for_timeout(300)
    assert page.locator("#map-panel h2").count() == 0
    held[0].continue_()
    page.wait_for_selector(NAMED)
    wait_in_page(page, "document.getElementById('map-plot').dataset.neighbours > 0")
    assert page.locator("#map-panel h2").inner_text() == "Space Cadet"  # hover, once named: the click test
    assert len(held) == 1  # fetched once
