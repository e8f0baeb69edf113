"""Celery tasks of the catalogue: one Wikipedia dump file parsed per task, so that workers on several
machines sharing the output directory parse a whole dump in parallel (queued by `queue_wikipedia_dump`)."""

import os
import time
from pathlib import Path

from celery import shared_task

from recommender.catalogue.wikidump.files import parse_file

PROGRESS_SECONDS = 1.0  # how often a running task publishes its position


@shared_task(bind=True, name="catalogue.parse_wikipedia_dump")
def parse_wikipedia_dump_file(self, source: str, out_dir: str) -> dict:
    """Parse SOURCE into OUT_DIR/<name>.ndjson (skipped when complete); progress as the PROGRESS state.

    A damaged file fails the task with DumpError's message and leaves nothing in OUT_DIR.
    """
    total = os.path.getsize(source)
    last = 0.0

    def report(position: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_SECONDS:
            last = now
            self.update_state(state="PROGRESS", meta={"source": source, "position": position, "total": total})

    return parse_file(Path(source), Path(out_dir), report).as_dict()
