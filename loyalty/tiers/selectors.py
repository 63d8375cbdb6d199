"""Reads of tiers: the ladder, a member's current tier, distribution."""

from django.db.models import Count, Q, QuerySet

from loyalty.tiers.models import Tier, TierAssignment, TierPolicy


def tier_policy_get() -> TierPolicy:
    policy, _ = TierPolicy.objects.get_or_create(pk=1)
    return policy


def tier_ladder() -> list[Tier]:
    """All tiers, lowest rank first."""
    return list(Tier.objects.order_by("rank"))


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


def tier_distribution() -> list[dict]:
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
