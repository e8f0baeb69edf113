"""What /healthz reports: database, broker, a worker's answer and the active model version."""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from embeddings.versions import active_version_id
from recommender.celery import app

WORKER_PING_TTL = 10  # seconds: a ping costs up to a second, so its answer is shared for a while


def check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the message says why
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.perf_counter() - started) * 1000, 2)}


def check_broker() -> dict:
    transport = app.conf.broker_url.split("://", 1)[0]
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": str(exc)}
    return {"ok": True, "transport": transport}


def check_workers() -> dict:
    cached = cache.get("healthz:workers")
    if cached is not None:
        return cached
    try:
        replies = app.control.ping(timeout=1.0) or []
        result = {"ok": bool(replies), "count": len(replies), "names": sorted(n for r in replies for n in r)}
    except Exception as exc:
        result = {"ok": False, "count": 0, "error": str(exc)}
    cache.set("healthz:workers", result, WORKER_PING_TTL)
    return result


def health() -> tuple[dict, bool]:
    """The report, and whether this web process can serve (database and broker reachable)."""
    report = {
        "database": check_database(),
        "broker": check_broker(),
        "workers": check_workers(),
        "active_model": active_version_id(settings.ARTIFACTS_DIR),
    }
    healthy = report["database"]["ok"] and report["broker"]["ok"]
    report["status"] = "ok" if healthy else "unavailable"
    return report, healthy
