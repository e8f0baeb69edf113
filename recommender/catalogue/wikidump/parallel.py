"""Parse many dump files over several processes, one file per process at a time, a progress bar each."""

import multiprocessing
import os
import queue
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from recommender.catalogue.wikidump.files import FileResult, output_path, parse_file
from recommender.catalogue.wikidump.reader import DumpError

REPORT_SECONDS = 0.25  # how often a worker process sends its position to the bars


@dataclass
class FileFailure:
    source: str
    error: str


_progress_queue: "multiprocessing.Queue | None" = None


def _init_worker(progress_queue: "multiprocessing.Queue") -> None:
    global _progress_queue
    _progress_queue = progress_queue


def _parse_reporting(index: int, source: str, out_dir: str, thread: bool) -> FileResult:
    last = 0.0

    def report(position: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= REPORT_SECONDS and _progress_queue is not None:
            last = now
            _progress_queue.put((index, position))

    return parse_file(Path(source), Path(out_dir), report, thread)


def _bar(source: Path, position: int, show: bool) -> tqdm:
    return tqdm(
        total=source.stat().st_size,
        unit="B",
        unit_scale=True,
        desc=source.name[-40:],
        position=position,
        leave=True,
        disable=not show,
    )


def parse_files(
    sources: Sequence[Path], out_dir: Path, processes: int = 1, show_progress: bool | None = None
) -> list[FileResult | FileFailure]:
    """Each source to OUT_DIR/<name>.ndjson, finished outputs skipped; a damaged file fails alone.

    Results come back in the order of `sources`. show_progress None: bars only on a terminal.
    """
    sources = [Path(s) for s in sources]
    show = show_progress if show_progress is not None else _stderr_is_terminal()
    todo = [i for i, s in enumerate(sources) if not output_path(s, out_dir).exists()]
    results: list[FileResult | FileFailure | None] = [None] * len(sources)
    for i, source in enumerate(sources):
        if i not in todo:
            results[i] = parse_file(source, out_dir)  # returns at once: skipped
    workers = max(1, min(processes, len(todo)))
    # No decompression thread: in one benchmarks/dump_parse.py run (50,000 pages, a noisy shared machine) one
    # process took 25 s with it and 14 s inline (GIL hand-overs, most likely); streams.py keeps it as an option.
    # Tried again on an idle 2-core machine (2026-12-06): 8.3 s against 9.2-9.5 s inline in one timing, then
    # 12.2 s against 9.1-9.9 s in a benchmark run: not dependable.
    thread = False
    if workers == 1:
        for i in todo:
            with _bar(sources[i], 0, show) as bar:
                try:
                    results[i] = parse_file(sources[i], out_dir, lambda p, bar=bar: bar.update(p - bar.n), thread)
                except DumpError as exc:
                    results[i] = FileFailure(str(sources[i]), str(exc))
    else:
        _parse_in_processes(sources, todo, out_dir, workers, show, results, thread)
    return [r for r in results if r is not None]


def _parse_in_processes(
    sources: list[Path], todo: list[int], out_dir: Path, workers: int, show: bool, results: list, thread: bool
) -> None:
    context = multiprocessing.get_context("spawn")  # children import only this package: no Django state to copy
    progress_queue = context.Queue()
    bars = {i: _bar(sources[i], row, show) for row, i in enumerate(todo)}
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(progress_queue,)
        ) as pool:
            futures: dict[Future, int] = {
                pool.submit(_parse_reporting, i, str(sources[i]), str(out_dir), thread): i for i in todo
            }
            pending = set(futures)
            while pending:
                # woken by a finished file at once (not at the next poll of the bars' queue)
                done, pending = wait(pending, timeout=REPORT_SECONDS, return_when=FIRST_COMPLETED)
                _drain(progress_queue, bars)
                for future in done:
                    index = futures[future]
                    try:
                        results[index] = future.result()
                        bars[index].update(bars[index].total - bars[index].n)
                    except DumpError as exc:
                        results[index] = FileFailure(str(sources[index]), str(exc))
    finally:
        for bar in bars.values():
            bar.close()


def _drain(progress_queue: "multiprocessing.Queue", bars: dict[int, tqdm]) -> None:
    """Move the bars to the workers' latest reported positions."""
    while True:
        try:
            index, position = progress_queue.get_nowait()
        except queue.Empty:
            return
        bars[index].update(position - bars[index].n)


def _stderr_is_terminal() -> bool:
    try:
        return os.isatty(2)
    except OSError:
        return False
