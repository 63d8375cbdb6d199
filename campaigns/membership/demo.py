"""Demo paid club (idempotent): a yearly plan with benefits and a members-only reward, and a
few members who joined it (payment references marked DEMO)."""

from decimal import Decimal
from typing import Any

from campaigns.membership.models import ClubMembership, ClubPlan
from campaigns.membership.services import club_membership_join
from loyalty.core.exceptions import ApplicationError
from members.models import Member
from rewards.models import Reward


def load(stdout: Any) -> None:
    plan, _ = ClubPlan.objects.get_or_create(
        code="plus-yearly",
        defaults={
            "name": "Plus club, yearly",
            "description": "Double the fun: more points, cheaper rewards, free delivery.",
            "fee": Decimal("49.00"),
            "term_months": 12,
            "points_multiplier": Decimal("1.5"),
            "reward_discount_percent": Decimal("10"),
            "free_delivery": True,
            "grace_days": 14,
            "reminder_days": 7,
        },
    )
    lounge = Reward.objects.filter(code="chef-table").first()
    if lounge is not None and not plan.exclusive_rewards.exists():
        plan.exclusive_rewards.add(lounge)
    joined = 0
    if not ClubMembership.objects.exists():
        for member in Member.objects.filter(status=Member.Status.ACTIVE).order_by("pk")[:5]:
            try:
                club_membership_join(
                    member=member,
                    plan=plan,
                    payment_reference=f"DEMO-{member.pk}",
                    amount=plan.fee,
                    auto_renew=member.pk % 2 == 0,
                )
                joined += 1
            except ApplicationError:
                continue
    stdout.write(f"paid club: {joined} demo members joined {plan.name}")
