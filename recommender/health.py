"""What /healthz reports: database, broker, workers (from their heartbeats) and the model this process serves.

Nothing here waits on a worker: workers write heartbeats (recommender/workers.py) and this only reads them, so
the answer comes in milliseconds even while the only worker is busy training or is down.
"""

import time

from django.conf import settings
from django.db import connection

from embeddings.serving import active_model
from recommender import workers
from recommender.celery import app

BROKER_TIMEOUT = 0.5  # seconds: a broker that does not answer this fast counts as down


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
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
    except Exception as exc:
        return {"ok": False, "transport": transport, "error": str(exc)}
    return {"ok": True, "transport": transport}


def check_model() -> dict:
    """The version active.json names, the one this process serves, and what is wrong with either."""
    return active_model(settings.ARTIFACTS_DIR).status()


def health() -> tuple[dict, bool]:
    """The report, and whether this web process can serve.

    It can when the database and the broker are reachable and, if a version is active, it serves one (a missing
    worker is reported but does not fail web health; neither does an active version that failed to load while
    the previous one is still served).
    """
    model = check_model()
    report = {
        "database": check_database(),
        "broker": check_broker(),
        "workers": workers.status(),
        "model": model,
        "active_model": model["served"],
    }
    model_ok = model["active"] is None or model["served"] is not None
    healthy = report["database"]["ok"] and report["broker"]["ok"] and model_ok
    report["status"] = "ok" if healthy else "unavailable"
    return report, healthy
