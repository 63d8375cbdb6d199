"""Merging duplicate members: the duplicate's live paid-club membership moves to the survivor
when the survivor has none. Registered with members.hooks.register_merge_hook
(MembershipConfig.ready); runs inside members.services.member_merge's transaction, before the
duplicate is closed."""

from typing import Any

from django.utils import timezone

from campaigns.membership.models import ClubMembership
from campaigns.membership.selectors import local_day
from campaigns.membership.services import _lapse_if_over


def club_member_merge(*, source: Any, target: Any, actor: Any = None) -> dict[str, Any]:
    """A live (active) membership of the duplicate moves to a survivor without one, with its
    plan, dates, renewal setting and every paid term (terms belong to the membership). When both
    have a live membership both stay as they are, and the answer flags the pair for the merge
    event ("club_memberships_both"): the brand cancels and refunds one by hand. Lapsed and
    cancelled memberships stay on the duplicate as history. A membership past its grace period
    is lapsed first (the nightly bookkeeping), so it neither moves nor counts as live.
    Idempotent: a second call finds no live membership left on the duplicate (or flags the same
    pair again, changing nothing)."""
    today = local_day(timezone.now())
    live = {
        m.member_id: _lapse_if_over(m, today)
        for m in ClubMembership.objects.select_for_update(of=("self",))
        .select_related("plan")
        .filter(member_id__in=[source.pk, target.pk], status=ClubMembership.Status.ACTIVE)
        .order_by("pk")
    }
    live = {k: m for k, m in live.items() if m.status == ClubMembership.Status.ACTIVE}
    moving, keeping = live.get(source.pk), live.get(target.pk)
    if moving is None:
        return {}
    if keeping is not None:
        return {"club_memberships_both": [keeping.pk, moving.pk]}
    moving.member_id = target.pk
    moving.save(update_fields=["member", "updated_at"])
    return {"club_membership": moving.pk}
