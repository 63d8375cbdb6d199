"""The one place where errors become HTTP responses.

Every error leaves the API as {"code", "message", "extra"}; validation failures use
code "validation_error" with per-field messages under extra.fields. Unknown exceptions are
left alone so they become a 500 (and get logged), never a disguised 4xx.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from loyalty.core.exceptions import ApplicationError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        set_rollback()
        return Response(
            {"code": exc.code, "message": exc.message, "extra": exc.extra},
            status=exc.http_status,
        )

    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    if isinstance(exc, exceptions.ValidationError):
        fields = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        response.data = {
            "code": "validation_error",
            "message": _first_message(fields) or "Invalid input.",
            "extra": {"fields": fields},
        }
        return response

    assert isinstance(exc, exceptions.APIException)
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        extra["retry_after_seconds"] = int(exc.wait)
    detail = exc.detail
    response.data = {
        "code": exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code,
        "message": str(detail) if not isinstance(detail, (list, dict)) else exc.default_detail,
        "extra": extra,
    }
    return response


def _first_message(fields: Any) -> str | None:
    """The first human message in a nested error structure, for clients that show one line."""
    if isinstance(fields, dict):
        for key, value in fields.items():
            message = _first_message(value)
            if message:
                return message if key == "non_field_errors" else f"{key}: {message}"
    elif isinstance(fields, list):
        for value in fields:
            message = _first_message(value)
            if message:
                return message
    elif fields:
        return str(fields)
    return None
