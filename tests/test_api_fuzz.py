"""Schemathesis over recommender/api/openapi.json against the app under its web server (web_server.py), on the test
database.

At least MIN_REQUESTS generated requests (valid and invalid): none may answer 5xx, and every answer must be
one the schema describes (status code, content type, body). The schema must also list every /api/ route.
"""

import json

import pytest
import schemathesis
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from recommender.api.views import SCHEMA
from tests.helpers import test_database_url
from tests.servers import WebServer

pytestmark = pytest.mark.django_db

SPEC = json.loads(SCHEMA.read_text())
MIN_REQUESTS = 5000
EXAMPLES_PER_OPERATION = 800
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_dict(SPEC)
sent = {"requests": 0}


@pytest.fixture(scope="module")
def server(trained_catalogue, tmp_path_factory):
    web = WebServer(
        {"DATABASE_URL": test_database_url(), "ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR)},
        tmp_path_factory.mktemp("fuzz") / "web.log",
        threads=2,
    )
    web.start()
    yield web
    web.stop()


@pytest.mark.slow
@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests(case, server, db):
    response = case.call(base_url=server.base, timeout=10)
    sent["requests"] += 1
    case.validate_response(response, checks=CHECKS)


@pytest.mark.slow
def test_enough_requests_were_sent(server):
    # runs after test_generated_requests (file order): the fuzzing above must have been substantial
    assert sent["requests"] >= MIN_REQUESTS, sent


def api_routes(resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    """Every route under /api/ as an OpenAPI path ("/api/books/{book_id}/"), from the URL resolver."""
    resolver = resolver or get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += api_routes(pattern, prefix + route)
        elif isinstance(pattern, URLPattern) and (prefix + route).startswith("api/"):
            if route.startswith("^"):  # the catch-all JSON 404, not an endpoint
                continue
            path = "/" + prefix + route
            for converter in ("int:", "str:", "slug:"):
                path = path.replace("<" + converter, "{")
            found.append(path.replace(">", "}"))
    return found


def test_every_api_route_is_in_the_schema():
    routes = api_routes()
    assert len(routes) >= 8
    missing = sorted(set(routes) - set(SPEC["paths"]))
    assert not missing, f"routes missing from openapi.json: {missing}"
    assert not sorted(set(SPEC["paths"]) - set(routes)), "openapi.json lists routes that do not exist"
