"""The base every API view inherits: authentication, permissions and paging fixed in one place."""

from collections.abc import Sequence
from typing import Any

from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.throttling import BaseThrottle

from loyalty.core.api.pagination import DefaultPagination
from loyalty.core.api.tokens import StaffTokenAuthentication

# The API key machinery lives in the integrations app (it owns the ApiClient model); these
# modules import no models at import time, so core may use them without a cycle.
from loyalty.integrations.authentication import ApiKeyAuthentication
from loyalty.integrations.permissions import HasRequiredScope
from loyalty.integrations.scopes import ScopeDeclaration
from loyalty.integrations.throttling import ApiKeyRateThrottle


class ApiAuthMixin:
    """Authenticated by staff token, API key or session; override only through
    `extra_permission_classes`.

    Every view declares `required_scope`: a scope from loyalty/integrations/scopes.py, or a
    mapping of HTTP method to scope. An API key needs that scope; a staff user needs the Django
    permissions the scope maps to. No scope (None) closes the view to API keys.
    """

    authentication_classes: Sequence[type[BaseAuthentication]] = (
        StaffTokenAuthentication,
        ApiKeyAuthentication,
        SessionAuthentication,
    )
    throttle_classes: Sequence[type[BaseThrottle]] = (ApiKeyRateThrottle,)
    required_scope: ScopeDeclaration = None
    extra_permission_classes: Sequence[type[BasePermission]] = ()

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
