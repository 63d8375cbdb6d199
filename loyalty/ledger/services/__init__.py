"""Ledger writes. Import from here: loyalty.ledger.services.<name>."""

from loyalty.ledger.services.jobs import (
    ledger_reconcile,
    points_expire_due,
    points_expiry_warn,
    points_release_pending,
)
from loyalty.ledger.services.posting import (
    account_get_or_create,
    ledger_entry_post,
    ledger_entry_reverse,
    points_adjust,
    points_earn,
    points_earn_locked,
    points_opening_balance,
    points_redeem,
)
from loyalty.ledger.services.transactions import (
    LineInput,
    PostingResult,
    earn_quote,
    purchase_record,
    return_record,
)

__all__ = [
    "LineInput",
    "PostingResult",
    "account_get_or_create",
    "earn_quote",
    "ledger_entry_post",
    "ledger_entry_reverse",
    "ledger_reconcile",
    "points_adjust",
    "points_earn",
    "points_earn_locked",
    "points_expire_due",
    "points_expiry_warn",
    "points_opening_balance",
    "points_redeem",
    "points_release_pending",
    "purchase_record",
    "return_record",
]
