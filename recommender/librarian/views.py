"""Retraining for librarians and admins (staff only): start, follow with a live bar and loss curve, cancel,
compare and activate versions, download Projector files. One public endpoint: the model status readers' pages poll.
"""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from embeddings import jobs
from embeddings.models import ModelVersion, StaleVersion, TrainingRun
from recommender import fold_ins
from recommender.librarian import compare, export
from recommender.librarian.curves import run_curve
from recommender.librarian.forms import TrainingForm
from recommender.librarian.status import model_status, phase_label

RUNS_SHOWN = 20


SCORED = ("genre_precision@10", "author_recall@10", "series_recall@10")


def _with_scores(version: ModelVersion) -> ModelVersion:
    """Each book metric of what the version serves beside TF-IDF and popularity (None: not computable)."""
    metrics = version.metrics
    served = version.served_metrics
    version.scores = [
        {
            "served": served.get(name),
            "tfidf": metrics.get("tfidf", {}).get(name),
            "popularity": metrics.get("popularity", {}).get(name),
        }
        for name in SCORED
    ]
    version.auc = served.get("link_auc")
    # Map faithfulness@10 (embeddings/projection.py); None for a version without a map.
    version.map_faithfulness = (metrics.get("map") or {}).get("books", {}).get("faithfulness@10")
    return version


@staff_member_required
def show_training(request: HttpRequest) -> HttpResponse:
    TrainingRun.objects.fail_stale()
    context = {
        "form": TrainingForm(),
        "runs": TrainingRun.objects.select_related("version")[:RUNS_SHOWN],
        "versions": [_with_scores(version) for version in ModelVersion.objects.all()],
        "current": TrainingRun.objects.in_progress().first(),
        "fold_ins": fold_ins.overview(),
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
        return _told(request, False, str(exc))
    except Exception as exc:  # the broker is down: say so instead of a 500
        return _told(request, False, f"Could not queue the run: {exc}")
    return _told(request, True, f"Training run {run.pk} queued.")


def _told(request: HttpRequest, ok: bool, message: str, page: str = "librarian:training") -> HttpResponse:
    """An action's outcome as a message on the page the librarian goes back to."""
    (messages.success if ok else messages.error)(request, message)
    return redirect(page)


@staff_member_required
@require_POST
def cancel_run(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun, pk=run_id)
    if run.is_finished:
        return _told(request, False, f"Run {run.pk} already {run.status}.")
    run.request_cancel()
    return _told(request, True, f"Run {run.pk}: cancel requested; it stops at its next batch.")


@staff_member_required
@require_POST
def activate_version(request: HttpRequest, version_id: str) -> HttpResponse:
    version = get_object_or_404(ModelVersion, version_id=version_id)
    page = "librarian:versions" if request.POST.get("next", "") == "versions" else "librarian:training"
    try:
        version.activate()
    except StaleVersion as exc:
        return _told(request, False, str(exc), page)
    return _told(request, True, f"Version {version.version_id} is now served.", page)


@staff_member_required
def show_run(request: HttpRequest, run_id: int) -> JsonResponse:
    """The live bar's data: polled by static/js/training.js."""
    TrainingRun.objects.filter(pk=run_id).fail_stale()
    run = get_object_or_404(TrainingRun.objects.select_related("version"), pk=run_id)
    return JsonResponse({**run.to_dict(), "phase_label": phase_label(run.phase), "curve": run_curve(run)})


@staff_member_required
@require_safe
def show_run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    """One run with its loss curve (live while it trains, kept when it has finished)."""
    run = get_object_or_404(TrainingRun.objects.select_related("version"), pk=run_id)
    return render(request, "librarian/run.html", {"run": run})


@staff_member_required
@require_safe
def show_versions(request: HttpRequest) -> HttpResponse:
    """Every version side by side, and the recommendations of two of them for a few books."""
    table = compare.version_table()
    ids = [v.version_id for v in table.versions]
    default_a = table.active.version_id if table.active else (ids[0] if ids else "")
    version_a = request.GET.get("a") if request.GET.get("a") in ids else default_a
    version_b = request.GET.get("b") if request.GET.get("b") in ids else next((i for i in ids if i != version_a), "")
    books_text = request.GET.get("books", "")[:2000]
    books, missing = compare.resolve_books(books_text) if books_text.strip() else (compare.default_books(), [])
    comparisons = compare.compare_recommendations(version_a, version_b, books) if version_a and version_b else []
    context = {
        "table": table,
        "version_a": version_a,
        "version_b": version_b,
        "books_text": books_text or "\n".join(b.title for b in books),
        "missing": missing,
        "comparisons": comparisons,
    }
    return render(request, "librarian/versions.html", context)


@staff_member_required
@require_safe
def download_projector(request: HttpRequest, version_id: str, kind: str, name: str) -> StreamingHttpResponse:
    """vectors.tsv, metadata.tsv or projector_config.json of a version's books or links, streamed."""
    try:
        folder = export.version_folder(version_id)
        chunks = export.file_chunks(folder, kind, name)
    except export.ExportError as exc:
        raise Http404(str(exc)) from None
    content_type = "application/json" if name.endswith(".json") else "text/tab-separated-values; charset=utf-8"
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{version_id}-{kind}-{name}"'
    return response


@require_safe
@never_cache
def show_model_status(request: HttpRequest) -> JsonResponse:
    """Public: is a model served, and how far the run that trains one is (polled by static/js/first_run.js)."""
    return JsonResponse(model_status())
