"""python manage.py queue_wikipedia_dump FILE [FILE ...] --out DIR [--no-wait | --follow] [--import [--replace]]

Queues one Celery task per dump file (finished files are skipped) and follows them with a bar per file.
The task ids are kept in DIR/parse-tasks.json, so `--follow` re-attaches after Ctrl-C without queueing again.
Every worker must see the dump files and DIR under the same paths (a shared filesystem).
"""

import json
import time
from pathlib import Path

from celery.result import AsyncResult
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from recommender.catalogue.management.commands.parse_wikipedia_dump import check_sources
from recommender.catalogue.tasks import parse_wikipedia_dump_file
from recommender.catalogue.wikidump.files import output_path

TASKS_FILE = "parse-tasks.json"
POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Queue one Celery task per Wikipedia dump file (see parse_wikipedia_dump) and report their progress."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="*", help="dump files, at paths every worker can read")
        parser.add_argument("--out", required=True, help="output directory shared by the workers")
        parser.add_argument("--no-wait", action="store_true", help="queue and exit")
        parser.add_argument("--follow", action="store_true", help="follow the tasks queued earlier for --out")
        parser.add_argument("--timeout", type=float, default=0, help="give up following after this many seconds")
        parser.add_argument("--import", dest="do_import", action="store_true", help="then import_books the output")
        parser.add_argument(
            "--replace", action="store_true", help="with --import: replace a catalogue from another source"
        )

    def handle(self, *args, **options) -> None:
        out_dir = Path(options["out"]).resolve()
        tasks_file = out_dir / TASKS_FILE
        if options["follow"]:
            if not tasks_file.is_file():
                raise CommandError(f"{tasks_file}: no tasks were queued for this directory")
            tasks = json.loads(tasks_file.read_text())
        else:
            if not options["files"]:
                raise CommandError("name the dump files to queue (or --follow)")
            sources = [s.resolve() for s in check_sources(options["files"], out_dir)]
            out_dir.mkdir(parents=True, exist_ok=True)
            tasks = {}
            for source in sources:
                if output_path(source, out_dir).exists():
                    self.stdout.write(f"{source}: skipped, {output_path(source, out_dir)} is complete")
                    continue
                tasks[str(source)] = parse_wikipedia_dump_file.delay(str(source), str(out_dir)).id
            tasks_file.write_text(json.dumps(tasks, indent=1))
            self.stdout.write(f"queued {len(tasks)} files; task ids in {tasks_file}")
            if options["no_wait"]:
                return
        failures = self.follow(tasks, options["timeout"])
        if failures:
            raise CommandError("\n".join(failures) + "\nNothing was written for these files; queue them again.")
        if options["do_import"]:
            outputs = [str(output_path(Path(s), out_dir)) for s in (options["files"] or tasks)]
            call_command("import_books", *outputs, replace=options["replace"], stdout=self.stdout, stderr=self.stderr)

    def follow(self, tasks: dict[str, str], timeout: float) -> list[str]:
        """Bars until every task has finished; the failures' messages."""
        results = {source: AsyncResult(task_id) for source, task_id in tasks.items()}
        bars = {
            source: tqdm(
                total=Path(source).stat().st_size,
                unit="B",
                unit_scale=True,
                desc=Path(source).name[-40:],
                position=i,
                disable=None,  # a bar on a terminal only
            )
            for i, source in enumerate(results)
        }
        failures: list[str] = []
        deadline = time.monotonic() + timeout if timeout else None
        try:
            pending = dict(results)
            while pending:
                for source, result in list(pending.items()):
                    bar = bars[source]
                    if result.state == "PROGRESS" and isinstance(result.info, dict):
                        bar.update(result.info.get("position", bar.n) - bar.n)
                    elif result.state == "SUCCESS":
                        bar.update(bar.total - bar.n)
                        done = result.result
                        self.stdout.write(
                            f"{source}: {done['books']:,} books of {done['pages']:,} pages -> {done['output']}"
                            if not done["skipped"]
                            else f"{source}: skipped, {done['output']} was complete"
                        )
                        del pending[source]
                    elif result.state in ("FAILURE", "REVOKED"):
                        failures.append(str(result.result) if result.result else f"{source}: {result.state.lower()}")
                        del pending[source]
                if deadline is not None and time.monotonic() > deadline and pending:
                    raise CommandError(
                        f"{len(pending)} files still running after {timeout:.0f} s; follow them again with --follow"
                    )
                if pending:
                    time.sleep(POLL_SECONDS)
        finally:
            for bar in bars.values():
                bar.close()
        return failures
