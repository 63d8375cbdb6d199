"""Campaign factories. Campaigns are launched through the services (audience, holdout, audit)."""

from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from campaigns.models import (
    Campaign,
    MessageTemplate,
    Segment,
    SegmentCondition,
)


class SegmentFactory(DjangoModelFactory[Segment]):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")


class SegmentConditionFactory(DjangoModelFactory[SegmentCondition]):
    class Meta:
        model = SegmentCondition

    segment = factory.SubFactory(SegmentFactory)
    field = SegmentCondition.Field.STATUS
    operator = SegmentCondition.Operator.IS
    value = "active"


class CampaignFactory(DjangoModelFactory[Campaign]):
    """A draft multiplier campaign running from an hour ago for 30 days, no holdout."""

    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    mechanic = Campaign.Mechanic.MULTIPLIER
    multiplier = 2
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(days=30))
    holdout_percent = 0


class MessageTemplateFactory(DjangoModelFactory[MessageTemplate]):
    class Meta:
        model = MessageTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    subject = "Hello {{ first_name }}"
    text = "You have {{ balance }} points. {{ campaign }}"


def launch(campaign: Campaign, actor=None) -> Campaign:
    from campaigns.services import campaign_status_change

    return campaign_status_change(campaign=campaign, to_status=Campaign.Status.ACTIVE, actor=actor)
