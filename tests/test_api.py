"""The JSON API contract over the real sample and a real trained version: results, errors, CORS."""

import json

import pytest

from recommender.catalogue.models import Book, BookLink, Link

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, trained_catalogue):
    return client


def book(title: str) -> Book:
    return Book.objects.get(title=title)


def test_search_books_ranks_exact_then_prefix(api):
    results = api.get("/api/books/?q=stranger in a strange land").json()["results"]
    assert results[0]["title"] == "Stranger in a Strange Land"
    prefix = api.get("/api/books/?q=the&limit=5").json()["results"]
    assert len(prefix) == 5 and all(r["title"].lower().startswith("the") for r in prefix)
    accents = api.get("/api/books/?q=encyclopedie").json()["results"]
    assert [r["title"] for r in accents] == ["Encyclopédie"]
    by_author = api.get("/api/books/?q=heinlein&limit=50").json()["results"]
    assert len(by_author) >= 30 and all("Heinlein" in r["author"] for r in by_author)


def test_show_book(api):
    barber = book("The Wealthy Barber")
    body = api.get(f"/api/books/{barber.id}/").json()
    assert body["title"] == "The Wealthy Barber" and body["author"] == "David Chilton"
    assert body["infobox"]["isbn"] == "0-7737-5318-4"
    assert body["wikipedia_url"].endswith("/The_Wealthy_Barber")
    assert {"id", "name", "book_count"} <= set(body["links"][0])
    assert len(body["links"]) == barber.links.count()


def test_similar_books_contract(api):
    query = book("Red Planet (novel)")
    response = api.get(f"/api/books/{query.id}/similar/?k=7")
    assert response.status_code == 200
    body = response.json()
    assert body["book"]["id"] == query.id
    results = body["results"]
    assert len(results) == 7
    assert query.id not in [r["id"] for r in results]
    assert all({"id", "title", "author", "genre", "similarity", "shared_links"} <= set(r) for r in results)
    similarities = [r["similarity"] for r in results]
    assert similarities == sorted(similarities, reverse=True) and all(-1 <= s <= 1 for s in similarities)
    # every shared link is really a link of both books, at most five of them
    query_links = set(query.links.values_list("name", flat=True))
    for result in results:
        assert len(result["shared_links"]) <= 5
        theirs = set(Link.objects.filter(book_links__book_id=result["id"]).values_list("name", flat=True))
        assert set(result["shared_links"]) <= query_links & theirs
    assert any(r["shared_links"] for r in results)


def test_links_endpoints(api):
    mars = api.get("/api/links/?q=mars").json()["results"]
    assert mars[0]["name"] == "mars"
    link_id = mars[0]["id"]
    similar = api.get(f"/api/links/{link_id}/similar/?k=5").json()
    assert similar["link"]["name"] == "mars" and len(similar["results"]) == 5
    assert link_id not in [r["id"] for r in similar["results"]]
    books = api.get(f"/api/links/{link_id}/books/?k=5").json()
    assert len(books["results"]) == 5
    assert any("mars" in r["shared_links"] for r in books["results"])


def test_recommend(api):
    liked = [book("Red Planet (novel)").id, book("Space Cadet").id]
    disliked = [book("The Wealthy Barber").id]
    response = api.post(
        "/api/recommend/", {"liked": liked, "disliked": disliked, "k": 10}, content_type="application/json"
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 10
    assert not {r["id"] for r in results} & set(liked + disliked)
    heinlein = sum("Heinlein" in r["author"] for r in results)
    assert heinlein >= 1  # the liked books are Heinlein juveniles


@pytest.mark.parametrize(
    "url, message",
    [
        ("/api/books/{id}/similar/?k=0", "k must be from 1 to 100"),
        ("/api/books/{id}/similar/?k=101", "k must be from 1 to 100"),
        ("/api/books/{id}/similar/?k=ten", "k must be an integer"),
        ("/api/books/?q=", "q is required"),
        ("/api/books/?q=x&limit=0", "limit must be from 1 to 50"),
        ("/api/links/?q=", "q is required"),
    ],
)
def test_bad_parameters_are_400(api, url, message):
    response = api.get(url.format(id=book("Space Cadet").id))
    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "body, message",
    [
        ("", "the body is empty"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"liked": [1], "likes": [2]}', "unknown fields: likes"),
        ("{}", "at least one book"),
        ('{"liked": ["1"]}', "list of integer book ids"),
        ('{"liked": [true]}', "list of integer book ids"),
        ('{"liked": [1], "k": 0}', "k must be from 1 to 100"),
        ('{"liked": [1], "k": 2.5}', "k must be an integer"),
        (json.dumps({"liked": list(range(1, 52))}), "at most 50"),
        ('{"liked": [1], "disliked": [1]}', "both liked and disliked"),
    ],
)
def test_bad_recommend_bodies_are_400(api, body, message):
    response = api.post("/api/recommend/", body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_unknown_ids_are_404(api):
    assert api.get("/api/books/99999999/").status_code == 404
    response = api.get("/api/books/99999999/similar/")
    assert response.status_code == 404 and response.json()["error"] == "no book with id 99999999"
    assert api.get("/api/links/99999999/books/").status_code == 404
    response = api.post("/api/recommend/", {"liked": [99999999]}, content_type="application/json")
    assert response.status_code == 404 and response.json()["ids"] == [99999999]
    assert api.get("/api/nothing/here/").json()["error"] == "no API endpoint at /api/nothing/here/"


def test_book_without_vector_is_404(api):
    lonely = Book.objects.create(title="A book added after training")
    response = api.get(f"/api/books/{lonely.id}/similar/")
    assert response.status_code == 404
    assert "no vector in the active model" in response.json()["error"]


def test_wrong_method_is_405_json(api):
    response = api.get("/api/recommend/")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert "not allowed" in response.json()["error"]


def test_recommend_needs_no_csrf_token(trained_catalogue):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    space_cadet = Book.objects.get(title="Space Cadet").id
    response = strict.post("/api/recommend/", json.dumps({"liked": [space_cadet]}), content_type="application/json")
    assert response.status_code == 200


def test_cors_headers_on_get(api):
    response = api.get("/api/books/?q=mars", HTTP_ORIGIN="https://books.example.org")
    assert response["Access-Control-Allow-Origin"] == "*"
    preflight = api.options(
        "/api/recommend/",
        HTTP_ORIGIN="https://books.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert preflight.status_code == 200 and "POST" in preflight["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Origin" not in api.get("/books/", HTTP_ORIGIN="https://x.example").headers


def test_schema_documents_every_route(api):
    schema = api.get("/api/schema/").json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/books/",
        "/api/books/{book_id}/",
        "/api/books/{book_id}/similar/",
        "/api/links/",
        "/api/links/{link_id}/similar/",
        "/api/links/{link_id}/books/",
        "/api/recommend/",
        "/api/schema/",
        "/api/widget/",
    }
    assert BookLink.objects.exists()
