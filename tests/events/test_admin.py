"""Member events admin: marketing creates an event, sees places taken and left, waitlist and
attendance, the RSVPs read-only, and sends the invitations; roles that may not run the action
do not see it; a bad event is a form error."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone

from campaigns.events.models import Event, EventInvitation
from campaigns.models import Segment, SegmentListMember
from loyalty.core.roles import roles_setup
from tests.factories.campaigns import SegmentFactory
from tests.factories.events import EventCheckInFactory, EventFactory, EventRSVPFactory
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def _staff(client, role: str) -> User:
    roles_setup()
    user = User.objects.create_user(role.lower(), password="x-long-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def _form(**changes) -> dict:
    starts = timezone.localtime(timezone.now() + timedelta(days=10))
    data = {
        "name": "Autumn workshop",
        "description": "",
        "kind": "workshop",
        "store": "",
        "starts_at_0": starts.strftime("%Y-%m-%d"),
        "starts_at_1": "18:00:00",
        "ends_at_0": starts.strftime("%Y-%m-%d"),
        "ends_at_1": "20:00:00",
        "capacity": "12",
        "rsvp_opens_at_0": "",
        "rsvp_opens_at_1": "",
        "rsvp_closes_at_0": "",
        "rsvp_closes_at_1": "",
        "points": "30",
        "status": "published",
        "segment": "",
        "invitation_template": "",
        "rsvps-TOTAL_FORMS": "0",
        "rsvps-INITIAL_FORMS": "0",
    }
    return data | changes


def test_marketing_creates_an_event_and_sees_its_places(client, programme):
    _staff(client, "Marketing")
    response = client.post(reverse("admin:events_event_add"), _form())
    assert response.status_code == 302, response.content.decode()[:3000]
    event = Event.objects.get(name="Autumn workshop")
    assert (event.capacity, event.points, event.kind) == (12, 30, "workshop")
    EventRSVPFactory(event=event)
    EventRSVPFactory(event=event, status="waitlisted")
    EventCheckInFactory(event=event)
    page = client.get(reverse("admin:events_event_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    for label in ("Places taken", "Places left", "Waitlist", "Checked in"):
        assert label in html
    change = client.get(reverse("admin:events_event_change", args=[event.pk]))
    assert change.status_code == 200 and "On the waitlist" in change.content.decode()


def test_an_event_ending_before_it_starts_is_a_form_error(client, programme):
    _staff(client, "Marketing")
    response = client.post(reverse("admin:events_event_add"), _form(ends_at_1="17:00:00"))
    assert response.status_code == 200
    assert "The event must end after it starts." in response.content.decode()
    assert not Event.objects.exists()


def test_marketing_sends_the_invitations(client, programme):
    _staff(client, "Marketing")
    segment = SegmentFactory(kind=Segment.Kind.STATIC)
    for member in (MemberFactory(), MemberFactory()):
        SegmentListMember.objects.create(segment=segment, member=member)
    event = EventFactory(segment=segment)
    no_segment = EventFactory(name="No segment")
    response = client.post(
        reverse("admin:events_event_changelist"),
        {"action": "send_invitations", "_selected_action": [event.pk, no_segment.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "2 member(s) invited" in html
    assert "No segment: Choose the segment to invite first." in html
    assert EventInvitation.objects.filter(event=event).count() == 2


def test_finance_reads_events_but_cannot_send_invitations(client, programme):
    _staff(client, "Finance")
    event = EventFactory(segment=SegmentFactory())
    page = client.get(reverse("admin:events_event_changelist"))
    assert page.status_code == 200
    assert "send_invitations" not in page.content.decode()
    client.post(
        reverse("admin:events_event_changelist"),
        {"action": "send_invitations", "_selected_action": [event.pk]},
    )
    assert not EventInvitation.objects.exists()
    assert client.get(reverse("admin:events_eventrsvp_changelist")).status_code == 200
