"""Unknown, repeated and empty query parameters are refused, as unknown body fields are
(see strict.py).

A misspelt filter (`?stauts=active`) silently ignored returns the wrong list with a 200; this
middleware answers 400 naming the parameter instead. What each operation accepts is read from
the OpenAPI document the app serves, so the rule and the documentation cannot drift apart.
Paths outside the API (admin, clerk screen, schema, docs) are not touched.
"""

import re
import threading
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer

from loyalty.core.api.strict import text_error

API_PREFIX = "/api/v"
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


_SCHEMA_LOCK = threading.Lock()


def documented_query_parameters() -> dict[tuple[str, str], frozenset[str]]:
    """{(path template, METHOD): names of the query parameters the schema documents}."""
    # drf-spectacular's schema build is not thread-safe: two first requests in threads of one
    # worker (gunicorn gthread) raced inside it and answered 500. Built once, under a lock.
    with _SCHEMA_LOCK:
        return _documented_query_parameters()


@cache
def _documented_query_parameters() -> dict[tuple[str, str], frozenset[str]]:
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    allowed: dict[tuple[str, str], frozenset[str]] = {}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            allowed[(path, method.upper())] = frozenset(names)
    return allowed


class UnknownQueryParameterMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not request.GET or not request.path.startswith(API_PREFIX):
            return None
        match = request.resolver_match
        if match is None or not match.route:
            return None
        template = "/" + _CONVERTER.sub(r"{\1}", match.route)
        allowed = documented_query_parameters().get((template, request.method or "GET"))
        if allowed is None:
            return None  # not an operation of the schema (e.g. OPTIONS): nothing to compare to
        fields: dict[str, list[str]] = {}
        for name in request.GET:
            values = request.GET.getlist(name)
            if name not in allowed:
                fields[name] = ["Unknown query parameter."]
            elif len(values) > 1:
                fields[name] = ["Give this parameter once."]
            elif values[0] == "":
                fields[name] = ["Give a value or leave the parameter out."]
            elif text_error(values[0]):  # NUL, other control characters: as in a JSON body
                fields[name] = [str(text_error(values[0]))]
        if not fields:
            return None
        first = sorted(fields)[0]
        return JsonResponse(
            {
                "code": "validation_error",
                "message": f"{first}: {fields[first][0]}",
                "extra": {"fields": fields, "allowed": sorted(allowed)},
            },
            status=400,
        )


class StrictContentNegotiation(DefaultContentNegotiation):
    """`?format=` naming no format the operation offers is a bad parameter (400 naming it),
    as the schema's enum says; DRF's default answered 404, which no operation documents."""

    def filter_renderers(
        self, renderers: Iterable[BaseRenderer], format: str
    ) -> list[BaseRenderer]:
        renderers = list(renderers)  # read twice below
        offered = [renderer for renderer in renderers if renderer.format == format]
        if not offered:
            choices = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise ValidationError({"format": [f"Choose one of: {choices}."]})
        return offered
