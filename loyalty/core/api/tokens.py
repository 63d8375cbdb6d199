"""Staff API tokens (`Authorization: Token <key>`): a lifetime, the last use, re-issue.

DRF's Token has a key, a user and a creation time. Here:
- a token older than STAFF_TOKEN_LIFETIME_HOURS (settings; 0: no limit) is refused with 401
  `token_expired`; logging in again at POST /api/v1/auth/token/ issues a new one;
- its last use is recorded at most once a minute (core.StaffTokenActivity), shown in the admin;
- `{"rotate": true}` on the token endpoint replaces the token at once (the old key is refused
  with 401 from then on); deleting it in the admin revokes it.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

# Models are imported inside the functions: loyalty.core.api.mixins imports this module, and
# may be imported before the app registry is ready.

LAST_USED_RESOLUTION = timedelta(minutes=1)


def staff_token_lifetime() -> timedelta | None:
    hours = int(getattr(settings, "STAFF_TOKEN_LIFETIME_HOURS", 0) or 0)
    return timedelta(hours=hours) if hours > 0 else None


def staff_token_expires_at(token: Any) -> datetime | None:
    lifetime = staff_token_lifetime()
    return token.created + lifetime if lifetime is not None else None


def staff_token_is_expired(token: Any, *, now: datetime | None = None) -> bool:
    expires = staff_token_expires_at(token)
    return expires is not None and (now or timezone.now()) >= expires


@transaction.atomic
def staff_token_issue(*, user: Any, rotate: bool = False) -> Any:
    """The user's token: the current one, or a new one when there is none, it has expired or
    `rotate` asks for a new one (the old key stops working at once)."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and (rotate or staff_token_is_expired(token)):
        token.delete()
        token = None
    if token is None:
        token = Token.objects.create(user=user)
    return token


def staff_token_touch(*, token: Any, now: datetime) -> None:
    """Record use at most once a minute (one conditional write, none within the minute)."""
    from loyalty.core.models import StaffTokenActivity

    activity = getattr(token, "activity", None)
    if activity is not None and now - activity.last_used_at < LAST_USED_RESOLUTION:
        return
    if activity is None:
        StaffTokenActivity.objects.bulk_create(
            [StaffTokenActivity(token_id=token.key, last_used_at=now)], ignore_conflicts=True
        )
    else:
        StaffTokenActivity.objects.filter(
            token_id=token.key, last_used_at__lt=now - LAST_USED_RESOLUTION
        ).update(last_used_at=now)


class StaffTokenAuthentication(TokenAuthentication):
    """DRF's token authentication plus the lifetime and the last-used time."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        from rest_framework.authtoken.models import Token

        try:
            token = Token.objects.select_related("user", "activity").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        now = timezone.now()
        expires = staff_token_expires_at(token)
        if expires is not None and now >= expires:
            raise exceptions.AuthenticationFailed(
                _(
                    "This token expired at %(isoformat)s; log in again at POST /api/v1/auth/token/ for a new one."
                )
                % {"isoformat": expires.isoformat()},
                code="token_expired",
            )
        staff_token_touch(token=token, now=now)
        return token.user, token
