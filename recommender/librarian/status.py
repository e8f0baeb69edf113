"""What readers may know about training: is a model served, and how far is the run that will give one.

Public (the home and book pages poll it while the first model trains), so it says no more than that: no
hyperparameters, errors or version details, which stay on the staff-only /training/ pages.
"""

from django.conf import settings

from embeddings import versions
from embeddings.models import ModelVersion, TrainingRun

# Reader-facing names of the phases of a run (embeddings/jobs.py, embeddings/pipeline.py).
PHASE_LABELS = {
    "": "waiting for a worker",
    "sampling": "reading the catalogue",
    "evaluation": "training the evaluation model",
    "metrics": "measuring it against the baselines",
    "final": "training the final model",
    "indexing": "building the search indexes",
    "projection": "projecting the map",
}


def phase_label(phase: str) -> str:
    return PHASE_LABELS.get(phase, phase)


def model_status() -> dict:
    """{"model_ready", "version", "stale", "training": None | {"status", "phase", "phase_label", "fraction_done"}}.

    `version` is the served version's id (as /healthz tells): pages reload when it changes.
    """
    TrainingRun.objects.fail_stale()
    active_id = versions.active_version_id(settings.ARTIFACTS_DIR)
    run = TrainingRun.objects.in_progress().first()
    return {
        "model_ready": active_id is not None,
        "version": active_id,
        "stale": bool(active_id) and ModelVersion.objects.filter(version_id=active_id, stale=True).exists(),
        "training": None
        if run is None
        else {
            "status": run.status,
            "phase": run.phase,
            "phase_label": phase_label(run.phase if run.status == "running" else ""),
            "fraction_done": round(run.fraction_done, 4),
        },
    }
