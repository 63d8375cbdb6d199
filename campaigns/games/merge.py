"""Merging duplicate members: the duplicate's entries to sweepstakes not drawn yet and its
spin grants with spins left move to the survivor. Registered with
members.hooks.register_merge_hook (GamesConfig.ready); runs inside
members.services.member_merge's transaction, before the duplicate is closed."""

from typing import Any

from django.db.models import F
from django.utils import timezone

from campaigns.games.models import Sweepstake, SweepstakeEntry, WheelSpinGrant


def games_member_merge(*, source: Any, target: Any, actor: Any = None) -> dict[str, Any]:
    """Entries to a sweepstake not drawn yet move (each sweepstake locked like an entry or the
    draw), even past the survivor's per-member limit: the limit applies to new entries only,
    and entries the duplicate held stay in the draw for the same person. Entries to a drawn
    sweepstake (won or not) stay on the duplicate as history. A spin grant with spins left
    moves whole (its used count with it); spins already played stay on the duplicate as
    history, and fully used grants stay too. Idempotent: a second call finds nothing left to
    move on the duplicate."""
    now = timezone.now()
    sweepstake_ids = sorted(
        set(
            SweepstakeEntry.objects.filter(member_id=source.pk).values_list(
                "sweepstake_id", flat=True
            )
        )
    )
    entries: list[int] = []
    for locked in (
        Sweepstake.objects.select_for_update()
        .filter(pk__in=sweepstake_ids, drawn_at__isnull=True)
        .order_by("pk")
    ):
        ids = list(
            SweepstakeEntry.objects.filter(sweepstake=locked, member_id=source.pk)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        SweepstakeEntry.objects.filter(pk__in=ids).update(member_id=target.pk, updated_at=now)
        entries += ids
    grants = list(
        WheelSpinGrant.objects.select_for_update()
        .filter(member_id=source.pk, used__lt=F("spins"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if grants:
        WheelSpinGrant.objects.filter(pk__in=grants).update(member_id=target.pk, updated_at=now)
    result: dict[str, Any] = {}
    if entries:
        result["sweepstake_entries"] = entries
    if grants:
        result["spin_grants"] = grants
    return result
