"""Merging duplicate members: the duplicate's live vouchers move to the survivor.

Registered with members.hooks.register_merge_hook (RewardsConfig.ready); runs inside
members.services.member_merge's transaction, before the duplicate is closed.
"""

from typing import Any

from django.utils import timezone

from rewards.models import Voucher


def voucher_member_merge(*, source: Any, target: Any, actor: Any = None) -> dict[str, Any]:
    """The duplicate's issued, unused, unexpired vouchers (bound to the member or not) move to
    the survivor with their code, expiry and reward unchanged. Redemptions, donations and used,
    expired or cancelled vouchers are facts of the past: they stay on the duplicate as history
    (the points they cost were spent by the duplicate). Idempotent: a second call finds no live
    voucher left on the duplicate."""
    now = timezone.now()
    ids = list(
        Voucher.objects.select_for_update()
        .filter(member_id=source.pk, status=Voucher.Status.ISSUED, expires_at__gt=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return {}
    Voucher.objects.filter(pk__in=ids).update(member_id=target.pk, updated_at=now)
    return {"vouchers": ids}
