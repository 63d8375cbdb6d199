"""`Authorization: Api-Key <key>`: machine-to-machine clients (POS, web shop, apps).

Keys are looked up by their public prefix and compared by hash in constant time. The request's
user is the client's service account (so ledger entries and member events are attributed to the
client) and `request.auth` is the ApiClient. Models are imported lazily: this module is imported
by loyalty.core.api.mixins, which may be imported before the app registry is ready.
"""

import hmac
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

KEYWORD = "Api-Key"


class ApiKeyAuthentication(BaseAuthentication):
    keyword = KEYWORD

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() != self.keyword.lower():
            return None  # not ours: token or session authentication may take it
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Give the key after 'Api-Key', with no spaces.")
            )
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from None
        return self.authenticate_key(request, key)

    def authenticate_key(self, request: Request, key: str) -> tuple[Any, Any]:
        from loyalty.integrations.services import (
            api_client_by_prefix,
            api_client_touch,
            key_hash,
            key_split,
        )

        prefix = key_split(key)
        client = api_client_by_prefix(prefix) if prefix else None
        replaced = client is not None and client.prefix != prefix
        expected = (client.previous_key_hash if replaced else client.key_hash) if client else ""
        if client is None or not hmac.compare_digest(expected, key_hash(key)):
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        # The request log records refused calls of a known key too (a revoked key still in use).
        request._request.api_client_id = client.pk  # type: ignore[attr-defined]
        now = timezone.now()
        if client.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                _("This API key has been revoked."), code="api_key_revoked"
            )
        if replaced and (
            client.previous_key_valid_until is None or now >= client.previous_key_valid_until
        ):
            raise exceptions.AuthenticationFailed(
                _("This API key was replaced by a new one (rotated); use the new key."),
                code="api_key_rotated",
            )
        if client.is_expired(now):
            raise exceptions.AuthenticationFailed(
                _("This API key expired at %(isoformat)s.")
                % {"isoformat": client.expires_at.isoformat()},  # type: ignore[union-attr]
                code="api_key_expired",
            )
        api_client_touch(client=client, now=now)
        return client.user, client

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
