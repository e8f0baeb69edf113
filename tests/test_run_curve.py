"""The live loss curve: a real worker trains, and the run's JSON shows the per-epoch curve growing while it trains,
the evaluation model's first and then the final model's, with the phase named; the finished run keeps it."""

import math

import pytest
from django.contrib.auth.models import User

from embeddings import jobs, versions
from embeddings.models import RunStatus, TrainingRun
from recommender.librarian.curves import run_curve
from tests.helpers import FAST_PARAMS, wait_for

EPOCHS = 12  # enough epochs for the curve to be seen growing between polls


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_curve_grows_while_a_worker_trains(celery_worker_process, sample_catalogue, artifacts_dir, client):
    client.force_login(User.objects.create_user("librarian", password="pw", is_staff=True))
    run = jobs.start_training({**FAST_PARAMS, "epochs": EPOCHS})
    seen: list[dict] = []

    def finished() -> bool:
        data = client.get(f"/training/runs/{run.pk}/").json()
        seen.append(data)
        return data["status"] not in ("queued", "running")

    wait_for(finished, 300, "the run to finish", interval=0.1)
    final = seen[-1]
    assert final["status"] == RunStatus.SUCCEEDED, final["error"]

    running = [d for d in seen if d["status"] == "running"]
    sizes = [(len(d["curve"].get("evaluation", [])), len(d["curve"].get("final", []))) for d in running]
    assert len(set(sizes)) >= 3, sizes  # seen growing while it trained, not only at the end
    assert sizes == sorted(sizes)  # never shrinking; the evaluation model's curve is complete before the final's
    assert any(0 < e < EPOCHS for e, f in sizes) and any(e == EPOCHS and 0 < f < EPOCHS for e, f in sizes)
    labels = {d["phase"]: d["phase_label"] for d in running if d["phase"]}
    assert labels.get("evaluation") == "training the evaluation model"
    assert labels.get("final") == "training the final model"

    curve = final["curve"]
    assert list(curve) == ["evaluation", "final"]
    for phase in ("evaluation", "final"):
        points = curve[phase]
        assert [p["epoch"] for p in points] == list(range(1, EPOCHS + 1))
        assert all(math.isfinite(p["loss"]) and 0 <= p["accuracy"] <= 1 for p in points)
        assert points[-1]["loss"] < points[0]["loss"]  # it learned
    # the stored curve is the training history the version keeps
    history = versions.read_json(versions.version_path(artifacts_dir, final["version"]) / "history.json")
    assert [p["loss"] for p in curve["final"]] == pytest.approx([h["loss"] for h in history["final"]])

    page = client.get(f"/training/runs/{run.pk}/curve/")
    assert page.status_code == 200 and 'class="run-curve"' in page.text and "plotly-gl2d-3.7.0.min.js" in page.text


@pytest.mark.django_db
def test_runs_from_before_stored_curves_fall_back_to_history(artifacts_dir):
    from embeddings.models import ModelVersion

    run = jobs.start_training({}, enqueue=False)
    run.finish(RunStatus.SUCCEEDED)
    staging = versions.make_staging_dir(artifacts_dir)
    for name in versions.REQUIRED_FILES:
        (staging / name).write_text("{}")
    history = {
        "evaluation": [{"epoch": 1, "loss": 0.6, "accuracy": 0.7}],
        "final": [{"epoch": 1, "loss": float("nan")}],
    }
    versions.write_json(staging / "history.json", history)
    versions.publish(artifacts_dir, staging, "v-old")
    ModelVersion.objects.create(version_id="v-old", run=run)
    assert run_curve(TrainingRun.objects.get(pk=run.pk)) == {
        "evaluation": [{"epoch": 1, "loss": 0.6, "accuracy": 0.7}],
        "final": [{"epoch": 1, "loss": None, "accuracy": None}],  # never NaN
    }
