"""Member merge, the events hook: RSVPs, check-ins and invitations of the duplicate."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.events.merge import events_member_merge
from campaigns.events.models import EventCheckIn, EventInvitation, EventRSVP
from members.services import member_merge
from tests.factories.events import (
    EventCheckInFactory,
    EventFactory,
    EventInvitationFactory,
    EventRSVPFactory,
    OpenEventFactory,
)
from tests.factories.members import MemberFactory

C, W, X = EventRSVP.Status.CONFIRMED, EventRSVP.Status.WAITLISTED, EventRSVP.Status.CANCELLED


def _rsvp(event, member, status, minutes):
    return EventRSVPFactory(
        event=event,
        member=member,
        status=status,
        queued_at=timezone.now() - timedelta(minutes=minutes),
        cancelled_at=timezone.now() if status == X else None,
    )


def _status(rsvp):
    rsvp.refresh_from_db()
    return rsvp.member_id, rsvp.status


def _confirmed(event):
    return EventRSVP.objects.filter(event=event, status=C).count()


@pytest.mark.django_db
def test_rsvp_the_survivor_lacks_moves_with_its_place(programme):
    duplicate, survivor = MemberFactory(), MemberFactory()
    event = EventFactory(capacity=1, invitation_only=True)
    invitation = EventInvitationFactory(event=event, member=duplicate)
    rsvp = _rsvp(event, duplicate, C, 30)
    other = _rsvp(event, MemberFactory(), W, 20)

    member_merge(source=duplicate, target=survivor)

    assert _status(rsvp) == (survivor.pk, C)
    assert _status(other)[1] == W
    assert _confirmed(event) == 1
    assert EventInvitation.objects.get(pk=invitation.pk).member_id == survivor.pk


@pytest.mark.django_db
def test_both_answered_the_survivor_takes_the_better_place_nobody_promoted(programme):
    duplicate, survivor = MemberFactory(), MemberFactory()
    event = EventFactory(capacity=2)
    theirs = _rsvp(event, duplicate, C, 50)
    ours = _rsvp(event, survivor, W, 40)
    _rsvp(event, MemberFactory(), C, 45)
    queued = _rsvp(event, MemberFactory(), W, 30)

    member_merge(source=duplicate, target=survivor)

    assert _status(ours) == (survivor.pk, C)
    assert _status(theirs) == (duplicate.pk, X)
    assert _status(queued)[1] == W  # the place went to the same person: nobody promoted
    assert _confirmed(event) == 2


@pytest.mark.django_db
def test_both_confirmed_frees_one_place_for_the_waitlist(programme):
    duplicate, survivor = MemberFactory(), MemberFactory()
    event = EventFactory(capacity=2)
    theirs = _rsvp(event, duplicate, C, 50)
    ours = _rsvp(event, survivor, C, 40)
    first = _rsvp(event, MemberFactory(), W, 30)
    second = _rsvp(event, MemberFactory(), W, 20)

    member_merge(source=duplicate, target=survivor)

    assert _status(ours) == (survivor.pk, C)
    assert _status(theirs) == (duplicate.pk, X)
    assert _status(first)[1] == C
    assert _status(second)[1] == W
    assert _confirmed(event) == 2  # never more than the capacity


@pytest.mark.django_db
def test_survivor_confirmed_duplicate_waitlisted_cancels_the_duplicates(programme):
    duplicate, survivor = MemberFactory(), MemberFactory()
    event = EventFactory(capacity=1)
    ours = _rsvp(event, survivor, C, 50)
    theirs = _rsvp(event, duplicate, W, 40)

    member_merge(source=duplicate, target=survivor)

    assert _status(ours) == (survivor.pk, C)
    assert _status(theirs) == (duplicate.pk, X)
    assert _confirmed(event) == 1


@pytest.mark.django_db
def test_check_ins_move_unless_the_survivor_checked_in_too(programme):
    duplicate, survivor = MemberFactory(), MemberFactory()
    alone, both = OpenEventFactory(), OpenEventFactory()
    moving = EventCheckInFactory(event=alone, member=duplicate)
    kept = EventCheckInFactory(event=both, member=duplicate)
    own = EventCheckInFactory(event=both, member=survivor)

    member_merge(source=duplicate, target=survivor)

    assert EventCheckIn.objects.get(pk=moving.pk).member_id == survivor.pk
    assert EventCheckIn.objects.get(pk=kept.pk).member_id == duplicate.pk
    assert EventCheckIn.objects.get(pk=own.pk).member_id == survivor.pk


@pytest.mark.django_db
def test_merging_twice_changes_nothing(programme):
    duplicate, survivor = MemberFactory(), MemberFactory()
    event, other = EventFactory(capacity=2), EventFactory()
    _rsvp(event, duplicate, C, 50)
    _rsvp(event, survivor, C, 40)
    _rsvp(other, duplicate, W, 10)
    EventCheckInFactory(member=duplicate)

    member_merge(source=duplicate, target=survivor)
    before = sorted(EventRSVP.objects.values_list("pk", "member_id", "status"))
    checks = sorted(EventCheckIn.objects.values_list("pk", "member_id"))
    assert events_member_merge(source=duplicate, target=survivor) == {}
    assert sorted(EventRSVP.objects.values_list("pk", "member_id", "status")) == before
    assert sorted(EventCheckIn.objects.values_list("pk", "member_id")) == checks
