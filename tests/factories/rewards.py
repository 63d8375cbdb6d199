"""Rewards factories. Redemptions and vouchers are never built directly: they come from
rewards.services (they spend ledger points), through the `redeemed` helper."""

import datetime

import factory
from factory.django import DjangoModelFactory

from rewards.models import Cause, Redemption, Reward, RewardCode, RewardsSettings, VoucherBatch


class RewardsSettingsFactory(DjangoModelFactory[RewardsSettings]):
    class Meta:
        model = RewardsSettings
        django_get_or_create = ("id",)

    id = 1
    points_payment_minimum = 100
    points_payment_step = 1
    voucher_undo_window_days = 30


class RewardFactory(DjangoModelFactory[Reward]):
    class Meta:
        model = Reward
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"reward-{n}")
    name = factory.Sequence(lambda n: f"Reward {n}")
    kind = Reward.Kind.GIFT
    points_cost = 100
    voucher_valid_days = 30


class CauseFactory(DjangoModelFactory[Cause]):
    """A cause members may give points to (donations come from rewards.services)."""

    class Meta:
        model = Cause
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"cause-{n}")
    name = factory.Sequence(lambda n: f"Cause {n}")
    kind = Cause.Kind.CHARITY


class RewardCodeFactory(DjangoModelFactory[RewardCode]):
    class Meta:
        model = RewardCode

    reward = factory.SubFactory(RewardFactory, kind=Reward.Kind.PARTNER_CODE)
    code = factory.Sequence(lambda n: f"PARTNER-{n:06d}")


class VoucherBatchFactory(DjangoModelFactory[VoucherBatch]):
    """A batch row only: its vouchers come from rewards.services.voucher_batch_import."""

    class Meta:
        model = VoucherBatch

    name = factory.Sequence(lambda n: f"Printed batch {n}")
    reward = factory.SubFactory(RewardFactory)
    valid_until = factory.LazyFunction(lambda: datetime.date.today() + datetime.timedelta(days=365))


def redeemed(*, member, reward, **kwargs) -> Redemption:
    from rewards.services import redemption_create

    return redemption_create(member=member, reward=reward, **kwargs)
