"""OpenAPI: every operation documents the error shape for the statuses it can answer."""

import inspect
from typing import Any

import uritemplate
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from loyalty.core.api.pagination import PAGE_PARAMETER_BOUNDS
from loyalty.core.api.strict import QUERY_TEXT_PATTERN, StrictSerializer, request_field_schema


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    extra = serializers.DictField(
        help_text="Details; validation errors list per-field messages under `fields`."
    )


_ERRORS = {
    "400": "Invalid input (code validation_error, per-field messages in extra.fields) or malformed JSON.",
    "401": "Missing or invalid credentials.",
    "403": "Authenticated but not allowed.",
    "404": "Not found.",
    "409": (
        "Conflicts with the current state or an earlier request (duplicate, insufficient "
        "points, inactive member, an idempotency key reused for a different request...)."
    ),
    "413": "The request body is too large.",
    "415": "The request body is not JSON.",
    "422": (
        "Well-formed but refused by a rule the schema cannot express (code validation_error, "
        "per-field messages in extra.fields, or the rule's own code): an unknown store or tier "
        "code, a date that must be in the future, a reason that an action needs."
    ),
    "429": "Too many requests; see the Retry-After header.",
}

# Codes the framework answers itself, by status (docs/api.md, "Status codes"); the codes of the
# ApplicationError subclasses are added from the classes, so a new error is listed at once.
FRAMEWORK_CODES = {
    "400": ["validation_error", "parse_error"],
    "401": ["not_authenticated", "authentication_failed"],
    "403": ["permission_denied"],
    "404": ["not_found"],
    "409": ["validation_error"],  # a value that must be unique is taken
    "413": ["request_too_large"],
    "415": ["unsupported_media_type"],
    "422": ["validation_error"],
    "429": ["throttled"],
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    "description": (
        "Same key and same request: the first answer is replayed; same key, different "
        "request: 409 idempotency_key_reused (docs/api.md, Idempotency)."
    ),
}
# body fields that name a row: an unknown one is a 404
REFERENCE_FIELDS = {"member_id", "member_number", "reward", "original_external_id"}
PAGING = {"limit", "offset"}


def error_codes_by_status() -> dict[str, list[str]]:
    """Every error code the API can answer, by HTTP status: the framework's and those of every
    ApplicationError subclass of the installed apps."""
    import importlib

    from django.apps import apps

    from loyalty.core.exceptions import ApplicationError

    for config in apps.get_app_configs():
        for module in ("exceptions", "api.views"):
            try:
                importlib.import_module(f"{config.name}.{module}")
            except ModuleNotFoundError:
                continue

    def subclasses(cls: type[ApplicationError]) -> list[type[ApplicationError]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    # only the project's apps' errors (a test module may define its own for the handler's tests)
    names = tuple(config.name for config in apps.get_app_configs())
    codes = {status: set(values) for status, values in FRAMEWORK_CODES.items()}
    for cls in subclasses(ApplicationError):
        if cls.__module__.startswith(tuple(f"{name}." for name in names)):
            codes.setdefault(str(cls.http_status), set()).add(cls.code)
    return {status: sorted(values) for status, values in sorted(codes.items())}


class LoyaltyAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = error_codes_by_status()
        error_ref = self.resolve_serializer(ErrorSerializer, "response").ref
        for status_code in self.error_statuses():
            if status_code in responses:
                continue
            listed = codes.get(status_code, [])
            schema = {
                "allOf": [
                    error_ref,
                    {"type": "object", "properties": {"code": {"type": "string", "enum": listed}}},
                ]
            }
            description = f"{_ERRORS[status_code]} Codes: {', '.join(listed)}."
            responses[status_code] = self._get_response_for_code(
                OpenApiResponse(schema, description=description), status_code
            )
        return responses

    def error_statuses(self) -> list[str]:
        """The error statuses this operation can answer (docs/api.md, "Status codes")."""
        method = self.method.upper()
        public = not self.view.get_permissions() if hasattr(self.view, "get_permissions") else False
        serializer = self.get_request_serializer() if method in WRITE_METHODS else None
        fields = set(getattr(force_instance(serializer), "fields", None) or {})
        query = {p["name"] for p in super()._get_parameters() if p.get("in") == "query"} - PAGING
        statuses = set()
        if self.path.startswith("/api/") or serializer is not None:
            statuses.add("400")  # unknown query parameters are refused under /api/ too
        if not public:
            statuses |= {"401", "403", "429"}
        elif getattr(self.view, "throttle_scope", None):
            statuses.add("429")
        if uritemplate.variables(self.path) or fields & REFERENCE_FIELDS:
            statuses.add("404")
        if serializer is not None:
            statuses |= {"413", "415"}
        if method in WRITE_METHODS and not public:
            if getattr(self.view, "idempotent", False):
                statuses.add("409")  # an idempotency key reused (docs/api.md)
            if serializer is not None:
                statuses.add("422")
        if query:
            statuses.add("422")  # a filter naming no row, a date out of range
        statuses |= set(getattr(self.view, "extra_error_statuses", {}).get(method, ()))
        return sorted(statuses)

    def _get_request_body(self, direction: str = "request") -> dict[str, Any] | None:
        body = super()._get_request_body(direction)
        if body is None:
            return None
        if getattr(self.get_request_serializer(), "schema_constraints", None):
            body["required"] = True  # its cross-field rule needs keys, so an empty body fails
        return body

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
        public = not self.view.get_permissions() if hasattr(self.view, "get_permissions") else False
        named = {(p.get("in"), p.get("name")) for p in parameters}
        if (
            self.method.upper() in WRITE_METHODS
            and not public
            and getattr(self.view, "idempotent", False)
            and ("header", "Idempotency-Key") not in named
        ):
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        for parameter in parameters:
            bounds = PAGE_PARAMETER_BOUNDS.get(parameter.get("name", ""))
            if parameter.get("in") == "query" and bounds:
                parameter["schema"] = {**bounds, **parameter.get("schema", {})}
            schema = parameter.get("schema", {})
            if parameter.get("in") == "query" and schema.get("type") == "string":
                # UnknownQueryParameterMiddleware refuses an empty value and NUL characters
                schema.setdefault("minLength", 1)
                if not {"pattern", "format", "enum"} & set(schema):
                    schema["pattern"] = QUERY_TEXT_PATTERN
        return parameters

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request":
            schema = request_field_schema(field, schema)
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        # Inputs say exactly what they accept: StrictSerializer refuses unknown keys, and a
        # serializer may add the cross-field rules it enforces (anyOf/oneOf of required keys).
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
            if schema.get("description") == inspect.getdoc(StrictSerializer):
                del schema["description"]  # inherited docstring, not the input's own
            schema.update(getattr(serializer, "schema_constraints", {}))
        return schema

    def get_serializer_name(self, serializer: Any, direction: Any) -> str:
        # Views nest InputSerializer/OutputSerializer (house style); qualify them by the view's
        # class so "TokenCreateApi.OutputSerializer" becomes the component "TokenCreateOutput".
        name = super().get_serializer_name(serializer, direction)
        qualname = serializer.__class__.__qualname__
        if "." in qualname:
            outer, inner = qualname.rsplit(".", 1)
            outer = outer.split(".")[-1].removesuffix("Api")
            return f"{outer}{inner.removesuffix('Serializer')}"
        return name
