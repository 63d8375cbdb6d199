"""The base every API view inherits: authentication, permissions and paging fixed in one place."""

from collections.abc import Sequence
from typing import Any

from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
)
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.throttling import BaseThrottle

from loyalty.core.api.pagination import DefaultPagination

# The API key machinery lives in the integrations app (it owns the ApiClient model); these
# modules import no models at import time, so core may use them without a cycle.
from loyalty.integrations.authentication import ApiKeyAuthentication
from loyalty.integrations.permissions import HasRequiredScope
from loyalty.integrations.scopes import ScopeDeclaration
from loyalty.integrations.throttling import ApiKeyRateThrottle

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ApiAuthMixin:
    """Authenticated by staff token, API key or session; override only through
    `extra_permission_classes`.

    Every view declares `required_scope`: a scope from loyalty/integrations/scopes.py, or a
    mapping of HTTP method to scope. An API key needs that scope; a staff user needs the Django
    permissions the scope maps to. No scope (None) closes the view to API keys.
    """

    authentication_classes: Sequence[type[BaseAuthentication]] = (
        TokenAuthentication,
        ApiKeyAuthentication,
        SessionAuthentication,
    )
    throttle_classes: Sequence[type[BaseThrottle]] = (ApiKeyRateThrottle,)
    required_scope: ScopeDeclaration = None
    extra_permission_classes: Sequence[type[BasePermission]] = ()
    # error statuses the OpenAPI schema cannot infer for a method (loyalty/core/api/schema.py)
    extra_error_statuses: dict[str, list[str]] = {}
    # Every write follows one idempotency rule (loyalty/core/idempotency.py); a view
    # whose body carries its own key field names it here (the Idempotency-Key header else).
    idempotency_body_field: str | None = None
    # False only for a POST that changes nothing (a read with a body, such as the privacy
    # export, whose answer must not be stored): it takes no key
    idempotent: bool = True

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        method = (request.method or "").lower()
        if self.idempotent and request.method in WRITE_METHODS and hasattr(self, method):
            # models are imported here, not at module level (this module loads before apps)
            from loyalty.core.idempotency import wrap_handler

            # the view instance lives for this one request: bind the wrapped handler to it
            setattr(self, method, wrap_handler(self, request, getattr(self, method)))

    def get_permissions(self) -> list[Any]:
        return [
            IsAuthenticated(),
            HasRequiredScope(),
            *(cls() for cls in self.extra_permission_classes),
        ]


class PublicApiMixin:
    """The named escape hatch for the few endpoints that must answer anonymous callers."""

    authentication_classes: Sequence[type[BaseAuthentication]] = ()
    permission_classes: Sequence[type[BasePermission]] = ()


def paginate(*, view: Any, queryset: Any, serializer_class: Any) -> Any:
    """Page a queryset with the default paginator and serialize the page."""
    paginator = DefaultPagination()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
