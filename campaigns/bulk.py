"""The campaigns' part of a bulk transaction import (see loyalty/ledger/bulk.py).

The bulk poster writes the import's purchases first; then `write()` runs every imported purchase
that an active campaign could reward through the very code of the per-purchase path
(hooks.campaigns_on_purchase), in file order, so both paths give the same campaign points (tests/
campaigns/test_bulk.py compares them). With no active campaign it does nothing. The campaign
entries are posted after the import's own entries (same points and lots, a different entry order).
"""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.ledger.models import LedgerEntry, Transaction


class CampaignBulkSimulator:
    def __init__(self, *, members: dict[int, datetime], now: datetime):
        from campaigns.cache import active_campaigns

        self.now = now
        self.active = bool(active_campaigns())
        self.purchases: list[tuple[int, datetime, Decimal, int]] = []

    live = False  # set by the batch poster (loyalty/ledger/batch.py)

    @classmethod
    def batch_blocker(cls) -> str | None:
        """A batch of live purchases runs purchase by purchase while campaigns are active: their
        awards, budgets and counters are written by the purchase path's code."""
        from campaigns.cache import active_campaigns

        return "campaigns are active" if active_campaigns() else None

    def batch_single_reason(self, **posting: Any) -> str | None:
        return "campaigns are active" if self.active else None

    def refresh(self, members: dict[int, datetime]) -> None:
        return None  # nothing a purchase changes is held here

    def contributions(self, member_id: int, *, occurred_at: datetime | None = None) -> list:
        return []  # campaigns add separate bonus entries, not engine contributions

    def posted(
        self,
        *,
        member_id: int,
        kind: str,
        occurred_at: datetime,
        amount: Decimal,
        entries: list[tuple[str, int]],
    ) -> None:
        if self.active and kind == Transaction.Kind.PURCHASE:
            earn = sum(p for k, p in entries if k == LedgerEntry.Kind.EARN)
            self.purchases.append((member_id, occurred_at, amount, earn))

    def write(self) -> None:
        if not self.purchases:
            return
        from campaigns.hooks import campaigns_on_purchase

        members = sorted({m for m, *_ in self.purchases})
        start = min(p[1] for p in self.purchases)
        found: dict[tuple, list[Transaction]] = defaultdict(list)
        for offset in range(0, len(members), 5000):
            for txn in (
                Transaction.objects.filter(
                    member_id__in=members[offset : offset + 5000],
                    kind=Transaction.Kind.PURCHASE,
                    channel=Transaction.Channel.IMPORT,
                    occurred_at__gte=start,
                )
                .select_related("member", "store")
                .order_by("pk")
            ):
                found[(txn.member_id, txn.occurred_at, txn.amount)].append(txn)
        wanted: dict[tuple, int] = defaultdict(int)
        for member_id, occurred_at, amount, _earn in self.purchases:
            wanted[(member_id, occurred_at, amount)] += 1
        queues = {key: found[key][-count:] for key, count in wanted.items()}
        for member_id, occurred_at, amount, earn in self.purchases:
            queue = queues[(member_id, occurred_at, amount)]
            if queue:
                campaigns_on_purchase(txn=queue.pop(0), earn_points=earn, lines=None)
