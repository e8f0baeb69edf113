"""Worker presence without a round trip to the worker: each Celery worker writes a heartbeat that /healthz reads.

A `celery worker` process starts a daemon thread (worker_ready signal) that every BEAT_EVERY seconds records its
name, pid, whether it is running a task and when; /healthz reads those records (one cache read or a few small
files), so it answers at once even while the only worker is busy training or is gone. A record older than
SEEN_WITHIN seconds means that worker is gone. The same thread marks runs whose worker died as failed (see
TrainingRun.objects.fail_stale), so a killed worker's run is failed within TRAINING_STALE_SECONDS plus one beat as
long as any worker lives (and at once by anyone who looks at /training/).

Records live in the shared Django cache when it is shared (Redis); with the local-memory cache of the no-services
setup they are small JSON files under VAR_DIR/workers, which every process on the machine sees.
"""

import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

BEAT_EVERY = 2.0  # seconds between a worker's heartbeats
SEEN_WITHIN = 15.0  # a heartbeat older than this: the worker is gone
REGISTRY_KEY = "workers:names"

_state = {"busy": None}  # the task a worker process is running now (set by the task signals)


def _cache_is_shared() -> bool:
    return "locmem" not in settings.CACHES["default"]["BACKEND"].lower()


def _folder() -> Path:
    return Path(settings.VAR_DIR) / "workers"


def record(name: str, busy: str | None, now: float | None = None) -> None:
    """Write one heartbeat of worker `name`."""
    beat = {"name": name, "pid": os.getpid(), "host": socket.gethostname(), "busy": busy, "at": now or time.time()}
    if _cache_is_shared():
        names = set(cache.get(REGISTRY_KEY) or ())
        if name not in names:
            cache.set(REGISTRY_KEY, sorted(names | {name}), None)
        cache.set(f"workers:beat:{name}", beat, int(SEEN_WITHIN * 4))
        return
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(beat))
    os.replace(tmp, folder / f"{name}.json")  # readers see the old beat or the new one, never half


def forget(name: str) -> None:
    """A worker shutting down cleanly removes its record."""
    if _cache_is_shared():
        cache.delete(f"workers:beat:{name}")
    else:
        (_folder() / f"{name}.json").unlink(missing_ok=True)


def _beats() -> list[dict]:
    if _cache_is_shared():
        names = cache.get(REGISTRY_KEY) or []
        found = cache.get_many([f"workers:beat:{name}" for name in names])
        return list(found.values())
    beats = []
    for path in _folder().glob("*.json") if _folder().is_dir() else ():
        try:
            beats.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # removed or replaced while listing
    return beats


def status(now: float | None = None) -> dict:
    """What /healthz shows: the workers heard from within SEEN_WITHIN seconds, and which are busy."""
    now = now or time.time()
    try:
        beats = _beats()
    except Exception as exc:  # the cache (Redis) is down: say so, quickly
        return {"ok": False, "count": 0, "error": f"worker heartbeats unreadable: {exc}"}
    alive = sorted((b for b in beats if now - b.get("at", 0) <= SEEN_WITHIN), key=lambda b: b["name"])
    return {
        "ok": bool(alive),
        "count": len(alive),
        "names": [b["name"] for b in alive],
        "busy": [b["name"] for b in alive if b.get("busy")],
        "last_seen_seconds": round(now - max((b["at"] for b in beats), default=now), 1) if beats else None,
    }


class Heartbeat:
    """The thread a worker process runs: beats, and fails runs whose worker died."""

    def __init__(self, name: str, every: float = BEAT_EVERY) -> None:
        self.name = name
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 1)
        try:
            forget(self.name)
        except Exception:
            logger.warning("could not remove the heartbeat of %s", self.name, exc_info=True)

    def _run(self) -> None:
        from django.db import connection

        from embeddings.models import TrainingRun

        while True:
            try:
                record(self.name, _state["busy"])
                TrainingRun.objects.fail_stale()
            except Exception:  # Redis or the database is down: beat again later
                logger.warning("worker heartbeat not written", exc_info=True)
            finally:
                connection.close()
            if self._stop.wait(self.every):
                return


_heartbeat: Heartbeat | None = None


def connect_signals() -> None:
    """Hook the heartbeat into Celery's worker life cycle (called by recommender/celery.py)."""
    from celery import signals

    @signals.worker_ready.connect(weak=False)
    def _start(sender=None, **_) -> None:
        global _heartbeat
        _heartbeat = Heartbeat(sender.hostname if sender is not None else socket.gethostname())
        _heartbeat.start()

    @signals.worker_shutdown.connect(weak=False)
    def _stop(**_) -> None:
        if _heartbeat is not None:
            _heartbeat.stop()

    @signals.task_prerun.connect(weak=False)
    def _busy(task_id=None, task=None, **_) -> None:
        _state["busy"] = f"{task.name if task else '?'}[{task_id}]"

    @signals.task_postrun.connect(weak=False)
    def _idle(**_) -> None:
        _state["busy"] = None
