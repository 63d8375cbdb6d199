"""Reads of tiers: the ladder, a member's current tier, distribution."""

import copy
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet

from loyalty.core import config_cache
from loyalty.tiers.models import Tier, TierAssignment, TierPolicy

ZERO = Decimal("0")


def _policy_fresh() -> TierPolicy:
    policy, _ = TierPolicy.objects.get_or_create(pk=1)
    return policy


def _ladder_fresh() -> list[Tier]:
    return list(Tier.objects.order_by("rank"))


config_cache.register("tiers.policy", _policy_fresh, models=[TierPolicy])
config_cache.register("tiers.ladder", _ladder_fresh, models=[Tier])


def tier_policy_get() -> TierPolicy:
    """The tier policy from this process's cache (loyalty/core/config_cache.py); a copy."""
    cached: TierPolicy = config_cache.cached("tiers.policy")
    return copy.copy(cached)


def tier_ladder() -> list[Tier]:
    """All tiers, lowest rank first (this process's cache: read them, never change them)."""
    return list(config_cache.cached("tiers.ladder"))


def tier_current_assignment(*, member_id: int) -> TierAssignment | None:
    return (
        TierAssignment.objects.select_related("tier", "previous_tier", "downgrade_to")
        .filter(member_id=member_id, valid_to__isnull=True)
        .first()
    )


def tier_history(*, member_id: int) -> QuerySet[TierAssignment]:
    return TierAssignment.objects.select_related("tier", "previous_tier", "actor").filter(
        member_id=member_id
    )


def tier_distribution() -> list[dict[str, Any]]:
    """Members per tier (current assignments), with their share of all tiered members."""
    tiers = Tier.objects.annotate(
        members=Count("assignments", filter=Q(assignments__valid_to__isnull=True))
    ).order_by("rank")
    total = sum(tier.members for tier in tiers) or 1
    return [
        {
            "tier": tier.code,
            "name": tier.name,
            "members": tier.members,
            "share": tier.members / total,
        }
        for tier in tiers
    ]


@dataclass(frozen=True)
class TierProgress:
    member_id: int
    tier: Tier  # the current tier (the entry tier if none was assigned yet)
    assigned: bool  # False: no assignment row yet (the job or the first purchase makes one)
    since: datetime | None
    reason: str
    manual_until: date | None
    basis: str
    window_kind: str
    window_start: date
    window_end: date | None  # first day that no longer counts (None: lifetime)
    period_end: date | None  # next day the period-end job judges this member
    qualifying_value: Decimal
    next_tier: Tier | None
    needed_for_next: Decimal | None
    needed_to_keep: Decimal
    downgrade_due_on: date | None
    downgrade_to: Tier | None


def tier_member_progress(*, member: Any, today: date | None = None) -> TierProgress | None:
    """Current tier, qualifying value in the window, what is needed for the next tier and to
    keep this one, and when the window ends. None when the programme has no tiers."""
    from loyalty.tiers.qualifying import local_today, programme_zone, qualifying_values
    from loyalty.tiers.windows import period_end_for, window_for

    ladder = tier_ladder()
    if not ladder:
        return None
    policy = tier_policy_get()
    zone = programme_zone()
    today = today or local_today(zone)
    enrolled_on = member.enrolled_at.astimezone(zone).date()
    window = window_for(policy.window, today=today, enrolled_on=enrolled_on)
    value = qualifying_values(members=[member], policy=policy, today=today, zone=zone)[member.pk]
    current = tier_current_assignment(member_id=member.pk)
    tier = current.tier if current else ladder[0]
    higher = [t for t in ladder if t.rank > tier.rank]
    next_tier = higher[0] if higher else None
    return TierProgress(
        member_id=member.pk,
        tier=tier,
        assigned=current is not None,
        since=current.valid_from if current else None,
        reason=current.reason if current else "",
        manual_until=current.manual_until if current else None,
        basis=policy.basis,
        window_kind=policy.window,
        window_start=window.start,
        window_end=window.end,
        period_end=period_end_for(policy.window, today=today, enrolled_on=enrolled_on),
        qualifying_value=value,
        next_tier=next_tier,
        needed_for_next=max(next_tier.threshold - value, ZERO) if next_tier else None,
        needed_to_keep=max(tier.threshold - value, ZERO),
        downgrade_due_on=current.downgrade_due_on if current else None,
        downgrade_to=current.downgrade_to if current else None,
    )


def tier_current_by_member(*, member_ids: list[int]) -> dict[int, Tier]:
    """Current tier per member id in one query (for lists, segments, campaigns)."""
    rows = TierAssignment.objects.select_related("tier").filter(
        member_id__in=member_ids, valid_to__isnull=True
    )
    return {row.member_id: row.tier for row in rows}


def member_tier_export(member: Any) -> dict[str, Any]:
    """The tiers' section of a member's privacy export: the tier history."""
    return {
        "history": [
            {
                "tier": row.tier.code,
                "previous_tier": row.previous_tier.code if row.previous_tier else None,
                "reason": row.reason,
                "note": row.note,
                "valid_from": row.valid_from.isoformat(),
                "valid_to": row.valid_to.isoformat() if row.valid_to else None,
                "qualifying_value": str(row.qualifying_value)
                if row.qualifying_value is not None
                else None,
            }
            for row in tier_history(member_id=member.pk).order_by("valid_from", "id")
        ]
    }
