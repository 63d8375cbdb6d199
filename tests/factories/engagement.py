"""Engagement factories. Badges, streaks and stages are normally made by the services (the
posting hook, the nightly job); these factories exist for rules, settings and direct fixtures."""

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from campaigns.engagement.models import (
    BadgeRule,
    EngagementSettings,
    EventAttendance,
    MemberBadge,
    MemberStage,
    Stage,
    StageChange,
    VipOfMonth,
)
from tests.factories.members import MemberFactory


class EngagementSettingsFactory(DjangoModelFactory[EngagementSettings]):
    class Meta:
        model = EngagementSettings
        django_get_or_create = ("id",)

    id = 1


class BadgeRuleFactory(DjangoModelFactory[BadgeRule]):
    class Meta:
        model = BadgeRule

    name = factory.Sequence(lambda n: f"Badge {n}")
    code = factory.Sequence(lambda n: f"badge-{n}")
    kind = BadgeRule.Kind.PURCHASES
    threshold = 3


class MemberBadgeFactory(DjangoModelFactory[MemberBadge]):
    class Meta:
        model = MemberBadge

    member = factory.SubFactory(MemberFactory)
    rule = factory.SubFactory(BadgeRuleFactory)
    awarded_at = factory.LazyFunction(timezone.now)
    source = "nightly"


class MemberStageFactory(DjangoModelFactory[MemberStage]):
    class Meta:
        model = MemberStage

    member = factory.SubFactory(MemberFactory)
    stage = Stage.NEW
    since = factory.LazyFunction(timezone.now)


class StageChangeFactory(DjangoModelFactory[StageChange]):
    class Meta:
        model = StageChange

    member = factory.SubFactory(MemberFactory)
    from_stage = ""
    to_stage = Stage.NEW
    changed_at = factory.LazyFunction(timezone.now)
    cause = "nightly"


class EventAttendanceFactory(DjangoModelFactory[EventAttendance]):
    class Meta:
        model = EventAttendance

    member = factory.SubFactory(MemberFactory)
    event_ref = factory.Sequence(lambda n: f"event-{n}")
    attended_at = factory.LazyFunction(timezone.now)


class VipOfMonthFactory(DjangoModelFactory[VipOfMonth]):
    class Meta:
        model = VipOfMonth

    month = factory.LazyFunction(lambda: timezone.now().date().replace(day=1))
    member = factory.SubFactory(MemberFactory)
    spend = 100
