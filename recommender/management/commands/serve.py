"""python manage.py serve: what `make run` runs.

Migrates, imports the book data when the catalogue is empty, then runs a Celery worker and the web server
(recommender/web_server.py) together until Ctrl-C, which stops both.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from embeddings.jobs import RunRefused, start_training
from embeddings.models import ModelVersion, TrainingRun
from embeddings.versions import active_version_id
from recommender.catalogue.importer import catalogue_is_empty
from recommender.celery import worker_command
from recommender.data import FULL_DATA_NAME, FULL_DATA_URL, DataUnavailable, data_paths, download, is_goodbooks_dir
from recommender.librarian.schedule import ScheduleError, parse_schedule
from recommender.web_server import THREADS, web_command

SHARED_SAMPLE = settings.BASE_DIR.parent / "shared" / "data" / "wikipedia"


def counted(variable: str) -> Callable[[str], int]:
    """An argparse type: a positive integer, or an error naming the option's environment variable too."""

    def parse(value: str) -> int:
        if not value.strip().isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer (the option, or {variable})")
        return int(value)

    return parse


class Command(BaseCommand):
    help = "Migrate, import data if the catalogue is empty, and run a Celery worker with the web server."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        # defaults from the environment, checked as the options are (argparse applies `type` to string defaults):
        # a typo stops with a message naming the variable, not a traceback
        parser.add_argument("--port", type=counted("PORT"), default=os.environ.get("PORT", "8000"))
        parser.add_argument(
            "--web-workers", type=counted("WEB_CONCURRENCY"), default=os.environ.get("WEB_CONCURRENCY", "2")
        )
        parser.add_argument(
            "--web-threads", type=counted("WEB_THREADS"), default=os.environ.get("WEB_THREADS", str(THREADS))
        )
        parser.add_argument("--no-worker", action="store_true", help="run the web server only")

    def handle(self, *args, **options) -> None:
        try:
            self.retrain_schedule = parse_schedule(settings.RETRAIN_SCHEDULE)
        except ScheduleError as exc:
            raise CommandError(str(exc)) from None
        call_command("migrate", interactive=False, verbosity=0)
        if catalogue_is_empty():
            self.import_data()
        processes = self.start(options)
        if not options["no_worker"]:
            self.queue_first_training()
        self.stdout.write(
            self.style.SUCCESS(f"\nServing on http://{options['host']}:{options['port']}/  (Ctrl-C stops)")
        )
        self.wait(processes)

    def import_data(self) -> None:
        data_dir = settings.BASE_DIR / "data"
        paths = data_paths(settings.BOOKS_DATA, data_dir)
        if not paths:
            self.stdout.write(f"No BOOKS_DATA and nothing in {data_dir}/: downloading {FULL_DATA_URL}")
            try:
                paths = [str(download(FULL_DATA_URL, data_dir / FULL_DATA_NAME))]
            except DataUnavailable as exc:
                if not SHARED_SAMPLE.is_dir():
                    raise CommandError(str(exc)) from None
                self.stderr.write(f"{exc}\nUsing the sample found at {SHARED_SAMPLE} instead.")
                paths = [str(SHARED_SAMPLE)]
        for path in paths:
            if is_goodbooks_dir(Path(path)):
                call_command("import_goodbooks", path)
            else:
                call_command("import_books", path)

    def queue_first_training(self) -> None:
        """With no model yet (or only one trained on a replaced catalogue), train one at once so that
        recommendations appear within a minute or two."""
        active = active_version_id(settings.ARTIFACTS_DIR)
        stale = bool(active) and ModelVersion.objects.filter(version_id=active, stale=True).exists()
        if (active and not stale) or TrainingRun.objects.in_progress().exists():
            return
        try:
            run = start_training({})
        except RunRefused:
            return
        self.stdout.write(f"No model yet: training run {run.pk} queued (follow it at /training/).")

    def start(self, options: dict) -> list[subprocess.Popen]:
        processes = []
        if not options["no_worker"]:
            processes.append(subprocess.Popen(worker_command("--concurrency=1")))
            if self.retrain_schedule is not None:  # beat only when periodic retraining is on
                beat_file = settings.VAR_DIR / "celerybeat-schedule"
                beat = [sys.executable, "-m", "celery", "-A", "recommender", "beat", "--loglevel=INFO"]
                processes.append(subprocess.Popen([*beat, f"--schedule={beat_file}"]))
                self.stdout.write(f"Retraining on a schedule: {settings.RETRAIN_SCHEDULE} (celery beat)")
        web = web_command(
            options["host"],
            options["port"],
            options["web_workers"],
            options.get("web_threads", THREADS),
            access_log=True,
        )
        processes.append(subprocess.Popen(web))
        return processes

    def wait(self, processes: list[subprocess.Popen]) -> None:
        stopping = False

        def stop(*_args) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        # each command is `python -m <module> ...`: the module (celery, granian) names the process
        failed = [p.args[2] if len(p.args) > 2 else p.args[0] for p in processes if p.returncode not in (0, -15)]
        if not stopping and failed:
            raise CommandError(f"stopped because a process exited: {', '.join(map(str, failed))}")
        self.stdout.write("Stopped.")
