"""Every answer under /api/ is JSON in the API's error shape, whatever the settings.

The DRF exception handler shapes errors raised inside API views. What happens outside them
(a URL no pattern matches, such as `/api/v1/members/null,null/`; a request refused by a
middleware; an exception while DEBUG is on, when Django answers with its HTML debug pages
instead of calling handler404/handler500) is reshaped here: `handler404`/`handler500` for
DEBUG off, and `ApiJsonErrorsMiddleware` for any error response that is not JSON already.
"""

from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from django.views.defaults import page_not_found, server_error

API_PREFIX = "/api/"

# HTTP status -> the error code clients see, the same codes DRF's exceptions use
CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}
MESSAGES = {404: "Not found.", 500: "Internal error; it has been logged."}


def api_error(status: int) -> JsonResponse:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = {
        "code": CODES.get(status, "server_error" if status >= 500 else "error"),
        "message": MESSAGES.get(status, f"{phrase}."),
        "extra": {},
    }
    return JsonResponse(body, status=status)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return api_error(404)
    return page_not_found(request, exception)


def error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        return api_error(500)
    return server_error(request)


class ApiJsonErrorsMiddleware:
    """Reshape an error answer under /api/ that is not JSON (Django's HTML 404 or debug page)
    into {"code", "message", "extra"} with the same status. JSON answers pass untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith(API_PREFIX)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            reshaped = api_error(response.status_code)
            for header in ("WWW-Authenticate", "Retry-After", "Allow"):
                if header in response:
                    reshaped[header] = response[header]
            return reshaped
        return response


FAVICON = Path(settings.BASE_DIR) / "static" / "favicon.ico"


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> FileResponse:
    """/favicon.ico, which browsers ask for on every page whatever the page links to."""
    return FileResponse(FAVICON.open("rb"), content_type="image/x-icon")
