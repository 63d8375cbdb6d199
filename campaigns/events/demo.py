"""Demo member events (idempotent): a tasting next week with RSVPs and a waitlist, and a store
opening happening now with a check-in, so every admin and clerk page has rows to show."""

from datetime import timedelta
from typing import Any

from django.utils import timezone

from campaigns.events.models import Event
from campaigns.events.services import event_check_in, event_rsvp
from campaigns.models import Segment
from loyalty.core.exceptions import ApplicationError
from members.models import Member, Store


def load(stdout: Any) -> None:
    now = timezone.now()
    store = Store.objects.order_by("pk").first()
    tasting, created = Event.objects.get_or_create(
        name="Autumn coffee tasting",
        defaults={
            "description": "Taste three single origins with our roasters.",
            "kind": Event.Kind.TASTING,
            "store": store,
            "starts_at": now + timedelta(days=7),
            "ends_at": now + timedelta(days=7, hours=2),
            "capacity": 3,
            "points": 50,
            "status": Event.Status.PUBLISHED,
            "segment": Segment.objects.order_by("pk").first(),
        },
    )
    opening, _ = Event.objects.get_or_create(
        name="New store opening",
        defaults={
            "kind": Event.Kind.STORE_OPENING,
            "store": store,
            "starts_at": now - timedelta(minutes=30),
            "ends_at": now + timedelta(days=1),
            "capacity": 50,
            "points": 100,
            "status": Event.Status.PUBLISHED,
        },
    )
    members = list(Member.objects.filter(status=Member.Status.ACTIVE).order_by("pk")[:5])
    answered = 0
    if created:
        for member in members:
            try:
                event_rsvp(event=tasting, member=member)
                answered += 1
            except ApplicationError:
                continue
        for member in members[:1]:
            try:
                event_check_in(event=opening, member=member)
            except ApplicationError:
                continue
    stdout.write(f"member events: {answered} demo RSVPs to {tasting.name}")
