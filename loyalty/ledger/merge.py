"""Merging duplicate members: the duplicate's points move to the survivor with paired entries."""

from typing import Any

from loyalty.ledger.locks import lock_accounts
from loyalty.ledger.models import LedgerEntry, PointsAccount
from loyalty.ledger.services.posting import _Debit, _post_locked, account_get_or_create


def member_points_merge(*, source: Any, target: Any, actor: Any = None) -> None:
    """Called by members.services.member_merge inside its transaction."""
    account = PointsAccount.objects.filter(member=source).first()
    if account is None:
        return
    target_account = account_get_or_create(member=target)
    locked = {a.pk: a for a in lock_accounts([account.pk, target_account.pk])}
    src, dst = locked[account.pk], locked[target_account.pk]
    if src.balance <= 0:
        return
    points = src.balance
    out = _post_locked(
        src,
        amount=-points,
        kind=LedgerEntry.Kind.ADJUST if actor else LedgerEntry.Kind.REVERSAL,
        idempotency_key=f"merge-out:{source.pk}:{target.pk}",
        source_type="merge",
        source_id=str(target.pk),
        actor=actor,
        reason=f"merged into member {target.member_number}",
        debit=_Debit(include_pending=True),
    )
    assert out is not None
    _post_locked(
        dst,
        amount=points,
        kind=LedgerEntry.Kind.ADJUST if actor else LedgerEntry.Kind.OPENING_BALANCE,
        idempotency_key=f"merge-in:{source.pk}:{target.pk}",
        source_type="merge",
        source_id=str(source.pk),
        actor=actor,
        reason=f"merged from member {source.member_number}",
    )
