"""OpenAPI: the Api-Key scheme, so /api/schema/ lists it beside the token and the session."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "loyalty.integrations.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "An API client key, sent as `Authorization: Api-Key <key>`. Keys are created "
                "in the admin (API clients) or with `manage.py create_api_client`; each carries "
                "scopes and a per-minute rate limit. See docs/api.md."
            ),
        }
