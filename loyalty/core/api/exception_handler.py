"""The one place where errors become HTTP responses.

Every error leaves the API as {"code", "message", "extra"}; validation failures use
code "validation_error" with per-field messages under extra.fields. A request that does not
match the documented schema is a 400; a well-formed one refused by a rule the schema cannot
express (a Django ValidationError raised by a service or model, or a code naming a store or
tier that does not exist) is a 422, so clients and the contract fuzzing can tell them apart;
a value that must be unique and is taken is a 409. Unknown exceptions are
left alone so they become a 500 (and get logged), never a disguised 4xx.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
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

    if isinstance(exc, RequestDataTooBig):
        # Django's own answer would be an HTML 400 page; a client gets the API's error shape
        return Response(
            {
                "code": "request_too_large",
                "message": "The request body is too large.",
                "extra": {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
            },
            status=413,
        )

    status_code = None
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
        status_code = 422
    if isinstance(exc, exceptions.ValidationError):
        codes = _leaf_codes(exc.get_codes())
        if codes and codes <= CONFLICT_CODES:
            status_code = 409
        elif codes and codes <= UNPROCESSABLE_CODES:
            status_code = 422
    if isinstance(exc, Http404):
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
        if status_code:
            response.status_code = status_code
        response.data = {
            "code": "validation_error",
            "message": _first_message(fields) or "Invalid input.",
            "extra": {"fields": fields},
        }
        return response

    assert isinstance(exc, exceptions.APIException)
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.Throttled):
        # drf-stubs omit the `wait` attribute that Throttled.__init__ sets
        wait: float | None = exc.wait  # type: ignore[attr-defined]
        if wait is not None:
            extra["retry_after_seconds"] = int(wait)
    detail = exc.detail
    response.data = {
        "code": exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code,
        "message": str(detail) if not isinstance(detail, (list, dict)) else exc.default_detail,
        "extra": extra,
    }
    return response


# DRF's codes for a well-formed value that cannot be used: a slug or key naming no row, a
# valid ISO date-time whose offset takes it outside the years the server can represent.
UNPROCESSABLE_CODES = {"does_not_exist", "overflow"}
# A value that must be unique and is already taken (a store code, ...): a conflict.
CONFLICT_CODES = {"unique", "unique_together"}


def _leaf_codes(codes: Any) -> set[str]:
    if isinstance(codes, dict):
        return set().union(*(_leaf_codes(value) for value in codes.values()))
    if isinstance(codes, list):
        return set().union(*(_leaf_codes(value) for value in codes))
    return {str(codes)}


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
