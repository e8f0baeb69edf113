from django.urls import path

from recommender.librarian import views

app_name = "librarian"
urlpatterns = [
    path("training/", views.show_training, name="training"),
    path("training/start/", views.start_training, name="start"),
    path("training/runs/<int:run_id>/", views.show_run, name="run"),
    path("training/runs/<int:run_id>/cancel/", views.cancel_run, name="cancel"),
    path("training/versions/<str:version_id>/activate/", views.activate_version, name="activate"),
]
