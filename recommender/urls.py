from django.contrib import admin
from django.urls import include, path

from recommender import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("recommender.api.urls")),
    path("", include("recommender.librarian.urls")),
    path("", include("recommender.map.urls")),
    path("", include("recommender.catalogue.urls")),
    path("", include("recommender.front.urls")),
]
