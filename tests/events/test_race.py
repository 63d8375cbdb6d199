"""Capacity under concurrent RSVPs on PostgreSQL: the event row lock makes racing RSVPs queue,
so N racing RSVPs on capacity K give exactly K confirmed and the rest waitlisted."""

import pytest

from campaigns.events.models import EventRSVP
from campaigns.events.services import event_rsvp, event_rsvp_cancel
from tests.concurrency import run_threads
from tests.factories.events import EventFactory
from tests.factories.members import MemberFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_racing_rsvps_on_five_places_confirm_exactly_five(programme):
    event = EventFactory(capacity=5)
    members = [MemberFactory() for _ in range(20)]

    outcomes = run_threads(20, lambda i: event_rsvp(event=event, member=members[i]).status)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    statuses = [value for _, value in outcomes]
    assert statuses.count("confirmed") == 5 and statuses.count("waitlisted") == 15
    assert EventRSVP.objects.filter(event=event, status="confirmed").count() == 5


def test_racing_cancellations_and_rsvps_never_overfill(programme):
    event = EventFactory(capacity=3)
    booked = [MemberFactory() for _ in range(3)]
    for member in booked:
        event_rsvp(event=event, member=member)
    newcomers = [MemberFactory() for _ in range(9)]

    def act(i: int) -> str:
        if i < 3:
            return event_rsvp_cancel(event=event, member=booked[i]).status
        return event_rsvp(event=event, member=newcomers[i - 3]).status

    outcomes = run_threads(12, act)

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert EventRSVP.objects.filter(event=event, status="confirmed").count() == 3
    assert EventRSVP.objects.filter(event=event, status="waitlisted").count() == 6
