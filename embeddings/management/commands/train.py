"""python manage.py train [--epochs N] [--dim D] ... [--wait | --inline]; --cancel RUN to stop a run."""

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from embeddings import jobs
from embeddings.evaluation import format_metrics_table
from embeddings.models import RunStatus, TrainingRun

# option name -> TrainParams field; options left out keep the documented defaults of TrainParams
PARAM_OPTIONS = {
    "epochs": int,
    "dim": int,
    "negative_ratio": float,
    "min_link_count": int,
    "batch_positives": int,
    "learning_rate": float,
    "seed": int,
}


class ProgressBar:
    """A terminal bar over the whole run (all phases), with epoch, loss and speed beside it."""

    def __init__(self, run_id: int) -> None:
        self.bar = tqdm(total=1000, desc=f"run {run_id}", bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()

    def show(self, run: TrainingRun) -> None:
        self.bar.n = int(run.fraction_done * 1000)
        postfix = {"status": run.status, "phase": run.phase or "-"}
        if run.epochs:
            postfix["epoch"] = f"{run.epoch}/{run.epochs}"
        if run.loss is not None:
            postfix["loss"] = f"{run.loss:.4f}"
        if run.examples_per_second:
            postfix["ex/s"] = f"{run.examples_per_second:,.0f}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()


class Command(BaseCommand):
    help = "Train a book embedding model: queue it for a Celery worker (--wait to follow it) or run it here."

    def add_arguments(self, parser) -> None:
        for name, kind in PARAM_OPTIONS.items():
            parser.add_argument("--" + name.replace("_", "-"), type=kind, dest=name)
        parser.add_argument("--mode", choices=["classification", "regression"])
        parser.add_argument("--negative-sampling", choices=["uniform", "popularity"], dest="negative_sampling")
        parser.add_argument(
            "--no-map",
            action="store_false",
            dest="draw_map",
            default=None,
            help="skip the UMAP map (project_version adds it later)",
        )
        how = parser.add_mutually_exclusive_group()
        how.add_argument("--wait", action="store_true", help="follow the queued run with a progress bar")
        how.add_argument("--inline", action="store_true", help="train in this process, without a broker")
        how.add_argument("--cancel", type=int, metavar="RUN", help="ask run RUN to stop at its next batch")

    def handle(self, *args, **options) -> None:
        if options["cancel"] is not None:
            return self.cancel(options["cancel"])
        params = {
            name: options[name]
            for name in [*PARAM_OPTIONS, "mode", "negative_sampling", "draw_map"]
            if options[name] is not None
        }
        for name in ("epochs", "dim", "batch_positives"):
            if name in params and params[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        try:
            run = jobs.start_training(params, enqueue=not options["inline"])
        except jobs.RunRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"training run {run.pk} queued" + (" (inline)" if options["inline"] else ""))
        if options["inline"]:
            run_id = run.pk
            with ProgressBar(run_id) as bar:
                jobs.execute(run_id, listener=lambda f: bar.show(TrainingRun(pk=run_id, status=RunStatus.RUNNING, **f)))
        elif options["wait"]:
            self.follow(run.pk)
        else:
            self.stdout.write(f"follow it in the admin; cancel it with: python manage.py train --cancel {run.pk}")
            return
        self.report(TrainingRun.objects.get(pk=run.pk))

    def follow(self, run_id: int) -> None:
        """Poll the run's row until it ends (Ctrl-C stops following, not the run)."""
        try:
            with ProgressBar(run_id) as bar:
                while True:
                    run = TrainingRun.objects.get(pk=run_id)
                    bar.show(run)
                    if run.is_finished:
                        break
                    TrainingRun.objects.filter(pk=run_id).fail_stale()
                    time.sleep(0.5)
        except KeyboardInterrupt:
            raise CommandError(
                f"stopped following; run {run_id} goes on (cancel: manage.py train --cancel {run_id})"
            ) from None

    def report(self, run: TrainingRun) -> None:
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"run {run.pk} {run.status}" + (f": {run.error.splitlines()[0]}" if run.error else ""))
        version = run.version
        self.stdout.write(self.style.SUCCESS(f"run {run.pk} succeeded: version {version.version_id} is active"))
        self.stdout.write(format_metrics_table(version.metrics))

    def cancel(self, run_id: int) -> None:
        run = TrainingRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"no training run {run_id}")
        if run.is_finished:
            raise CommandError(f"run {run_id} already {run.status}")
        run.request_cancel()
        self.stdout.write(f"run {run_id}: cancel requested; it stops at its next batch")
