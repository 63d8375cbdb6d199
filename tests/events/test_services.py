"""Member events: capacity and waitlist, RSVP windows, cancelled events, invitations through
the outbox, and the check-in that credits the points once and gives the attendance badge."""

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone

from campaigns.engagement.models import BadgeRule, EventAttendance, MemberBadge
from campaigns.events.exceptions import (
    AlreadyCheckedIn,
    EventCancelled,
    EventClosed,
    EventFull,
    EventNotOpenForCheckIn,
    NoInvitationSegment,
    NotInvited,
    RsvpNotFound,
)
from campaigns.events.models import Event, EventCheckIn, EventInvitation, EventRSVP
from campaigns.events.selectors import event_places, waitlist_position
from campaigns.events.services import (
    event_check_in,
    event_invitations_send,
    event_rsvp,
    event_rsvp_cancel,
)
from campaigns.messaging import message_deliver
from campaigns.models import MessageDelivery, MessageTemplate, Segment, SegmentListMember
from loyalty.ledger.models import LedgerEntry, NotificationOutbox
from loyalty.ledger.selectors import account_balance
from members.exceptions import MemberNotActive
from tests.factories.campaigns import MessageTemplateFactory, SegmentFactory
from tests.factories.engagement import BadgeRuleFactory
from tests.factories.events import EventFactory, EventRSVPFactory, OpenEventFactory
from tests.factories.members import ConsentFactory, MemberFactory

pytestmark = pytest.mark.django_db
S = EventRSVP.Status


def test_rsvps_beyond_capacity_are_waitlisted_in_order(programme):
    event = EventFactory(capacity=2)
    members = [MemberFactory() for _ in range(4)]
    statuses = [event_rsvp(event=event, member=m).status for m in members]
    assert statuses == [S.CONFIRMED, S.CONFIRMED, S.WAITLISTED, S.WAITLISTED]
    places = event_places(event=event)
    assert (places.taken, places.left, places.waitlisted) == (2, 0, 2)
    last = EventRSVP.objects.get(event=event, member=members[3])
    assert waitlist_position(rsvp=last) == 2


def test_the_same_rsvp_twice_changes_nothing(programme, member):
    event = EventFactory(capacity=1)
    first = event_rsvp(event=event, member=member)
    again = event_rsvp(event=event, member=member)
    assert again.pk == first.pk and again.status == S.CONFIRMED
    assert EventRSVP.objects.filter(event=event).count() == 1


def test_a_cancellation_promotes_the_first_on_the_waitlist(programme):
    event = EventFactory(capacity=1)
    a, b, c = MemberFactory(), MemberFactory(), MemberFactory()
    for m in (a, b, c):
        event_rsvp(event=event, member=m)
    cancelled = event_rsvp_cancel(event=event, member=a)
    assert cancelled.status == S.CANCELLED
    statuses = dict(EventRSVP.objects.filter(event=event).values_list("member_id", "status"))
    assert statuses == {a.pk: S.CANCELLED, b.pk: S.CONFIRMED, c.pk: S.WAITLISTED}
    assert EventRSVP.objects.get(event=event, member=b).promoted_at is not None
    # cancelling a waitlisted RSVP frees no place and promotes no one
    event_rsvp_cancel(event=event, member=c)
    assert event_places(event=event).taken == 1
    # coming back after a cancellation joins the end of the queue
    assert event_rsvp(event=event, member=a).status == S.WAITLISTED
    with pytest.raises(RsvpNotFound):
        event_rsvp_cancel(event=event, member=MemberFactory())


def test_rsvp_closed_outside_its_window_and_for_drafts(programme, member):
    now = timezone.now()
    not_yet = EventFactory(rsvp_opens_at=now + timedelta(days=1))
    over = EventFactory(
        rsvp_opens_at=now - timedelta(days=2), rsvp_closes_at=now - timedelta(days=1)
    )
    started = OpenEventFactory()
    draft = EventFactory(status=Event.Status.DRAFT)
    for event in (not_yet, over, started, draft):
        with pytest.raises(EventClosed):
            event_rsvp(event=event, member=member)
    assert not EventRSVP.objects.exists()


def test_a_cancelled_event_takes_no_rsvp_and_no_check_in(programme, member):
    event = OpenEventFactory(status=Event.Status.CANCELLED)
    with pytest.raises(EventCancelled):
        event_rsvp(event=event, member=member)
    with pytest.raises(EventCancelled):
        event_check_in(event=event, member=member)


def test_an_inactive_member_cannot_rsvp(programme):
    member = MemberFactory(status="suspended")
    with pytest.raises(MemberNotActive):
        event_rsvp(event=EventFactory(), member=member)


def test_invitation_only_events_need_an_invitation(programme, member):
    event = EventFactory(invitation_only=True)
    with pytest.raises(NotInvited):
        event_rsvp(event=event, member=member)
    EventInvitation.objects.create(event=event, member=member)
    assert event_rsvp(event=event, member=member).status == S.CONFIRMED


def _static_segment(*members) -> Segment:
    segment = SegmentFactory(kind=Segment.Kind.STATIC)
    for m in members:
        SegmentListMember.objects.create(segment=segment, member=m)
    return segment


def test_invitations_go_to_the_segment_once_through_the_outbox(programme):
    yes, no, outside = MemberFactory(), MemberFactory(), MemberFactory()
    ConsentFactory(member=yes)
    template = MessageTemplateFactory(
        kind=MessageTemplate.Kind.EVENT_INVITATION,
        subject="You are invited to {{ event_name }}",
        text="{{ first_name }}, join us on {{ starts_at }}.",
    )
    event = EventFactory(name="Cheese tasting", segment=_static_segment(yes, no))
    assert event_invitations_send(event=event) == 2
    assert event_invitations_send(event=event) == 0  # nobody twice
    assert set(EventInvitation.objects.values_list("member_id", flat=True)) == {yes.pk, no.pk}
    rows = NotificationOutbox.objects.filter(kind="event_invitation").order_by("member_id")
    assert [r.member_id for r in rows] == [yes.pk, no.pk]
    assert outside.pk not in {r.member_id for r in rows}
    sent = message_deliver(outbox_id=rows[0].pk)
    skipped = message_deliver(outbox_id=rows[1].pk)
    assert sent.status == MessageDelivery.Status.SENT and sent.marketing is True
    assert (skipped.status, skipped.reason) == ("skipped", "no consent on this channel")
    assert template.pk  # the template of the kind is the one used (no template on the event)


def test_invitations_need_a_segment_and_a_published_event(programme):
    with pytest.raises(NoInvitationSegment):
        event_invitations_send(event=EventFactory())
    with pytest.raises(EventClosed):
        event_invitations_send(
            event=EventFactory(status=Event.Status.DRAFT, segment=SegmentFactory())
        )


def test_check_in_credits_the_points_once_and_gives_the_badge(programme, member):
    rule = BadgeRuleFactory(kind=BadgeRule.Kind.EVENT, threshold=1, name="Event goer")
    event = OpenEventFactory(points=75)
    EventRSVPFactory(event=event, member=member)
    check_in = event_check_in(event=event, member=member)
    assert (check_in.points, check_in.walk_in) == (75, False)
    assert account_balance(member=member).available == 75
    assert MemberBadge.objects.filter(member=member, rule=rule).count() == 1
    assert EventAttendance.objects.get(member=member).event_ref == f"event:{event.pk}"
    with pytest.raises(AlreadyCheckedIn):
        event_check_in(event=event, member=member)
    entries = LedgerEntry.objects.filter(source_type="event", source_id=str(event.pk))
    assert entries.count() == 1 and entries.get().idempotency_key == (
        f"event:{event.pk}:member:{member.pk}"
    )
    assert entries.aggregate(total=Sum("amount"))["total"] == 75
    assert EventCheckIn.objects.filter(event=event).count() == 1
    assert MemberBadge.objects.filter(member=member).count() == 1


def test_without_rsvp_a_member_gets_in_while_places_are_left(programme):
    event = OpenEventFactory(capacity=2, points=0)
    booked, walk_in, late = MemberFactory(), MemberFactory(), MemberFactory()
    EventRSVPFactory(event=event, member=booked)
    check_in = event_check_in(event=event, member=walk_in)
    assert check_in.walk_in and check_in.points == 0
    rsvp = EventRSVP.objects.get(event=event, member=walk_in)
    assert (rsvp.status, rsvp.walk_in) == (S.CONFIRMED, True)
    with pytest.raises(EventFull):
        event_check_in(event=event, member=late)
    # the member with a confirmed RSVP always gets in, full or not
    assert event_check_in(event=event, member=booked).walk_in is False
    assert not LedgerEntry.objects.filter(source_type="event").exists()  # 0 points: no entry


def test_check_in_only_while_it_is_open(programme, member):
    later = EventFactory()  # in a week
    with pytest.raises(EventNotOpenForCheckIn):
        event_check_in(event=later, member=member)
    now = timezone.now()
    over = EventFactory(starts_at=now - timedelta(hours=3), ends_at=now - timedelta(hours=1))
    with pytest.raises(EventNotOpenForCheckIn):
        event_check_in(event=over, member=member)
    soon = EventFactory(starts_at=now + timedelta(hours=2))  # doors open 3 hours before
    assert event_check_in(event=soon, member=member).pk
