"""Member events API: published events with places left, RSVP and waitlist, cancel, a
member's RSVPs, check-in; errors as 4xx with codes and field errors."""

import pytest
from django.urls import reverse

from campaigns.events.models import Event
from loyalty.ledger.selectors import account_balance
from tests.factories.events import EventFactory, EventRSVPFactory, OpenEventFactory
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(staff_client, programme):
    return staff_client


def test_published_events_are_listed_with_places_left(client):
    event = EventFactory(name="Wine tasting", capacity=3)
    EventRSVPFactory(event=event)
    EventFactory(status=Event.Status.DRAFT)
    response = client.get(reverse("events:list"))
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [(r["name"], r["places_taken"], r["places_left"]) for r in rows] == [
        ("Wine tasting", 1, 2)
    ]
    detail = client.get(reverse("events:get", args=[event.pk])).json()
    assert (detail["capacity"], detail["places_left"], detail["waitlisted"]) == (3, 2, 0)
    draft = Event.objects.get(status="draft")
    assert client.get(reverse("events:get", args=[draft.pk])).status_code == 404


def test_rsvp_waitlist_and_cancel_promote(client):
    event = EventFactory(capacity=1)
    a, b = MemberFactory(), MemberFactory()
    url = reverse("events:rsvp", args=[event.pk])
    first = client.post(url, {"member_id": a.pk}, format="json")
    assert first.status_code == 201 and first.json()["status"] == "confirmed"
    again = client.post(url, {"member_number": a.member_number}, format="json")
    assert again.status_code == 200 and again.json()["status"] == "confirmed"
    second = client.post(url, {"member_id": b.pk}, format="json")
    assert second.status_code == 201, second.content
    assert (second.json()["status"], second.json()["waitlist_position"]) == ("waitlisted", 1)
    cancel = client.post(reverse("events:rsvp-cancel", args=[event.pk]), {"member_id": a.pk})
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    mine = client.get(reverse("events:member-rsvps", args=[b.pk])).json()["results"]
    assert [(r["event_id"], r["status"]) for r in mine] == [(event.pk, "confirmed")]


def test_errors_are_4xx_with_codes(client, member):
    event = EventFactory(status=Event.Status.CANCELLED)
    url = reverse("events:rsvp", args=[event.pk])
    cancelled = client.post(url, {"member_id": member.pk}, format="json")
    assert cancelled.status_code == 409 and cancelled.json()["code"] == "event_cancelled"
    invite_only = EventFactory(invitation_only=True)
    refused = client.post(
        reverse("events:rsvp", args=[invite_only.pk]), {"member_id": member.pk}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "not_invited"
    closed = OpenEventFactory()
    late = client.post(reverse("events:rsvp", args=[closed.pk]), {"member_id": member.pk})
    assert late.status_code == 409 and late.json()["code"] == "event_closed"
    no_member = client.post(reverse("events:rsvp", args=[closed.pk]), {}, format="json")
    assert no_member.status_code in (400, 422)
    assert "member_id" in no_member.json()["extra"]["fields"]
    bad = client.post(url, {"member_id": "x"}, format="json")
    assert bad.status_code == 400 and "member_id" in bad.json()["extra"]["fields"]
    unknown = client.post(reverse("events:rsvp", args=[999999]), {"member_id": member.pk})
    assert unknown.status_code == 404 and unknown.json()["code"] == "event_not_found"
    nothing = client.post(reverse("events:rsvp-cancel", args=[closed.pk]), {"member_id": member.pk})
    assert nothing.status_code == 404 and nothing.json()["code"] == "rsvp_not_found"


def test_check_in_once_through_the_api(client, member):
    event = OpenEventFactory(points=40)
    url = reverse("events:check-in", args=[event.pk])
    first = client.post(url, {"member_id": member.pk}, format="json")
    assert first.status_code == 201, first.content
    assert (first.json()["points"], first.json()["walk_in"]) == (40, True)
    second = client.post(url, {"member_id": member.pk}, format="json")
    assert second.status_code == 409 and second.json()["code"] == "already_checked_in"
    assert account_balance(member=member).available == 40
