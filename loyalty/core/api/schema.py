"""OpenAPI: every operation documents the error shape for the statuses it can answer."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


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
