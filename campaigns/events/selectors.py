"""Member event reads: published events with their places, a member's RSVPs, the events open
for check-in now, and the counts the admin shows."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from campaigns.events.exceptions import EventNotFound
from campaigns.events.models import Event, EventRSVP

MAX_ID = 2**63 - 1
# check-in opens this long before the start (doors open, early arrivals) and closes at the end
CHECK_IN_EARLY = timedelta(hours=3)


@dataclass(frozen=True)
class EventPlaces:
    capacity: int
    taken: int
    left: int
    waitlisted: int
    checked_in: int


def event_places(*, event: Event) -> EventPlaces:
    """Places taken are the confirmed RSVPs (walk-ins get one at check-in)."""
    counts = EventRSVP.objects.filter(event=event).aggregate(
        taken=Count("pk", filter=Q(status=EventRSVP.Status.CONFIRMED)),
        waitlisted=Count("pk", filter=Q(status=EventRSVP.Status.WAITLISTED)),
    )
    taken = int(counts["taken"])
    return EventPlaces(
        capacity=event.capacity,
        taken=taken,
        left=max(event.capacity - taken, 0),
        waitlisted=int(counts["waitlisted"]),
        checked_in=event.check_ins.count(),
    )


def event_list_with_counts() -> QuerySet[Event]:
    """Every event with n_taken, n_waitlisted and n_checked_in (admin list, one query)."""
    return Event.objects.select_related("store", "segment").annotate(
        n_taken=Count("rsvps", filter=Q(rsvps__status=EventRSVP.Status.CONFIRMED), distinct=True),
        n_waitlisted=Count(
            "rsvps", filter=Q(rsvps__status=EventRSVP.Status.WAITLISTED), distinct=True
        ),
        n_checked_in=Count("check_ins", distinct=True),
    )


def event_list_published(*, now: datetime | None = None) -> QuerySet[Event]:
    """Published events that have not ended, soonest first, with their counts."""
    now = now or timezone.now()
    return (
        event_list_with_counts()
        .filter(status=Event.Status.PUBLISHED, ends_at__gt=now)
        .order_by("starts_at", "pk")
    )


def event_get(*, event_id: int) -> Event:
    """A published (or cancelled or finished, so members see what happened) event; never a
    draft. Raises EventNotFound."""
    event = None
    if 0 < event_id <= MAX_ID:
        event = (
            event_list_with_counts().exclude(status=Event.Status.DRAFT).filter(pk=event_id).first()
        )
    if event is None:
        raise EventNotFound(extra={"event_id": event_id})
    return event


def events_open_for_check_in(*, now: datetime | None = None) -> QuerySet[Event]:
    """Published events whose check-in is open now: from CHECK_IN_EARLY before the start to
    the end."""
    now = now or timezone.now()
    return (
        event_list_with_counts()
        .filter(
            status=Event.Status.PUBLISHED,
            starts_at__lte=now + CHECK_IN_EARLY,
            ends_at__gt=now,
        )
        .order_by("starts_at", "pk")
    )


def member_rsvps(*, member: Any) -> QuerySet[EventRSVP]:
    return (
        EventRSVP.objects.filter(member_id=member.pk)
        .select_related("event", "event__store")
        .order_by("-event__starts_at", "-pk")
    )


def waitlist_position(*, rsvp: EventRSVP) -> int | None:
    """1 for the first on the waitlist; None when not waitlisted."""
    if rsvp.status != EventRSVP.Status.WAITLISTED:
        return None
    ahead = EventRSVP.objects.filter(
        event_id=rsvp.event_id, status=EventRSVP.Status.WAITLISTED
    ).filter(Q(queued_at__lt=rsvp.queued_at) | Q(queued_at=rsvp.queued_at, pk__lt=rsvp.pk))
    return ahead.count() + 1
