"""Merging duplicate members: the duplicate's badges and event attendances the survivor lacks
move to it. Registered with members.hooks.register_merge_hook (EngagementConfig.ready); runs
inside members.services.member_merge's transaction, before the duplicate is closed."""

from typing import Any

from django.utils import timezone

from campaigns.engagement.models import EventAttendance, MemberBadge


def engagement_member_merge(*, source: Any, target: Any, actor: Any = None) -> dict[str, Any]:
    """Badges: every award of a badge the survivor does not hold moves (all its times earned);
    a badge both hold stays the survivor's, and the duplicate's award of it stays on the
    duplicate as history (a badge is never counted twice). Event attendances the survivor has
    not recorded for the same event move; the others stay as history. Streaks and lifecycle
    stages are not moved: they follow from purchases, which never move between members, and
    the nightly job recomputes them (and awards any badge the moved attendances now earn).
    Idempotent: a second call finds nothing the survivor lacks."""
    now = timezone.now()
    held = set(MemberBadge.objects.filter(member_id=target.pk).values_list("rule_id", flat=True))
    badges = list(
        MemberBadge.objects.select_for_update()
        .filter(member_id=source.pk)
        .exclude(rule_id__in=held)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if badges:
        MemberBadge.objects.filter(pk__in=badges).update(member_id=target.pk, updated_at=now)
    attended = set(
        EventAttendance.objects.filter(member_id=target.pk).values_list("event_ref", flat=True)
    )
    attendances = list(
        EventAttendance.objects.select_for_update()
        .filter(member_id=source.pk)
        .exclude(event_ref__in=attended)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if attendances:
        EventAttendance.objects.filter(pk__in=attendances).update(
            member_id=target.pk, updated_at=now
        )
    result: dict[str, Any] = {}
    if badges:
        result["badges"] = badges
    if attendances:
        result["event_attendances"] = attendances
    return result
