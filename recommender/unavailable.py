"""While the database is unreachable (a restart, a failover), requests fail fast with 503 JSON instead of a 500.

Django closes a connection that raised an error at the end of the request, so the next request reconnects:
once PostgreSQL is back, everything recovers by itself, with no restart of the web processes.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """Turns the driver's "cannot reach the server" errors into HTTP 503 with a JSON body and Retry-After."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> JsonResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable for %s: %s", request.path, exception)
        response = JsonResponse(
            {"error": "the database is unavailable for a moment; try again in a few seconds"}, status=503
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
