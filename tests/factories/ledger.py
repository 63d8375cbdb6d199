"""Ledger factories. History is built through the services, never by inserting entries."""

from datetime import datetime
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from loyalty.ledger.models import EarningRule, PointsAccount, ProgrammeSettings
from loyalty.ledger.services import purchase_record
from tests.factories.members import MemberFactory


class ProgrammeSettingsFactory(DjangoModelFactory[ProgrammeSettings]):
    class Meta:
        model = ProgrammeSettings
        django_get_or_create = ("id",)

    id = 1
    points_per_unit = Decimal("1")
    pending_days = 0
    expiry_policy = ProgrammeSettings.ExpiryPolicy.MONTHS_AFTER
    expiry_months = 12
    time_zone = "Europe/London"


class PointsAccountFactory(DjangoModelFactory[PointsAccount]):
    """A zero-balance account; give it history with `earn()` or the services."""

    class Meta:
        model = PointsAccount

    member = factory.SubFactory(MemberFactory)


class EarningRuleFactory(DjangoModelFactory[EarningRule]):
    class Meta:
        model = EarningRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = EarningRule.Kind.MULTIPLIER
    multiplier = Decimal("2")


_counter = iter(range(1, 10**9))


def earn(member, amount="10.00", *, when: datetime | None = None, channel="store", **kwargs):
    """Record a purchase for `member` (the real path: rules, lots, entries)."""
    return purchase_record(
        member=member,
        channel=channel,
        external_id=kwargs.pop("external_id", f"T{next(_counter)}"),
        occurred_at=when or timezone.now(),
        amount=Decimal(amount),
        **kwargs,
    )
