"""Paid club factories. Memberships and terms come from campaigns.membership.services (they
carry payments), through the `joined` helper."""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from campaigns.membership.models import ClubMembership, ClubPlan


class ClubPlanFactory(DjangoModelFactory[ClubPlan]):
    class Meta:
        model = ClubPlan
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.Sequence(lambda n: f"Plus club {n}")
    fee = Decimal("36.50")
    term_months = ClubPlan.Period.YEARLY
    points_multiplier = Decimal("1.5")
    reward_discount_percent = Decimal("10")
    free_delivery = True
    grace_days = 14
    reminder_days = 7


_payments = iter(range(1, 10**9))


def joined(member, plan, **kwargs) -> ClubMembership:
    from campaigns.membership.services import club_membership_join

    kwargs.setdefault("payment_reference", f"PAY-{next(_payments)}")
    kwargs.setdefault("amount", plan.fee)
    return club_membership_join(member=member, plan=plan, **kwargs)
