"""Decorators of the API views: every failure is a JSON answer {"error": "..."} with a fitting status."""

import functools
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse

from embeddings.serving import TRAIN_COMMAND, NoActiveVersion, UnknownId
from recommender.api.answers import UnknownBooks
from recommender.api.params import BadRequest


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
        except RequestDataTooBig:
            return error(f"the body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes", 400)
        except UnknownBooks as exc:
            return error(str(exc), 404, ids=exc.ids)
        except UnknownId as exc:
            return error(f"no vector in the active model for {exc.kind} ids {exc.ids}", 404, ids=exc.ids)
        except Http404 as exc:
            return error(str(exc) or "not found", 404)
        except NoActiveVersion as exc:
            if exc.damaged:  # files missing or corrupt: say so rather than suggest training
                return error(str(exc), 503)
            return error(f"no model version is active yet: train one ({TRAIN_COMMAND})", 503)

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
