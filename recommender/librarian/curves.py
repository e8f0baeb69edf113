"""Loss and accuracy per epoch of a run: the evaluation model's, then the final model's.

A run writes its curve to the database at each epoch end (embeddings/jobs.py), so it can be drawn while it trains;
runs finished before curves were stored fall back to their version's history.json.
"""

import json
import math

from django.conf import settings

from embeddings import versions
from embeddings.models import ModelVersion, TrainingRun

CURVE_PHASES = ("evaluation", "final")


def _point(entry: dict) -> dict:
    def clean(value: object) -> float | None:
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    return {
        "epoch": int(entry.get("epoch") or 0),
        "loss": clean(entry.get("loss")),
        "accuracy": clean(entry.get("accuracy")),
    }


def run_curve(run: TrainingRun) -> dict[str, list[dict]]:
    """{"evaluation": [{epoch, loss, accuracy}, ...], "final": [...]} (phases without epochs yet are absent)."""
    if run.curve:
        # in training order: PostgreSQL's jsonb keeps keys in its own order (shortest first), not the written one
        return {phase: run.curve[phase] for phase in CURVE_PHASES if phase in run.curve}
    version = ModelVersion.objects.filter(run=run).first()
    if version is None:
        return {}
    try:
        history = versions.read_json(versions.version_path(settings.ARTIFACTS_DIR, version.version_id) / "history.json")
    except (OSError, ValueError, json.JSONDecodeError, versions.VersionError):
        return {}
    return {phase: [_point(e) for e in history.get(phase) or []] for phase in CURVE_PHASES if history.get(phase)}
