"""Errors raised outside the API views (URL resolution) still answer API clients in JSON."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "message": "Not found.", "extra": {}}, status=404)
    return page_not_found(request, exception)


def error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = {
            "code": "server_error",
            "message": "Internal error; it has been logged.",
            "extra": {},
        }
        return JsonResponse(body, status=500)
    return server_error(request)
