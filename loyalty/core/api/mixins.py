"""The base every API view inherits: authentication, permissions and paging fixed in one place."""

from collections.abc import Sequence
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from loyalty.core.api.pagination import DefaultPagination
from loyalty.core.scopes import ScopeDeclaration


class ApiAuthMixin:
    """Authenticated by staff token, API key or session; override only through
    `extra_permission_classes`.

    Authentication, throttling and the base permissions (signed in, and holding the scope the
    view declares) are REST_FRAMEWORK's DEFAULT_* settings (config/settings/rest_framework.py):
    the API-key classes live in loyalty.integrations, which core may not import, so the project
    settings name them.

    Every view declares `required_scope`: a scope from loyalty/core/scopes.py, or a mapping of
    HTTP method to scope. An API key needs that scope; a staff user needs the Django permissions
    the scope maps to. No scope (None) closes the view to API keys.
    """

    required_scope: ScopeDeclaration = None
    extra_permission_classes: Sequence[type[BasePermission]] = ()

    def get_permissions(self) -> list[Any]:
        return [
            *super().get_permissions(),  # type: ignore[misc]
            *(cls() for cls in self.extra_permission_classes),
        ]


class PublicApiMixin:
    """The named escape hatch for the few endpoints that must answer anonymous callers."""

    authentication_classes: Sequence[type[BaseAuthentication]] = ()
    permission_classes: Sequence[type[BasePermission]] = ()
    throttle_classes: Sequence[type[BaseThrottle]] = ()


def paginate(*, view: Any, queryset: Any, serializer_class: Any) -> Any:
    """Page a queryset with the default paginator and serialize the page."""
    paginator = DefaultPagination()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
