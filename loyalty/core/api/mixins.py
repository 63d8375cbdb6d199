"""The base every API view inherits: authentication, permissions and paging fixed in one place."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from loyalty.core.api.pagination import DefaultPagination
from loyalty.core.scopes import ScopeDeclaration

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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
            *super().get_permissions(),  # type: ignore[misc]
            *(cls() for cls in self.extra_permission_classes),
        ]


class PublicApiMixin:
    """The named escape hatch for the few endpoints that must answer anonymous callers."""

    authentication_classes: Sequence[type[BaseAuthentication]] = ()
    permission_classes: Sequence["_PermissionClass"] = ()
    throttle_classes: Sequence[type[BaseThrottle]] = ()


def paginate(*, view: Any, queryset: Any, serializer_class: Any) -> Any:
    """Page a queryset with the default paginator and serialize the page."""
    paginator = DefaultPagination()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
