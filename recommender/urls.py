from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from recommender import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="catalogue:list"), name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("recommender.api.urls")),
    path("", include("recommender.catalogue.urls")),
]
