"""Runs and versions in the Django admin: read-only, except the actions below (cancel, activate) and the
"Train now" button on the runs list (templates/admin/embeddings/trainingrun/change_list.html)."""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from embeddings import jobs
from embeddings.models import ModelVersion, StaleVersion, TrainingRun


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never added, edited or deleted by hand: a version's files and a run's record are written by runs."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "progress", "phase", "epoch", "loss", "created_at", "finished_at"]
    list_filter = ["status"]
    actions = ["cancel"]
    change_list_template = "admin/embeddings/trainingrun/change_list.html"

    @admin.display(description="progress")
    def progress(self, run: TrainingRun) -> str:
        return format_html('<progress max="1" value="{}"></progress>', round(run.fraction_done, 3))

    @admin.action(description="Cancel the selected runs")
    def cancel(self, request, queryset) -> None:
        for run in queryset.in_progress():
            run.request_cancel()
        self.message_user(request, "Cancel requested; runs stop at their next batch.", messages.SUCCESS)

    def get_urls(self) -> list:
        train_now = self.admin_site.admin_view(require_POST(self.train_now))
        return [path("train-now/", train_now, name="embeddings_trainingrun_train_now"), *super().get_urls()]

    def train_now(self, request: HttpRequest) -> HttpResponse:
        """Queue a run with the default hyperparameters (refused while one is queued or running)."""
        try:
            run = jobs.start_training({})
        except jobs.RunRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
        except Exception as exc:  # the broker is down: say so instead of a 500
            self.message_user(request, f"Could not queue the run: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Training run {run.pk} queued with the default settings.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:embeddings_trainingrun_changelist"))


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ["version_id", "is_active", "stale", "n_books", "n_links", "created_at"]
    list_filter = ["is_active", "stale"]
    actions = ["activate"]

    @admin.action(description="Activate the selected version (serve it)")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = queryset.get()
        try:
            version.activate()
        except StaleVersion as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Version {version.version_id} is now served.", messages.SUCCESS)
