"""Real answers of the API validate against the response schemas of its own OpenAPI document."""

import json

import jsonschema
import pytest

from recommender.api.views import SCHEMA
from recommender.catalogue.models import Book, Link

pytestmark = pytest.mark.django_db

SPEC = json.loads(SCHEMA.read_text())


def validate(path: str, method: str, status: str, body: dict) -> None:
    operation = SPEC["paths"][path][method]
    response = operation["responses"][status]
    if "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    # the spec is the root document, so that "#/components/..." references resolve
    jsonschema.Draft202012Validator({**schema, "components": SPEC["components"]}).validate(body)


def test_answers_match_the_schema(client, trained_catalogue):
    book = Book.objects.get(title="Red Planet (novel)")
    link = Link.objects.get(name="mars")
    validate("/api/books/", "get", "200", client.get("/api/books/?q=planet").json())
    validate("/api/books/{book_id}/", "get", "200", client.get(f"/api/books/{book.id}/").json())
    validate("/api/books/{book_id}/similar/", "get", "200", client.get(f"/api/books/{book.id}/similar/").json())
    validate("/api/links/", "get", "200", client.get("/api/links/?q=mars").json())
    validate("/api/links/{link_id}/similar/", "get", "200", client.get(f"/api/links/{link.id}/similar/").json())
    validate("/api/links/{link_id}/books/", "get", "200", client.get(f"/api/links/{link.id}/books/").json())
    answer = client.post("/api/recommend/", {"liked": [book.id]}, content_type="application/json").json()
    validate("/api/recommend/", "post", "200", answer)
    validate("/api/books/{book_id}/similar/", "get", "400", client.get(f"/api/books/{book.id}/similar/?k=0").json())
    validate("/api/books/{book_id}/similar/", "get", "404", client.get("/api/books/99999999/similar/").json())


def test_a_wrong_answer_fails_validation(trained_catalogue):
    with pytest.raises(jsonschema.ValidationError):
        validate("/api/books/{book_id}/similar/", "get", "200", {"book": {"id": 1}, "results": [{"id": "x"}]})
