"""Merging duplicate members: the duplicate's RSVPs, check-ins and invitations move to the
survivor. Registered with members.hooks.register_merge_hook (EventsConfig.ready); runs inside
members.services.member_merge's transaction, before the duplicate is closed. Every decision
about places is taken under the event's row lock, like the RSVP services."""

from typing import Any

from django.utils import timezone

from campaigns.events.models import Event, EventCheckIn, EventInvitation, EventRSVP
from campaigns.events.services import _event_lock, _promote

RANK: dict[str, int] = {
    EventRSVP.Status.CONFIRMED: 2,
    EventRSVP.Status.WAITLISTED: 1,
    EventRSVP.Status.CANCELLED: 0,
}
CONFIRMED = EventRSVP.Status.CONFIRMED


def _better(a: EventRSVP, b: EventRSVP) -> bool:
    """a is a better place than b: confirmed over waitlisted over cancelled, then the earlier
    answer (a place further up the waitlist)."""
    return (RANK[a.status], -a.queued_at.timestamp()) > (RANK[b.status], -b.queued_at.timestamp())


def _rsvps_resolve(event: Event, moving: EventRSVP, keeping: EventRSVP, now: Any) -> None:
    """Both answered: the survivor keeps the better place, the duplicate's RSVP is cancelled."""
    confirmed_before = (moving.status == CONFIRMED) + (keeping.status == CONFIRMED)
    if _better(moving, keeping):
        # the survivor takes the duplicate's place (its status and queue position)
        keeping.status, keeping.queued_at = moving.status, moving.queued_at
        keeping.promoted_at, keeping.walk_in = moving.promoted_at, moving.walk_in
        keeping.cancelled_at = moving.cancelled_at
        keeping.save(
            update_fields=[
                "status",
                "queued_at",
                "promoted_at",
                "walk_in",
                "cancelled_at",
                "updated_at",
            ]
        )
    if moving.status != EventRSVP.Status.CANCELLED:
        moving.status, moving.cancelled_at = EventRSVP.Status.CANCELLED, now
        moving.save(update_fields=["status", "cancelled_at", "updated_at"])
    freed = confirmed_before - (keeping.status == CONFIRMED)
    if freed > 0 and event.status == Event.Status.PUBLISHED and now < event.starts_at:
        # both held a confirmed place: the person needs one, the other goes to the first on the
        # waitlist exactly as a cancellation would (never more than the capacity)
        _promote(event, now)


def events_member_merge(*, source: Any, target: Any, actor: Any = None) -> dict[str, Any]:
    """For each event the duplicate answered (in event order, each under the event's lock):
    an RSVP for an event the survivor did not answer moves as it is (a confirmed or waitlisted
    place is kept, so the confirmed count does not change); where both answered, the survivor
    keeps the better place (confirmed over waitlisted over cancelled, then the earlier answer)
    and the duplicate's RSVP is cancelled; a confirmed place freed that way goes to the waitlist
    like any cancellation, before the event starts. Check-ins move unless the survivor checked in
    at that event too (then the duplicate's stays as history); invitations the survivor lacks
    move. Idempotent: a second call finds nothing live left on the duplicate."""
    now = timezone.now()
    event_ids = sorted(
        set(EventRSVP.objects.filter(member_id=source.pk).values_list("event_id", flat=True))
        | set(EventCheckIn.objects.filter(member_id=source.pk).values_list("event_id", flat=True))
        | set(
            EventInvitation.objects.filter(member_id=source.pk).values_list("event_id", flat=True)
        )
    )
    moved: list[int] = []
    resolved: list[int] = []
    check_ins: list[int] = []
    for event_id in event_ids:
        event = _event_lock(Event(pk=event_id))
        rsvps = {
            r.member_id: r
            for r in EventRSVP.objects.filter(event=event, member_id__in=[source.pk, target.pk])
        }
        moving, keeping = rsvps.get(source.pk), rsvps.get(target.pk)
        if moving is not None and keeping is None:
            moving.member_id = target.pk
            moving.save(update_fields=["member", "updated_at"])
            moved.append(moving.pk)
        elif (
            moving is not None
            and keeping is not None
            and moving.status != EventRSVP.Status.CANCELLED
        ):
            _rsvps_resolve(event, moving, keeping, now)
            resolved.append(event.pk)
        if not EventCheckIn.objects.filter(event=event, member_id=target.pk).exists():
            ids = list(
                EventCheckIn.objects.filter(event=event, member_id=source.pk).values_list(
                    "pk", flat=True
                )
            )
            EventCheckIn.objects.filter(pk__in=ids).update(member_id=target.pk, updated_at=now)
            check_ins += ids
        if not EventInvitation.objects.filter(event=event, member_id=target.pk).exists():
            EventInvitation.objects.filter(event=event, member_id=source.pk).update(
                member_id=target.pk, updated_at=now
            )
    result: dict[str, Any] = {}
    if moved:
        result["rsvps"] = moved
    if resolved:
        result["rsvps_both_events"] = resolved
    if check_ins:
        result["event_check_ins"] = check_ins
    return result
