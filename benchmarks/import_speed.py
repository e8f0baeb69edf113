"""Import speed into SQLite and PostgreSQL, side by side.

Imports (1) goodbooks-10k (605,093 book_tags rows) and (2) a generated ndjson with the full public set's
counts (37,020 books, 41,758 links, 772,798 pairs) into a fresh database of each kind, each in its own
`manage.py` process as a user would run it, and prints seconds and rows/s. Target: the full set in <= 60 s.

    .venv/bin/python benchmarks/import_speed.py [--pg postgres://postgres@127.0.0.1:5432] [--skip-goodbooks]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOODBOOKS = ROOT.parent / "shared" / "data" / "goodbooks"
FULL_BOOKS, FULL_LINKS, FULL_PAIRS = 37_020, 41_758, 772_798
TARGET_SECONDS = 60


def write_full_scale_ndjson(path: Path, seed: int = 0) -> int:
    """Books with Zipf-like link popularity, every link used, exactly FULL_PAIRS distinct pairs."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, FULL_LINKS + 1) ** 0.8
    popularity /= popularity.sum()
    sizes = rng.multinomial(FULL_PAIRS - FULL_LINKS, np.full(FULL_BOOKS, 1 / FULL_BOOKS))
    book_of_pair = np.repeat(np.arange(FULL_BOOKS), sizes)
    link_of_pair = rng.choice(FULL_LINKS, size=len(book_of_pair), p=popularity)
    # one pair per link guarantees the vocabulary, then duplicates are topped up until the count is exact
    pairs = {(int(book), int(link)) for book, link in zip(book_of_pair, link_of_pair, strict=True)}
    pairs.update((int(rng.integers(FULL_BOOKS)), link) for link in range(FULL_LINKS))
    while len(pairs) < FULL_PAIRS:
        pairs.add((int(rng.integers(FULL_BOOKS)), int(rng.choice(FULL_LINKS, p=popularity))))
    while len(pairs) > FULL_PAIRS:
        pairs.pop()
    links_of: dict[int, list[str]] = {}
    for book, link in pairs:
        links_of.setdefault(book, []).append(f"Link {link}")
    with open(path, "w") as out:
        for book in range(FULL_BOOKS):
            infobox = {"author": f"Author {book % 9000}", "genre": "Novel", "country": "United Kingdom"}
            out.write(json.dumps([f"Book {book}", infobox, links_of.get(book, []), [], "2018-09-01T00:00:00Z", 1000]))
            out.write("\n")
    return len(pairs)


def run_manage(database_url: str, *args: str) -> float:
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1"}
    env.pop("REDIS_URL", None)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def fresh_databases(pg_base: str, tmp: Path, name: str) -> dict[str, str]:
    urls = {"sqlite": f"sqlite:///{tmp / (name + '.sqlite3')}"}
    if pg_base:
        import psycopg

        with psycopg.connect(pg_base + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS bench_{name}")
            conn.execute(f"CREATE DATABASE bench_{name}")
        urls["postgresql"] = f"{pg_base}/bench_{name}"
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL ('' skips)")
    parser.add_argument("--skip-goodbooks", action="store_true")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        full = tmp / "full_scale.ndjson"
        print(f"generating {full.name}: {FULL_BOOKS} books, {FULL_LINKS} links ...", flush=True)
        pairs = write_full_scale_ndjson(full)
        jobs = [("full", ["import_books", str(full)], pairs, "pairs")]
        if not options.skip_goodbooks:
            jobs.insert(0, ("goodbooks", ["import_goodbooks", str(GOODBOOKS)], 605_093, "book_tags rows"))

        print(f"\n{'data':<10} {'database':<11} {'rows':>9} {'seconds':>8} {'rows/s':>9} {'re-run s':>9}")
        worst_full = 0.0
        for name, command, rows, unit in jobs:
            for vendor, url in fresh_databases(options.pg, tmp, name).items():
                run_manage(url, "migrate", "-v0")
                seconds = run_manage(url, *command)
                rerun = run_manage(url, *command)  # idempotent re-run: everything unchanged
                print(
                    f"{name:<10} {vendor:<11} {rows:>9} {seconds:>8.1f} {rows / seconds:>9.0f} {rerun:>9.1f}"
                    f"   ({unit})",
                    flush=True,
                )
                if name == "full":
                    worst_full = max(worst_full, seconds)
        verdict = "meets" if worst_full <= TARGET_SECONDS else "MISSES"
        print(f"\nfull set: slowest database {worst_full:.1f} s, {verdict} the {TARGET_SECONDS} s target")


if __name__ == "__main__":
    main()
