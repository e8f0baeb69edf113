"""Periodic retraining: RETRAIN_SCHEDULE read as a crontab or an interval (off by default), celery beat started by
`make run` only when it is on, and the scheduled task skipping (logged, not failed) while a run is in progress."""

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from celery.schedules import crontab, schedule

from embeddings import jobs
from embeddings.models import RunStatus, TrainingRun
from recommender.celery import app
from recommender.librarian.schedule import TASK_NAME, ScheduleError, beat_schedule, parse_schedule
from recommender.librarian.tasks import retrain
from tests.helpers import ROOT, test_database_url, wait_for


@pytest.mark.parametrize("text", ["", "  ", "off", "0"])
def test_off(text):
    assert parse_schedule(text) is None and beat_schedule(text) == {}


@pytest.mark.parametrize(
    ("text", "seconds"), [("6h", 6 * 3600), ("30m", 1800), ("1d", 86400), ("90s", 90), ("3600", 3600), ("1.5h", 5400)]
)
def test_intervals(text, seconds):
    parsed = parse_schedule(text)
    assert isinstance(parsed, schedule) and parsed.run_every == timedelta(seconds=seconds)
    assert beat_schedule(text) == {"retrain": {"task": TASK_NAME, "schedule": parsed}}


def test_crontab():
    parsed = parse_schedule("0 3 * * 0")
    assert isinstance(parsed, crontab)
    assert parsed.minute == {0} and parsed.hour == {3} and parsed.day_of_week == {0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("every day", "neither an interval"),
        ("1 2 3", "neither an interval"),
        ("61 * * * *", "61"),
        ("0h", "longer than 0"),
        ("5 x", "neither an interval"),
    ],
)
def test_bad_schedules_say_what_is_wrong(text, message):
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text)


def beat_schedule_of_the_app(value: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RETRAIN_SCHEDULE"}
    if value is not None:
        env["RETRAIN_SCHEDULE"] = value
    code = (
        "import json; from recommender.celery import app; "
        "print(json.dumps({k: [v['task'], str(v['schedule'])] for k, v in app.conf.beat_schedule.items()}))"
    )
    env.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_celery_app_reads_the_setting():
    assert beat_schedule_of_the_app(None) == {}
    entry = beat_schedule_of_the_app("0 3 * * 0")["retrain"]
    assert entry[0] == TASK_NAME and "crontab" in entry[1].lower()


@pytest.mark.django_db
def test_the_task_skips_while_a_run_is_in_progress(caplog):
    queued = jobs.start_training({}, enqueue=False)
    with caplog.at_level(logging.INFO, logger="recommender.librarian.tasks"):
        result = retrain.run()
    assert result["started"] is False and f"training run {queued.pk} is already queued" in result["reason"]
    assert "scheduled retraining skipped" in caplog.text
    assert TrainingRun.objects.count() == 1
    queued.finish(RunStatus.CANCELLED)
    try:
        started = retrain.run()
        assert started["started"] is True
        run = TrainingRun.objects.get(pk=started["run"])
        assert run.status == RunStatus.QUEUED and run.params == {} and run.task_id  # handed to the broker
    finally:
        app.control.purge()


@pytest.mark.django_db
def test_make_run_starts_beat_only_when_the_schedule_is_on(settings, monkeypatch):
    from recommender.management.commands import serve

    started: list[list[str]] = []
    monkeypatch.setattr(serve.subprocess, "Popen", lambda args: started.append(args) or args)
    command = serve.Command()
    for value, expect_beat in (("", False), ("6h", True)):
        started.clear()
        command.retrain_schedule = parse_schedule(value)
        command.start({"no_worker": False, "host": "127.0.0.1", "port": 8000, "web_workers": 1})
        assert any("beat" in args for args in started) is expect_beat
        assert any("worker" in args for args in started) and any("granian" in args for args in started)
    settings.RETRAIN_SCHEDULE = "not a schedule"
    with pytest.raises(serve.CommandError, match="RETRAIN_SCHEDULE"):
        command.handle(no_worker=True, host="127.0.0.1", port=8000, web_workers=1)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_beat_sends_the_task_and_the_worker_skips_while_a_run_is_queued(celery_worker_process, tmp_path):
    """A real `celery beat` every second; a run holds the slot, so each tick is logged and skipped."""
    holder = jobs.start_training({}, enqueue=False)
    env = {**os.environ, "DATABASE_URL": test_database_url(), "RETRAIN_SCHEDULE": "1s"}
    command = [sys.executable, "-m", "celery", "-A", "recommender", "beat", f"--schedule={tmp_path / 'beat'}"]
    with open(tmp_path / "beat.log", "w") as log:
        beat = subprocess.Popen([*command, "--loglevel=INFO"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(
            lambda: celery_worker_process.log_path.read_text().count("scheduled retraining skipped") >= 2,
            90,
            "two scheduled ticks to be skipped",
            interval=0.5,
        )
    finally:
        beat.terminate()
        beat.wait(timeout=30)
    assert TASK_NAME in (tmp_path / "beat.log").read_text()
    assert list(TrainingRun.objects.values_list("pk", flat=True)) == [holder.pk]  # nothing else was started
    holder.finish(RunStatus.CANCELLED)
