"""Prize wheel factories."""

import factory
from factory.django import DjangoModelFactory

from campaigns.games.models import PrizeWheel, WheelPrize, WheelSpinGrant
from tests.factories.members import MemberFactory


class PrizeWheelFactory(DjangoModelFactory[PrizeWheel]):
    """An open wheel costing 10 points a spin, with no prizes yet."""

    class Meta:
        model = PrizeWheel

    name = factory.Sequence(lambda n: f"Wheel {n}")
    spin_cost = 10
    is_active = True


class WheelPrizeFactory(DjangoModelFactory[WheelPrize]):
    """A 50-point prize of weight 1, unlimited."""

    class Meta:
        model = WheelPrize

    wheel = factory.SubFactory(PrizeWheelFactory)
    label = factory.Sequence(lambda n: f"Prize {n}")
    kind = WheelPrize.Kind.POINTS
    points = 50
    weight = 1
    stock = None


class WheelSpinGrantFactory(DjangoModelFactory[WheelSpinGrant]):
    class Meta:
        model = WheelSpinGrant

    wheel = factory.SubFactory(PrizeWheelFactory)
    member = factory.SubFactory(MemberFactory)
    spins = 1
    reason = "Test grant"
    idempotency_key = factory.Sequence(lambda n: f"grant-{n}")


def sweepstake(**fields):
    """A sweepstake through the service (its seed committed), drawing in a week by default."""
    from datetime import timedelta

    from django.utils import timezone

    from campaigns.games.services import sweepstake_create

    defaults = {
        "name": f"Sweepstake {SweepstakeCounter.next()}",
        "draw_at": timezone.now() + timedelta(days=7),
        "prize_points": 500,
    }
    return sweepstake_create(**{**defaults, **fields})


class SweepstakeCounter:
    n = 0

    @classmethod
    def next(cls) -> int:
        cls.n += 1
        return cls.n
