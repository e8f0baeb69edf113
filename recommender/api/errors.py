"""JSON errors for the API: every failure is {"error": "..."} with a fitting status."""

import functools
import json
from collections.abc import Callable

from django.http import Http404, HttpRequest, JsonResponse

from embeddings.serving import NoActiveVersion, UnknownId


class BadRequest(ValueError):
    """Bad parameters or body: answered with HTTP 400."""


def error(message: str, status: int, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def json_api(view: Callable) -> Callable:
    """Turns the exceptions of the logic layer into JSON answers, so views hold only the happy path."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except BadRequest as exc:
            return error(str(exc), 400)
        except UnknownId as exc:
            return error(f"no vector in the active model for {exc.kind} ids {exc.ids}", 404, ids=exc.ids)
        except Http404 as exc:
            return error(str(exc) or "not found", 404)
        except NoActiveVersion:
            return error("no model version is active yet: train one (python manage.py train --wait)", 503)

    return wrapper


def allow(*methods: str) -> Callable:
    """Like require_http_methods, but the 405 answer is JSON too."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                response = error(f"method {request.method} not allowed; use {', '.join(methods)}", 405)
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def parse_json_object(body: bytes, allowed: set[str]) -> dict:
    if not body:
        raise BadRequest("the body is empty: send a JSON object")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")
    return data


def int_param(raw: object, name: str, default: int, low: int, high: int) -> int:
    """An integer within [low, high] from a query string or JSON value; bools and floats are refused."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool | float):
        raise BadRequest(f"{name} must be an integer from {low} to {high}")
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be an integer from {low} to {high}, not {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be from {low} to {high}, not {value}")
    return value


def id_list(raw: object, name: str, limit: int) -> list[int]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw):
        raise BadRequest(f"{name} must be a list of integer book ids")
    if len(raw) > limit:
        raise BadRequest(f"{name} holds {len(raw)} ids; at most {limit} are allowed")
    return list(dict.fromkeys(raw))
