"""GET /healthz reports the database, the broker, workers and the active model."""

import pytest

from recommender.celery import app

pytestmark = pytest.mark.django_db


def test_healthy(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["broker"]["transport"] == app.conf.broker_url.split("://")[0]
    assert set(body["workers"]) >= {"ok", "count"}
    assert body["active_model"] is None
    assert response["Cache-Control"].startswith("max-age=0")


def test_unreachable_broker_gives_503(client, monkeypatch):
    # a real connection attempt to a port where nothing listens
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["broker"]["ok"] is False and body["broker"]["error"]
