"""How the paid club plugs into the apps below it (registered in MembershipConfig.ready()):
the ledger's earning engine (points multiplier, also in bulk imports) and the rewards' member
prices and eligibility (discount, members-only rewards)."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from campaigns.membership.models import ClubMembership, ClubPlan
from campaigns.membership.selectors import club_memberships_in_force
from loyalty.core import config_cache
from loyalty.ledger.rules import Contribution, EarningContext
from rewards.hooks import PriceAdjustment


def club_contributions(membership: ClubMembership | None) -> list[Contribution]:
    if membership is None or membership.plan.points_multiplier == 1:
        return []
    plan = membership.plan
    return [
        Contribution(
            source=f"club:{plan.code}",
            label=f"{plan.name} (paid club)",
            multiplier=plan.points_multiplier,
        )
    ]


def _multiplier_plans_exist() -> bool:
    return ClubPlan.objects.exclude(points_multiplier=1).exists()


config_cache.register("membership.multipliers", _multiplier_plans_exist, models=[ClubPlan])


def club_multiplier_contributor(ctx: EarningContext) -> list[Contribution]:
    """The plan's multiplier when a membership is in force at the purchase's time. No query
    while no plan has a multiplier other than 1 (this process's cache of that fact)."""
    if ctx.member is None or ctx.member.pk is None:
        return []
    if not config_cache.cached("membership.multipliers"):
        return []
    found = club_memberships_in_force(member_ids=[ctx.member.pk], at=ctx.occurred_at)
    return club_contributions(found.get(ctx.member.pk))


class ClubBulkSimulator:
    """The club's part of a bulk transaction import (loyalty/ledger/bulk.py): the multiplier of
    the membership in force at each purchase's time, from the memberships loaded once."""

    def __init__(self, *, members: dict[int, datetime], now: datetime):
        self.by_member: dict[int, list[ClubMembership]] = {}
        ids = list(members)
        for offset in range(0, len(ids), 5000):
            for membership in ClubMembership.objects.select_related("plan").filter(
                member_id__in=ids[offset : offset + 5000]
            ):
                self.by_member.setdefault(membership.member_id, []).append(membership)

    def contributions(
        self, member_id: int, *, occurred_at: datetime | None = None
    ) -> list[Contribution]:
        memberships = self.by_member.get(member_id)
        if not memberships or occurred_at is None:
            return []
        from campaigns.membership.selectors import local_day, membership_holds_on

        day = local_day(occurred_at)
        for membership in sorted(memberships, key=lambda m: (m.started_on, m.pk), reverse=True):
            cancelled = (
                membership.cancelled_at is not None and membership.cancelled_at <= occurred_at
            )
            if not cancelled and membership_holds_on(membership, day):
                return club_contributions(membership)
        return []

    live = False  # set by the batch poster (loyalty/ledger/batch.py)

    @classmethod
    def batch_blocker(cls) -> str | None:
        return None

    def batch_single_reason(self, **posting: Any) -> str | None:
        return None

    def posted(self, **kwargs: Any) -> None:
        return None

    def refresh(self, members: dict[int, datetime]) -> None:
        return None  # nothing a purchase changes is held here

    def write(self) -> None:
        return None


def club_reward_discount(
    member: Any, rewards: list[Any], now: datetime
) -> dict[int, PriceAdjustment]:
    """The plan's reward discount for a member in force (donations are never discounted)."""
    membership = club_memberships_in_force(member_ids=[member.pk], at=now).get(member.pk)
    if membership is None or not membership.plan.reward_discount_percent:
        return {}
    plan = membership.plan
    adjustment = PriceAdjustment(
        source=f"club:{plan.code}",
        label=f"{plan.name} member price",
        percent_off=Decimal(plan.reward_discount_percent),
    )
    return {reward.pk: adjustment for reward in rewards if reward.kind != "donation"}


def club_exclusive_rewards(member: Any, rewards: list[Any], now: datetime) -> dict[int, str]:
    """Members-only rewards: refused unless the member's plan in force lists them."""
    ids = [reward.pk for reward in rewards]
    through = ClubPlan.exclusive_rewards.through
    plans_by_reward: dict[int, set[int]] = {}
    for reward_id, plan_id in through.objects.filter(reward_id__in=ids).values_list(
        "reward_id", "clubplan_id"
    ):
        plans_by_reward.setdefault(reward_id, set()).add(plan_id)
    if not plans_by_reward:
        return {}
    membership = club_memberships_in_force(member_ids=[member.pk], at=now).get(member.pk)
    held: int | None = membership.plan_id if membership else None
    return {
        reward_id: "Only for paid club members."
        for reward_id, plans in plans_by_reward.items()
        if held not in plans
    }
