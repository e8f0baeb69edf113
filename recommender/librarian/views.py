"""Retraining for librarians and admins (staff only): start, follow with a live bar, cancel, activate."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from embeddings import jobs
from embeddings.models import ModelVersion, TrainingRun
from recommender.librarian.forms import TrainingForm

RUNS_SHOWN = 20


def _with_scores(version: ModelVersion) -> ModelVersion:
    embedding = version.metrics.get("embedding", {})
    version.scores = {
        "genre": embedding.get("genre_precision@10"),
        "author": embedding.get("author_recall@10"),
        "auc": embedding.get("link_auc"),
    }
    return version


@staff_member_required
def show_training(request: HttpRequest) -> HttpResponse:
    TrainingRun.objects.fail_stale()
    context = {
        "form": TrainingForm(),
        "runs": TrainingRun.objects.select_related("version")[:RUNS_SHOWN],
        "versions": [_with_scores(version) for version in ModelVersion.objects.all()],
        "current": TrainingRun.objects.in_progress().first(),
    }
    return render(request, "librarian/training.html", context)


@staff_member_required
@require_POST
def start_training(request: HttpRequest) -> HttpResponse:
    form = TrainingForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            "Check the hyperparameters: "
            + "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()),
        )
        return redirect("librarian:training")
    try:
        run = jobs.start_training(form.params())
    except jobs.RunRefused as exc:
        messages.error(request, str(exc))
    except Exception as exc:  # the broker is down: say so instead of a 500
        messages.error(request, f"Could not queue the run: {exc}")
    else:
        messages.success(request, f"Training run {run.pk} queued.")
    return redirect("librarian:training")


@staff_member_required
@require_POST
def cancel_run(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun, pk=run_id)
    if run.is_finished:
        messages.error(request, f"Run {run.pk} already {run.status}.")
    else:
        run.request_cancel()
        messages.success(request, f"Run {run.pk}: cancel requested; it stops at its next batch.")
    return redirect("librarian:training")


@staff_member_required
@require_POST
def activate_version(request: HttpRequest, version_id: str) -> HttpResponse:
    version = get_object_or_404(ModelVersion, version_id=version_id)
    version.activate()
    messages.success(request, f"Version {version.version_id} is now served.")
    return redirect("librarian:training")


@staff_member_required
def show_run(request: HttpRequest, run_id: int) -> JsonResponse:
    """The live bar's data: polled by static/js/training.js."""
    TrainingRun.objects.filter(pk=run_id).fail_stale()
    run = get_object_or_404(TrainingRun.objects.select_related("version"), pk=run_id)
    return JsonResponse(run.to_dict())
