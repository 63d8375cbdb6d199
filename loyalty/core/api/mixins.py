"""The base every API view inherits: authentication, permissions and paging fixed in one place."""

from collections.abc import Sequence
from typing import Any

from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
)
from rest_framework.permissions import BasePermission, IsAuthenticated

from loyalty.core.api.pagination import DefaultPagination


class ApiAuthMixin:
    """Authenticated by token or session; override only through `extra_permission_classes`."""

    authentication_classes: Sequence[type[BaseAuthentication]] = (
        TokenAuthentication,
        SessionAuthentication,
    )
    extra_permission_classes: Sequence[type[BasePermission]] = ()

    def get_permissions(self) -> list[Any]:
        return [IsAuthenticated(), *(cls() for cls in self.extra_permission_classes)]


class PublicApiMixin:
    """The named escape hatch for the few endpoints that must answer anonymous callers."""

    authentication_classes: Sequence[type[BaseAuthentication]] = ()
    permission_classes: Sequence[type[BasePermission]] = ()


def paginate(*, view: Any, queryset: Any, serializer_class: Any) -> Any:
    """Page a queryset with the default paginator and serialize the page."""
    paginator = DefaultPagination()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
