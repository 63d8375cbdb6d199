"""Tier factories. Ladders and policies are data; assignments are made directly only to set up
a starting point (history that the services would have written)."""

from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from loyalty.tiers.models import Tier, TierAssignment, TierFloor, TierPolicy
from loyalty.tiers.windows import WindowKind
from tests.factories.members import MemberFactory


class TierPolicyFactory(DjangoModelFactory[TierPolicy]):
    class Meta:
        model = TierPolicy
        django_get_or_create = ("id",)

    id = 1
    basis = TierPolicy.Basis.POINTS
    window = WindowKind.CALENDAR_YEAR
    grace_days = 0
    one_tier_down = True


class TierFactory(DjangoModelFactory[Tier]):
    class Meta:
        model = Tier
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"tier-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    rank = factory.Sequence(lambda n: n + 10)
    threshold = factory.LazyAttribute(lambda o: Decimal(o.rank * 100))


def standard_ladder() -> dict[str, Tier]:
    """Member 0 / Silver 100 (x1.25, gift 50) / Gold 500 (x1.5, gift 200) / Platinum 1000 (x2)."""
    specs = [
        ("member", "Member", 0, "0", "1.00", 0),
        ("silver", "Silver", 1, "100", "1.25", 50),
        ("gold", "Gold", 2, "500", "1.50", 200),
        ("platinum", "Platinum", 3, "1000", "2.00", 0),
    ]
    return {
        code: TierFactory(
            code=code,
            name=name,
            rank=rank,
            threshold=Decimal(threshold),
            earn_multiplier=Decimal(multiplier),
            entry_gift_points=gift,
            free_shipping=rank >= 2,
            exclusive_rewards=rank >= 3,
        )
        for code, name, rank, threshold, multiplier, gift in specs
    }


class TierAssignmentFactory(DjangoModelFactory[TierAssignment]):
    class Meta:
        model = TierAssignment

    member = factory.SubFactory(MemberFactory)
    tier = factory.SubFactory(TierFactory)
    reason = TierAssignment.Reason.THRESHOLD
    valid_from = factory.LazyFunction(timezone.now)


class TierFloorFactory(DjangoModelFactory[TierFloor]):
    """A floor row only (a starting point); staff set floors through tier_floor_set, which also
    raises the member's tier."""

    class Meta:
        model = TierFloor

    member = factory.SubFactory(MemberFactory)
    tier = factory.SubFactory(TierFactory)
    reason = "employee"
