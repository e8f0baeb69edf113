"""/map/ and /map/links/ (the page) and their data; the logic lives in map_data.py."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_safe

from recommender.content_security import plotly_webgl
from recommender.map import map_data

# With an explicit ?version= (and ?folded=, the overlay's generation) the data never changes; without, it follows
# the active version and its folded-in books.
IMMUTABLE_SECONDS = 365 * 24 * 3600
ACTIVE_SECONDS = 10


@plotly_webgl
@require_safe
def show_map(request: HttpRequest, kind: str) -> HttpResponse:
    state = map_data.status(kind)
    data_url = reverse("map:books-data" if kind == "book" else "map:links-data")
    names_url = reverse("map:books-names" if kind == "book" else "map:links-names")
    version = f"?version={state.version_id}" if state.ready else ""
    if state.generation:  # the data's URL names the overlay too: it stays valid for as long as it is cached
        version += f"&folded={state.generation}"
    context = {
        "kind": kind,
        "state": state,
        "data_url": f"{data_url}{version}" if state.ready else "",
        "names_url": f"{names_url}{version}" if state.ready else "",
    }
    return render(request, "map/map.html", context, status=200)


@require_safe
def map_data_view(request: HttpRequest, kind: str, part: str) -> HttpResponse:
    """The map's points (drawn first) or names (fetched after): precompressed JSON, cached per version."""
    version_id = request.GET.get("version") or None
    try:
        data = map_data.payload(kind, version_id, part)
    except map_data.MapUnavailable as exc:
        status = 400 if exc.reason == "bad-version-id" else 404
        return JsonResponse({"error": str(exc), "reason": exc.reason}, status=status)
    if request.headers.get("If-None-Match") == data.etag:
        response = HttpResponse(status=304)
    elif "gzip" in request.headers.get("Accept-Encoding", ""):
        # Precompressed once per version: GZipMiddleware would compress every response again.
        response = HttpResponse(data.gzipped, content_type="application/json")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(data.raw, content_type="application/json")
    response["ETag"] = data.etag
    # Under ?version= (and, for a version with folded-in books, ?folded= naming the overlay served) the data never
    # changes; a URL naming another overlay than the one served gets the current data, briefly cached.
    fixed = version_id is not None and request.GET.get("folded", "0") == str(data.generation)
    response["Cache-Control"] = f"public, max-age={IMMUTABLE_SECONDS if fixed else ACTIVE_SECONDS}"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response
