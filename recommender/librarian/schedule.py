"""Periodic retraining: the RETRAIN_SCHEDULE setting read as a Celery beat schedule.

    ""              off (the default)
    "0 3 * * 0"     a crontab: minute hour day-of-month month day-of-week (here: Sundays at 03:00 UTC)
    "6h", "30m", "1d", "90s", "3600"
                    an interval (s, m, h, d; a bare number is seconds)

`celery beat` (started by `make run` only when the setting is on) sends `librarian.retrain` on that schedule;
the task queues a run with the default hyperparameters, and skips (logged, not failed) while one is in progress.
"""

import re
from datetime import timedelta

from celery.schedules import crontab, schedule

TASK_NAME = "librarian.retrain"
INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class ScheduleError(ValueError):
    """RETRAIN_SCHEDULE is neither a crontab nor an interval."""


def parse_schedule(text: str) -> crontab | schedule | None:
    """The schedule RETRAIN_SCHEDULE names, or None when it is off; ScheduleError says what is wrong."""
    text = (text or "").strip()
    if not text or text.lower() in {"off", "0", "no", "false"}:
        return None
    interval = INTERVAL.fullmatch(text)
    if interval:
        seconds = float(interval.group(1)) * UNIT_SECONDS[interval.group(2).lower()]
        if seconds <= 0:
            raise ScheduleError(f"RETRAIN_SCHEDULE={text!r}: an interval must be longer than 0 seconds")
        return schedule(run_every=timedelta(seconds=seconds))
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"RETRAIN_SCHEDULE={text!r} is neither an interval (e.g. '6h', '30m', '1d', '3600') nor a crontab of "
            "5 fields (minute hour day-of-month month day-of-week, e.g. '0 3 * * 0')"
        )
    minute, hour, day_of_month, month_of_year, day_of_week = fields
    try:
        return crontab(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
        )
    except ValueError as exc:
        raise ScheduleError(f"RETRAIN_SCHEDULE={text!r}: {exc}") from None


def beat_schedule(text: str) -> dict:
    """Celery's beat_schedule for the setting: empty when retraining on a schedule is off."""
    parsed = parse_schedule(text)
    if parsed is None:
        return {}
    return {"retrain": {"task": TASK_NAME, "schedule": parsed}}
