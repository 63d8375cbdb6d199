"""Merging duplicate members: the duplicate's points move to the survivor with paired entries."""

from collections import defaultdict
from datetime import datetime
from typing import Any

from loyalty.ledger.locks import lock_accounts
from loyalty.ledger.models import LedgerEntry, PointsAccount, PointsLot
from loyalty.ledger.services.posting import _Debit, _post_locked, account_get_or_create


def member_points_merge(*, source: Any, target: Any, actor: Any = None) -> None:
    """Called by members.services.member_merge inside its transaction.

    One debit empties the duplicate's lots; the survivor gets one credit per distinct
    (available_from, expires_at) of those lots, so pending points stay pending and every point
    keeps the expiry it had. A duplicate in debt keeps its debt (nothing to move). Idempotent:
    a second call finds the duplicate's balance at zero.
    """
    account = PointsAccount.objects.filter(member=source).first()
    if account is None:
        return
    target_account = account_get_or_create(member=target)
    locked = {a.pk: a for a in lock_accounts([account.pk, target_account.pk])}
    src, dst = locked[account.pk], locked[target_account.pk]
    if src.balance <= 0:
        return
    groups: dict[tuple[datetime, datetime | None], int] = defaultdict(int)
    for lot in PointsLot.objects.filter(account=src, remaining__gt=0).order_by("pk"):
        groups[(lot.available_from, lot.expires_at)] += lot.remaining
    points = src.balance
    kind_out = LedgerEntry.Kind.ADJUST if actor else LedgerEntry.Kind.REVERSAL
    kind_in = LedgerEntry.Kind.ADJUST if actor else LedgerEntry.Kind.OPENING_BALANCE
    out = _post_locked(
        src,
        amount=-points,
        kind=kind_out,
        idempotency_key=f"merge-out:{source.pk}:{target.pk}",
        source_type="merge",
        source_id=str(target.pk),
        actor=actor,
        reason=f"merged into member {target.member_number}",
        debit=_Debit(include_pending=True, include_expired=True),
    )
    assert out is not None
    ordered = sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] is None, g[0][1] or g[0][0]))
    for number, ((available_from, expires_at), group_points) in enumerate(ordered):
        _post_locked(
            dst,
            amount=group_points,
            kind=kind_in,
            idempotency_key=f"merge-in:{source.pk}:{target.pk}:{number}",
            source_type="merge",
            source_id=str(source.pk),
            actor=actor,
            reason=f"merged from member {source.member_number}",
            available_from=available_from,
            expires_at=expires_at,
        )
