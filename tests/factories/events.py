"""Member event factories."""

from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from campaigns.events.models import Event, EventCheckIn, EventInvitation, EventRSVP
from tests.factories.members import MemberFactory


class EventFactory(DjangoModelFactory[Event]):
    """A published tasting with 10 places and 50 points for attending, starting in a week."""

    class Meta:
        model = Event

    name = factory.Sequence(lambda n: f"Tasting {n}")
    kind = Event.Kind.TASTING
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=2))
    capacity = 10
    points = 50
    status = Event.Status.PUBLISHED


class OpenEventFactory(EventFactory):
    """An event happening now: started ten minutes ago, check-in open for two more hours."""

    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=10))


class EventRSVPFactory(DjangoModelFactory[EventRSVP]):
    class Meta:
        model = EventRSVP

    event = factory.SubFactory(EventFactory)
    member = factory.SubFactory(MemberFactory)
    status = EventRSVP.Status.CONFIRMED
    queued_at = factory.LazyFunction(timezone.now)


class EventInvitationFactory(DjangoModelFactory[EventInvitation]):
    class Meta:
        model = EventInvitation

    event = factory.SubFactory(EventFactory)
    member = factory.SubFactory(MemberFactory)


class EventCheckInFactory(DjangoModelFactory[EventCheckIn]):
    class Meta:
        model = EventCheckIn

    event = factory.SubFactory(OpenEventFactory)
    member = factory.SubFactory(MemberFactory)
    checked_in_at = factory.LazyFunction(timezone.now)
    points = 0
