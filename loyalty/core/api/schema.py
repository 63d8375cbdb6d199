"""OpenAPI: every operation documents the error shape for the statuses it can answer."""

import inspect
from typing import Any

from drf_spectacular.openapi import AutoSchema
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
    "409": "Conflicts with the current state (duplicate, insufficient points, inactive member...).",
    "422": (
        "Well-formed but refused by a rule the schema cannot express (code validation_error, "
        "per-field messages in extra.fields): an unknown store or tier code, a date that must "
        "be in the future, a reason that an action needs."
    ),
    "429": "Too many requests; see the Retry-After header.",
}


class LoyaltyAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        public = not self.view.get_permissions() if hasattr(self.view, "get_permissions") else False
        for status_code, description in _ERRORS.items():
            if public and status_code in {"401", "403"}:
                continue
            if status_code not in responses:
                responses[status_code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), status_code
                )
        return responses

    def _get_request_body(self, direction: str = "request") -> dict[str, Any] | None:
        body = super()._get_request_body(direction)
        if body is None:
            return None
        if getattr(self.get_request_serializer(), "schema_constraints", None):
            body["required"] = True  # its cross-field rule needs keys, so an empty body fails
        return body

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters = super()._get_parameters()
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
