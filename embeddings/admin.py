from django.contrib import admin, messages
from django.utils.html import format_html

from embeddings.models import ModelVersion, TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "status", "progress", "phase", "epoch", "loss", "created_at", "finished_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in TrainingRun._meta.fields if f.name != "cancel_requested"]
    actions = ["cancel"]

    @admin.display(description="progress")
    def progress(self, run: TrainingRun) -> str:
        return format_html('<progress max="1" value="{}"></progress>', round(run.fraction_done, 3))

    @admin.action(description="Cancel the selected runs")
    def cancel(self, request, queryset) -> None:
        for run in queryset.in_progress():
            run.request_cancel()
        self.message_user(request, "Cancel requested; runs stop at their next batch.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False  # runs are started from /training/ or manage.py train


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["version_id", "is_active", "n_books", "n_links", "created_at"]
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["activate"]

    @admin.action(description="Activate the selected version (serve it)")
    def activate(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = queryset.get()
        version.activate()
        self.message_user(request, f"Version {version.version_id} is now served.", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False
