from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from recommender.health import health


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report, healthy = health()
    return JsonResponse(report, status=200 if healthy else 503)
