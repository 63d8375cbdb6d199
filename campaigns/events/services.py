"""Member event writes: RSVP (with the waitlist), cancelling an RSVP (promotes the first on
the waitlist), sending the invitations of a segment, and the check-in at the event (points once,
attendance badge).

Every decision about places is taken under a row lock of the event (`_event_lock`), so racing
RSVPs, cancellations and check-ins queue and the confirmed RSVPs never exceed the capacity."""

from typing import Any

from django.db import transaction
from django.utils import formats, timezone

from campaigns.engagement.services import event_check_in as engagement_event_check_in
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
from campaigns.events.selectors import CHECK_IN_EARLY
from campaigns.segments import segment_members
from loyalty.ledger.models import LedgerEntry, NotificationOutbox
from loyalty.ledger.services import points_earn
from members.exceptions import MemberNotActive
from members.models import Member
from rewards.selectors import programme_zone

LIVE = (EventRSVP.Status.CONFIRMED, EventRSVP.Status.WAITLISTED)


def _event_lock(event: Event) -> Event:
    return Event.objects.select_for_update(of=("self",)).get(pk=event.pk)


def _active(member: Any) -> None:
    if member.erased_at or not member.is_active:
        raise MemberNotActive(extra={"status": member.status})


def _confirmed(event: Event) -> int:
    return EventRSVP.objects.filter(event=event, status=EventRSVP.Status.CONFIRMED).count()


def _invited(event: Event, member: Any) -> bool:
    return EventInvitation.objects.filter(event=event, member_id=member.pk).exists()


def _rsvp_open(event: Event, now: Any) -> None:
    if event.status == Event.Status.CANCELLED:
        raise EventCancelled(extra={"event": event.pk})
    closes = event.rsvp_closes_at or event.starts_at
    if (
        event.status != Event.Status.PUBLISHED
        or (event.rsvp_opens_at is not None and now < event.rsvp_opens_at)
        or now >= closes
    ):
        raise EventClosed(extra={"event": event.pk})


@transaction.atomic
def event_rsvp(*, event: Event, member: Any) -> EventRSVP:
    """Answer yes for a member: a confirmed place while places are left, else a place on the
    waitlist (not an error). A live RSVP again returns it unchanged; a cancelled one comes back
    at the end of the queue. Raises EventClosed, EventCancelled, NotInvited, MemberNotActive."""
    _active(member)
    now = timezone.now()
    event = _event_lock(event)
    _rsvp_open(event, now)
    if event.invitation_only and not _invited(event, member):
        raise NotInvited(extra={"event": event.pk})
    rsvp = EventRSVP.objects.filter(event=event, member_id=member.pk).first()
    if rsvp is not None and rsvp.status in LIVE:
        return rsvp
    status = (
        EventRSVP.Status.CONFIRMED
        if _confirmed(event) < event.capacity
        else EventRSVP.Status.WAITLISTED
    )
    if rsvp is None:
        rsvp = EventRSVP(event=event, member=member)
    rsvp.status, rsvp.queued_at, rsvp.cancelled_at, rsvp.promoted_at = status, now, None, None
    rsvp.full_clean(validate_constraints=False)
    rsvp.save()
    return rsvp


def _promote(event: Event, now: Any) -> list[EventRSVP]:
    """Fill the places left from the waitlist, first come first served (under the event lock)."""
    left = event.capacity - _confirmed(event)
    if left <= 0:
        return []
    promoted = list(
        EventRSVP.objects.filter(event=event, status=EventRSVP.Status.WAITLISTED).order_by(
            "queued_at", "pk"
        )[:left]
    )
    for rsvp in promoted:
        rsvp.status, rsvp.promoted_at = EventRSVP.Status.CONFIRMED, now
        rsvp.save(update_fields=["status", "promoted_at", "updated_at"])
    return promoted


@transaction.atomic
def event_rsvp_cancel(*, event: Event, member: Any) -> EventRSVP:
    """Withdraw a member's RSVP before the event starts. A confirmed place freed goes to the
    first on the waitlist in the same transaction. Raises RsvpNotFound, EventClosed (started)."""
    now = timezone.now()
    event = _event_lock(event)
    rsvp = EventRSVP.objects.filter(event=event, member_id=member.pk, status__in=LIVE).first()
    if rsvp is None:
        raise RsvpNotFound(extra={"event": event.pk})
    if now >= event.starts_at:
        raise EventClosed(extra={"event": event.pk})
    rsvp.status, rsvp.cancelled_at = EventRSVP.Status.CANCELLED, now
    rsvp.save(update_fields=["status", "cancelled_at", "updated_at"])
    if event.status == Event.Status.PUBLISHED:
        _promote(event, now)
    return rsvp


@transaction.atomic
def event_invitations_send(*, event: Event) -> int:
    """Invite the members of the event's segment who were not invited yet: one EventInvitation
    and one "event_invitation" outbox message each. Delivery (campaigns.messaging) sends it
    only with e-mail consent, never after an unsubscribe, and within the weekly cap of
    marketing messages. Returns how many were invited now. Raises NoInvitationSegment,
    EventClosed (not published), EventCancelled."""
    event = _event_lock(event)
    if event.status == Event.Status.CANCELLED:
        raise EventCancelled(extra={"event": event.pk})
    if event.status != Event.Status.PUBLISHED:
        raise EventClosed(extra={"event": event.pk})
    if event.segment_id is None:
        raise NoInvitationSegment(
            extra={"fields": {"segment": [str(NoInvitationSegment.default_message)]}}
        )
    already = EventInvitation.objects.filter(event=event).values_list("member_id", flat=True)
    ids = list(
        segment_members(event.segment)
        .filter(status=Member.Status.ACTIVE)
        .exclude(pk__in=already)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    EventInvitation.objects.bulk_create(
        [EventInvitation(event=event, member_id=pk) for pk in ids], ignore_conflicts=True
    )
    starts = timezone.localtime(event.starts_at, programme_zone())
    payload = {
        "template_id": event.invitation_template_id,
        "channel": "email",
        "event_name": event.name,
        "event_id": event.pk,
        "starts_at": formats.date_format(starts, "DATETIME_FORMAT"),
        "place_name": event.store.name if event.store is not None else "",
    }
    NotificationOutbox.objects.bulk_create(
        [
            NotificationOutbox(
                member_id=pk,
                kind="event_invitation",
                payload=payload,
                dedupe_key=f"event-invitation:{event.pk}:{pk}",
            )
            for pk in ids
        ],
        ignore_conflicts=True,
    )
    return len(ids)


@transaction.atomic
def event_check_in(*, event: Event, member: Any, actor: Any = None) -> EventCheckIn:
    """Check a member in at the event (the clerk scans the card). A member with a confirmed
    RSVP always gets in; anyone else (no RSVP, waitlisted, cancelled) gets in while places are
    left and is given one. The event's points are credited once through the ledger (key
    event:<event>:member:<member>) and the engagement extension point records the attendance
    and awards the "events attended" badges. Raises AlreadyCheckedIn (nothing changes),
    EventFull, EventCancelled, EventNotOpenForCheckIn, NotInvited, MemberNotActive."""
    _active(member)
    now = timezone.now()
    event = _event_lock(event)
    if event.status == Event.Status.CANCELLED:
        raise EventCancelled(extra={"event": event.pk})
    existing = EventCheckIn.objects.filter(event=event, member_id=member.pk).first()
    if existing is not None:
        raise AlreadyCheckedIn(extra={"checked_in_at": existing.checked_in_at.isoformat()})
    if (
        event.status != Event.Status.PUBLISHED
        or now < event.starts_at - CHECK_IN_EARLY
        or now >= event.ends_at
    ):
        raise EventNotOpenForCheckIn(extra={"event": event.pk})
    rsvp = EventRSVP.objects.filter(event=event, member_id=member.pk).first()
    walk_in = rsvp is None or rsvp.status != EventRSVP.Status.CONFIRMED
    if walk_in:
        if event.invitation_only and not _invited(event, member):
            raise NotInvited(extra={"event": event.pk})
        if _confirmed(event) >= event.capacity:
            raise EventFull(extra={"event": event.pk, "capacity": event.capacity})
        if rsvp is None:
            rsvp = EventRSVP(event=event, member=member, queued_at=now)
        rsvp.status, rsvp.walk_in, rsvp.cancelled_at = EventRSVP.Status.CONFIRMED, True, None
        rsvp.save()
    check_in = EventCheckIn(
        event=event,
        member=member,
        checked_in_at=now,
        points=event.points,
        walk_in=walk_in,
        checked_in_by=actor if getattr(actor, "pk", None) else None,
    )
    check_in.full_clean(validate_constraints=False)
    check_in.save()
    if event.points:
        points_earn(
            member=member,
            points=event.points,
            idempotency_key=f"event:{event.pk}:member:{member.pk}",
            kind=LedgerEntry.Kind.BONUS,
            source_type="event",
            source_id=str(event.pk),
            reason=f"Attended {event.name}",
            actor=actor if getattr(actor, "pk", None) else None,
        )
    engagement_event_check_in(member=member, event_ref=f"event:{event.pk}", attended_at=now)
    return check_in


def events_finish_past(*, now: Any = None) -> int:
    """Published events whose end has passed become "finished" (RSVPs and check-ins close with
    them); returns how many. Idempotent: run hourly by beat, safe to run again."""
    now = now or timezone.now()
    return Event.objects.filter(status=Event.Status.PUBLISHED, ends_at__lte=now).update(
        status=Event.Status.FINISHED
    )
