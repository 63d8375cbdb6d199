"""Per-member purchase statistics (MemberPurchaseStats): purchases, net spend, first and last
purchase, over all of a member's transactions.

- `purchase_stats_add`: one upsert in the transaction that inserts a purchase or a return
  (called by `_insert` in services/transactions.py, so the API, the per-invoice import and the
  batch endpoint all keep it right);
- `purchase_stats_refresh`: recomputes the rows of some members (or of every member) from the
  transactions, set-based: the bulk import calls it for the members it wrote, the benchmark data
  generator and `manage.py rebuild_purchase_stats` (nightly: `purchase_stats_rebuild_task`) for
  everyone.

The figures are the same as the segment rules' exact subqueries over ledger_transaction with no
window and the moment "now" (tests/ledger/test_purchase_stats.py compares them).
"""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction

from loyalty.ledger.models import MemberPurchaseStats, Transaction

TABLE = MemberPurchaseStats._meta.db_table
TXN = Transaction._meta.db_table
COLUMNS = "member_id, purchase_count, spend, first_purchase_at, last_purchase_at"

_UPSERT = f"""
INSERT INTO {TABLE} ({COLUMNS}) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (member_id) DO UPDATE SET
  purchase_count = {TABLE}.purchase_count + excluded.purchase_count,
  spend = {TABLE}.spend + excluded.spend,
  first_purchase_at = CASE WHEN excluded.first_purchase_at IS NOT NULL
    AND ({TABLE}.first_purchase_at IS NULL
         OR excluded.first_purchase_at < {TABLE}.first_purchase_at)
    THEN excluded.first_purchase_at ELSE {TABLE}.first_purchase_at END,
  last_purchase_at = CASE WHEN excluded.last_purchase_at IS NOT NULL
    AND ({TABLE}.last_purchase_at IS NULL
         OR excluded.last_purchase_at > {TABLE}.last_purchase_at)
    THEN excluded.last_purchase_at ELSE {TABLE}.last_purchase_at END
"""

_RECOMPUTE = f"""
INSERT INTO {TABLE} ({COLUMNS})
SELECT member_id,
  SUM(CASE WHEN kind = 'purchase' THEN 1 ELSE 0 END),
  SUM(CASE WHEN kind = 'return' THEN -amount ELSE amount END),
  MIN(CASE WHEN kind = 'purchase' THEN occurred_at END),
  MAX(CASE WHEN kind = 'purchase' THEN occurred_at END)
FROM {TXN}
WHERE member_id IS NOT NULL {{members}}
GROUP BY member_id
"""

CHUNK = 5000


def purchase_stats_add(
    *, member_id: int, kind: str, amount: Decimal, occurred_at: datetime
) -> None:
    """Count one new purchase or return of the member (inside the caller's transaction)."""
    ops = connection.ops
    purchase = kind == Transaction.Kind.PURCHASE
    at = ops.adapt_datetimefield_value(occurred_at) if purchase else None
    spend = ops.adapt_decimalfield_value(amount if purchase else -amount, 14, 2)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [member_id, 1 if purchase else 0, spend, at, at])


def purchase_stats_refresh(member_ids: Iterable[int] | None = None) -> int:
    """Recompute the rows of `member_ids` (None: every member) from their transactions; returns
    the number of rows written. Atomic."""
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if member_ids is None:
            cursor.execute(f"DELETE FROM {TABLE}")
            cursor.execute(_RECOMPUTE.format(members=""))
            return cursor.rowcount
        ids = sorted(set(member_ids))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {TABLE} WHERE member_id IN ({marks})", chunk)
            cursor.execute(_RECOMPUTE.format(members=f"AND member_id IN ({marks})"), chunk)
            written += cursor.rowcount
    return written
