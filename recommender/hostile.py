"""Query strings with control characters (NUL above all, which PostgreSQL refuses in any text) are a 400 up front.

No title, author or link holds a control character, so such a request is never a real search; refusing it
here keeps every page and API view from passing it to the database. Tab, line feed and carriage return are the
exception: a textarea sent by GET (the librarian's "compare these books", one title a line) holds them.
"""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

TEXTAREA_WHITESPACE = frozenset("\t\n\r")


def has_control_characters(text: str) -> bool:
    return any((ord(char) < 32 and char not in TEXTAREA_WHITESPACE) or ord(char) == 127 for char in text)


class RejectControlCharactersMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any(has_control_characters(key + value) for key, values in request.GET.lists() for value in values):
            message = "the query string holds control characters"
            if request.path.startswith("/api/"):
                return JsonResponse({"error": message}, status=400)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
