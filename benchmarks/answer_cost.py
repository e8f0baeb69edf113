"""CPU cost of building one uncached API answer in a web process, without HTTP: what the WSGI fast path spends per
`similar` and `recommend` request (recommender/api/fast_path.py), answer and JSON, from memory only.

On the active version of the configured ARTIFACTS_DIR and DATABASE_URL (the catalogue snapshot is built from the
database first, then no query is made): `similar` of random books with the default k, `recommend` of 1-5 random
liked books (as benchmarks/serve_load.py sends). 300 answers of warm-up first (not measured), then the best of
7 rounds of 1,000 answers each, one thread. A diagnostic for serve_load's figures: it has no target of its own.

    DATABASE_URL=... ARTIFACTS_DIR=... .venv/bin/python benchmarks/answer_cost.py
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

from embeddings.search import one_blas_thread  # noqa: E402
from embeddings.serving import get_active  # noqa: E402
from recommender import recommendations  # noqa: E402
from recommender.api import answers  # noqa: E402
from recommender.catalogue.snapshot import holder  # noqa: E402

WARM_UP, ROUNDS, PER_ROUND = 300, 7, 1000


def main() -> None:
    one_blas_thread()  # as a web process (recommender/wsgi.py)
    version = get_active(settings.ARTIFACTS_DIR)
    if version is None:
        sys.exit(f"no active version in {settings.ARTIFACTS_DIR}")
    if holder.wait_until_built(version, timeout=300) is None:
        sys.exit("the catalogue snapshot was not built")
    ids = np.load(version.folder / "book_ids.npy")
    rng = np.random.default_rng(0)
    books = rng.choice(ids, WARM_UP + PER_ROUND).tolist()
    bodies = [
        json.dumps({"liked": rng.choice(ids, rng.integers(1, 6), replace=False).tolist(), "k": 10}).encode()
        for _ in range(WARM_UP + PER_ROUND)
    ]
    kinds = {
        "similar": (books, lambda book: answers.similar_books(book, None)),
        "recommend": (bodies, answers.recommend),
    }
    print(f"version {version.version_id}: {len(ids):,} books; best of {ROUNDS} x {PER_ROUND:,} answers, one thread")
    for kind, (inputs, answer) in kinds.items():
        with recommendations.memory_only():  # as the fast path: a database trip would raise
            for value in inputs[:WARM_UP]:
                answers.encode(answer(value))
            best = float("inf")
            for _ in range(ROUNDS):
                started = time.perf_counter()
                for value in inputs[WARM_UP:]:
                    answers.encode(answer(value))
                best = min(best, (time.perf_counter() - started) / PER_ROUND)
        print(f"{kind:<10} {best * 1000:.3f} ms an answer (answer and JSON)")


if __name__ == "__main__":
    main()
