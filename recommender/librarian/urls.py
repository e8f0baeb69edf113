from django.urls import path

from recommender.librarian import views

app_name = "librarian"
urlpatterns = [
    path("training/", views.show_training, name="training"),
    path("training/start/", views.start_training, name="start"),
    path("training/runs/<int:run_id>/", views.show_run, name="run"),
    path("training/runs/<int:run_id>/cancel/", views.cancel_run, name="cancel"),
    path("training/runs/<int:run_id>/curve/", views.show_run_page, name="run-page"),
    path("training/versions/", views.show_versions, name="versions"),
    path("training/versions/<str:version_id>/activate/", views.activate_version, name="activate"),
    path(
        "training/versions/<str:version_id>/projector/<str:kind>/<str:name>",
        views.download_projector,
        name="projector",
    ),
    path("model-status/", views.show_model_status, name="model-status"),
]
