"""The scope check every API view gets from ApiAuthMixin.

A view declares `required_scope` (see scopes.py). An API key needs that scope, and a key bound
to a store or channel may only name that store or channel in its request body. A staff user
(token or session) needs the Django permissions the scope maps to; superusers pass. A view that
declares no scope is closed to API keys and unchanged for staff.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from loyalty.core.scopes import AUTHENTICATED, SCOPE_PERMISSIONS, required_scope_for
from loyalty.integrations.exceptions import (
    ApiKeyNotAllowed,
    ChannelNotAllowed,
    PermissionMissing,
    ScopeMissing,
    StoreNotAllowed,
)


def api_client_of(request: Request) -> Any:
    """The ApiClient a request was authenticated with, or None (staff token or session)."""
    auth = getattr(request, "auth", None)
    return auth if getattr(auth, "is_api_client", False) else None


class HasRequiredScope(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        scope = required_scope_for(view, request.method or "GET")
        client = api_client_of(request)
        if client is not None:
            if scope is None:
                raise ApiKeyNotAllowed()
            if scope != AUTHENTICATED and scope not in client.scopes:
                raise ScopeMissing(
                    _("This API key lacks the scope %(scope)s.") % {"scope": repr(scope)},
                    extra={"required_scope": scope, "key_scopes": list(client.scopes)},
                )
            binding_check(request, client)
            return True
        if scope is None:
            return True
        needed = SCOPE_PERMISSIONS[scope]
        if request.user.has_perms(needed):
            return True
        raise PermissionMissing(
            _("Your user needs the permission %(join)s (%(scope)s).")
            % {"join": ", ".join(needed), "scope": scope},
            extra={"required_scope": scope, "required_permissions": list(needed)},
        )


def binding_check(request: Request, client: Any, data: Any = None) -> None:
    """A store- or channel-bound key may not report for another store or channel. `data`: one
    item of a batch body (each is checked); the request body when not given."""
    if client.store_id is None and not client.channel:
        return
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if data is None:
        data = request.data
    data = data if isinstance(data, dict) else {}
    store = data.get("store")
    named = store.strip().upper() if isinstance(store, str) else ""
    if client.store_id is not None and named and named != client.store.code.upper():
        raise StoreNotAllowed(
            _("This API key reports for store %(code)s only.") % {"code": client.store.code},
            extra={"store": store, "allowed_store": client.store.code},
        )
    channel = data.get("channel")
    if client.channel and isinstance(channel, str) and channel and channel != client.channel:
        raise ChannelNotAllowed(
            _("This API key reports through the %(channel)s channel only.")
            % {"channel": repr(client.channel)},
            extra={"channel": channel, "allowed_channel": client.channel},
        )
