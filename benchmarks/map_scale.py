"""The map at the full set's scale: projection time and memory, the map data's size, the first render in Chromium.

A generated version with the full public set's counts (37,020 books x 41,758 links, 256 dimensions like the default
model): vectors are a stand-in with cluster structure (unit vectors around 400 topic centres, Zipf-sized, so UMAP
has neighbourhoods to find, as in a trained model), and a catalogue whose titles, authors, genres and countries are
recombined from the Wikipedia sample's own (16,059 authors, 4,622 genre strings and 635 countries, the full set's
counts) so the payload has realistic text. Measured:

1. UMAP (embeddings.projection.project, the worker's code) of the books, then the links, each case in a fresh
   process: with an empty numba cache (cold: every kernel compiled) and again with the cache it left (warm). Peak
   memory is the process's maximum RSS (the umap import, which pulls in TensorFlow, included; printed apart).
   CPU seconds are printed beside wall seconds: on a shared machine they say more than the wall clock.
2. The map data of the books and of the links (recommender.map.map_data.payload): bytes raw and gzipped of the
   points (all the first render loads) and of the names (fetched after it).
3. /map/ under `manage.py runserver` on a SQLite catalogue: ms from navigation start until the scatter has been
   drawn (map.js's performance mark "map:drawn", set when plotly's newPlot resolved), in fresh headless Chromium
   contexts (no cache), after one warm-up visit that builds the server's per-version data; median of --renders
   visits. Also printed: when the page was complete as Playwright saw it (legend drawn, plus Playwright's own
   polling and round trip) and when the names had arrived.

Targets: books <= 60 s, books + links <= 120 s (warm cache), peak memory <= 1.5 GB, first render's data <= 400 KB
gzipped, first render <= 2 s.

    flock /tmp/bench.lock .venv/bin/python benchmarks/map_scale.py [--books 37020 --links 41758] [--renders 3]
"""

import argparse
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the project is importable
SAMPLE = ROOT.parent / "shared" / "data" / "wikipedia"
TARGETS = {"books_s": 60.0, "both_s": 120.0, "peak_gb": 1.5, "gzip_kb": 400.0, "render_s": 2.0}
DIM = 256
TOPICS = 400

PROJECT = """
import json, resource, sys, time
import numpy as np
from embeddings.projection import project, use_numba_cache
use_numba_cache(sys.argv[1])
started = time.perf_counter()
import umap  # noqa: F401
from embeddings.projection import faithfulness
import_seconds = time.perf_counter() - started
after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
times, cpu, faithful = {}, {}, {}
for kind in ("book", "link"):
    vectors = np.load(f"{sys.argv[2]}/{kind}_vectors.npy")
    started, cpu_started = time.perf_counter(), time.process_time()
    coords = project(vectors, seed=42)
    times[kind], cpu[kind] = time.perf_counter() - started, time.process_time() - cpu_started
    np.save(f"{sys.argv[2]}/map_{kind}s.npy", coords)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before faithfulness's own (n, 512) blocks
for kind in ("book", "link"):
    vectors = np.load(f"{sys.argv[2]}/{kind}_vectors.npy")
    faithful[kind] = faithfulness(vectors, np.load(f"{sys.argv[2]}/map_{kind}s.npy"), seed=42)
print(json.dumps({"import_s": import_seconds, "books_s": times["book"], "links_s": times["link"],
                  "books_cpu_s": cpu["book"], "links_cpu_s": cpu["link"], "faithfulness": faithful,
                  "rss_after_import_mb": after_import, "peak_mb": peak}))
"""


def clustered_vectors(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    sizes = 1.0 / np.arange(1, len(centres) + 1) ** 0.8
    topic = rng.choice(len(centres), size=n, p=sizes / sizes.sum())
    vectors = centres[topic] + rng.normal(scale=0.55, size=(n, centres.shape[1])).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def sample_fields() -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {"title": [], "author": [], "genre": [], "country": []}
    for path in sorted(SAMPLE.glob("*.ndjson")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            fields["title"].append(record[0])
            for key in ("author", "genre", "country"):
                value = record[1].get(key, "") if isinstance(record[1], dict) else ""
                if value and "[" not in value and "{" not in value and len(value) < 80:
                    fields[key].append(value)
    return fields


def recombined(pool: list[str], n_distinct: int, rng: np.random.Generator, joiner: str = " ") -> list[str]:
    """n_distinct values: the pool's own distinct values, then recombinations of their words."""
    values = list(dict.fromkeys(pool))[:n_distinct]
    seen = set(values)
    words = [value.split() for value in pool]
    while len(values) < n_distinct:
        a, b = words[rng.integers(len(words))], words[rng.integers(len(words))]
        value = joiner.join([*a[: max(1, len(a) // 2)], *b[len(b) // 2 :]])
        if value not in seen:
            seen.add(value)
            values.append(value)
    return values


def zipf_pick(values: list[str], n: int, rng: np.random.Generator, power: float = 1.0) -> list[str]:
    weights = 1.0 / np.arange(1, len(values) + 1) ** power
    return [values[i] for i in rng.choice(len(values), size=n, p=weights / weights.sum())]


def write_catalogue(env: dict, n_books: int, n_links: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Books and links in the benchmark's SQLite database; returns their ids (ascending, as in a version)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )
    import django

    os.environ.update(env)
    django.setup()
    from recommender.catalogue.models import Book, Link

    fields = sample_fields()
    titles = recombined(fields["title"], n_books, rng)
    authors = zipf_pick(recombined(fields["author"], 16059, rng), n_books, rng, power=0.6)
    genres = zipf_pick(recombined(fields["genre"], 4622, rng, joiner=", "), n_books, rng)
    countries = zipf_pick(recombined(fields["country"], 635, rng), n_books, rng, power=1.5)
    Book.objects.bulk_create(
        [
            Book(title=t, author=a, genre=g, country=c, title_key=t.lower()[:500])
            for t, a, g, c in zip(titles, authors, genres, countries, strict=True)
        ],
        batch_size=2000,
    )
    link_names = recombined([name.lower() for name in fields["title"] + fields["author"]], n_links, rng)
    counts = np.maximum(2, (rng.pareto(1.2, size=n_links) * 3).astype(int))
    Link.objects.bulk_create(
        [Link(name=name[:500], book_count=int(c)) for name, c in zip(link_names, counts, strict=True)], batch_size=2000
    )
    book_ids = np.array(sorted(Book.objects.values_list("id", flat=True)), dtype=np.int64)
    link_ids = np.array(sorted(Link.objects.values_list("id", flat=True)), dtype=np.int64)
    return book_ids, link_ids


def project_in_fresh_process(cache: Path, folder: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROJECT, str(cache), str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


MARKS = """() => Object.fromEntries(performance.getEntriesByType("mark").map((m) => [m.name, m.startTime / 1000]))"""


def render_times(env: dict, visits: int) -> tuple[float, list[dict]]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**env, "ALLOWED_HOSTS": "127.0.0.1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/map/"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        times = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for visit in range(visits + 1):  # the first visit is the warm-up
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.goto(url)
                page.wait_for_selector("#map-plot[data-ready=true]", timeout=120_000)
                seen = page.evaluate("performance.now()") / 1000
                page.wait_for_selector("#map-plot[data-names=true]", timeout=120_000)
                marks = page.evaluate(MARKS)
                if visit == 0:
                    warm_up = seen
                    page.screenshot(path="/tmp/map_scale.png")
                else:
                    times.append({"drawn": marks["map:drawn"], "seen": seen, "names": marks["map:names"]})
                context.close()
            browser.close()
        return warm_up, times
    finally:
        server.terminate()
        server.wait(timeout=30)


def verdict(ok: bool) -> str:
    return "MEETS " if ok else "MISSES"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--books", type=int, default=37020)
    parser.add_argument("--links", type=int, default=41758)
    parser.add_argument("--renders", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="map-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    artifacts = work / "artifacts"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "recommender.settings",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "ARTIFACTS_DIR": str(artifacts),
        "VAR_DIR": str(work / "var"),
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "map-scale-benchmark-only"),
    }
    env.pop("REDIS_URL", None)
    try:
        print(f"catalogue: {args.books:,} books x {args.links:,} links, {DIM}-d clustered stand-in vectors")
        print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        book_ids, link_ids = write_catalogue(env, args.books, args.links, rng)
        from embeddings import versions

        version_id = "20260101-000000-mapscl"
        folder = versions.version_path(artifacts, version_id)
        folder.mkdir(parents=True)
        centres = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        np.save(folder / "book_vectors.npy", clustered_vectors(len(book_ids), rng, centres))
        np.save(folder / "link_vectors.npy", clustered_vectors(len(link_ids), rng, centres))
        np.save(folder / "book_ids.npy", book_ids)
        np.save(folder / "link_ids.npy", link_ids)

        cache = work / "numba-cache"
        print("\n1. projection (UMAP, cosine, n_neighbors 15, min_dist 0.1), each case in a fresh process")
        runs = {"cold": project_in_fresh_process(cache, folder), "warm": project_in_fresh_process(cache, folder)}
        print(
            f"  {'numba cache':<12} {'umap import':>11} {'books':>8} {'links':>8} {'both':>8} "
            f"{'CPU books':>10} {'CPU links':>10} {'peak RSS':>9}"
        )
        for name, run in runs.items():
            run["both_s"] = run["books_s"] + run["links_s"]
            print(
                f"  {name:<12} {run['import_s']:>10.1f}s {run['books_s']:>7.1f}s {run['links_s']:>7.1f}s "
                f"{run['both_s']:>7.1f}s {run['books_cpu_s']:>9.1f}s {run['links_cpu_s']:>9.1f}s "
                f"{run['peak_mb']:>6.0f} MB (after import {run['rss_after_import_mb']:.0f})"
            )
        cold, warm = runs["cold"], runs["warm"]
        print(f"  warm cache saves {cold['both_s'] - warm['both_s']:.1f} s ({cold['both_s'] / warm['both_s']:.2f}x)")
        score = warm["faithfulness"]["book"]
        print(f"  faithfulness@10 (2,000 sampled points): books {score:.3f}, links {warm['faithfulness']['link']:.3f}")
        versions.write_json(folder / "metrics.json", {})
        versions.write_json(
            folder / "map.json", {"books": {"points": len(book_ids), "faithfulness@10": score}, "links": {}}
        )
        versions.activate(artifacts, version_id)

        from recommender.map import map_data

        print("\n2. map data (recommender/map/map_data.py): the points load first, the names after the first render")
        sizes = {}
        for kind in ("book", "link"):
            started = time.perf_counter()
            map_data.payload(kind)
            built = time.perf_counter() - started
            for part in map_data.PARTS:
                data = map_data.payload(kind, part=part)
                sizes[kind, part] = len(data.gzipped) / 1000
                document = json.loads(data.raw)
                parts = {key: len(json.dumps(value, separators=(",", ":"))) for key, value in document.items()}
                biggest = sorted(parts.items(), key=lambda item: -item[1])[:4]
                parts_gz = ", ".join(
                    f"{key} {len(gzip.compress(json.dumps(document[key], separators=(',', ':')).encode())) / 1000:.0f}"
                    for key, _ in biggest
                )
                print(
                    f"  {kind}s, {part:<6}: {len(data.raw) / 1000:>5,.0f} KB raw, "
                    f"{sizes[kind, part]:>4,.0f} KB gzipped ({len(data.raw) / len(data.gzipped):.1f}x); "
                    f"gzipped alone: {parts_gz} KB"
                )
            print(f"  {kind}s: both parts built in {built:.1f} s")

        print(f"\n3. first render of /map/ ({args.books:,} books) in headless Chromium (software WebGL)")
        warm_up, visits = render_times(env, args.renders)
        render = statistics.median(visit["drawn"] for visit in visits)
        print(f"  warm-up visit (the new server builds the data once): {warm_up:.2f} s")
        for key, what in (
            ("drawn", "points drawn (map:drawn)"),
            ("seen", "complete as Playwright saw it"),
            ("names", "names arrived (map:names)"),
        ):
            each = [visit[key] for visit in visits]
            print(f"  {what:<30} {', '.join(f'{t:.2f}' for t in each)} s; median {statistics.median(each):.2f} s")

        print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("verdicts")
        peak_gb = max(cold["peak_mb"], warm["peak_mb"]) / 1024
        print(
            f"{verdict(warm['books_s'] <= TARGETS['books_s'])} books projection <= 60 s: {warm['books_s']:.1f} s warm "
            f"({cold['books_s']:.1f} s cold)"
        )
        print(
            f"{verdict(warm['both_s'] <= TARGETS['both_s'])} books + links <= 120 s: {warm['both_s']:.1f} s warm "
            f"({cold['both_s']:.1f} s cold)"
        )
        print(f"{verdict(peak_gb <= TARGETS['peak_gb'])} peak memory <= 1.5 GB: {peak_gb:.2f} GB")
        first = sizes["book", "points"]
        print(
            f"{verdict(first <= TARGETS['gzip_kb'])} book map data for the first render <= 400 KB gzipped: "
            f"{first:.0f} KB (links: {sizes['link', 'points']:.0f} KB; names after it: books "
            f"{sizes['book', 'names']:.0f} KB, links {sizes['link', 'names']:.0f} KB)"
        )
        print(f"{verdict(render <= TARGETS['render_s'])} first render <= 2 s: {render:.2f} s")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
