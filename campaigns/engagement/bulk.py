"""Engagement's part of a bulk transaction import (see loyalty/ledger/bulk.py).

The import posts its purchases in memory; `write()` then recomputes the streaks, stages and
badges of every member it posted for, set-based (the same services as the nightly job, limited
to those members), after the import's own rows are written. Historical purchases send no
milestone messages (as the per-invoice path of an import does not).
"""

from datetime import datetime
from decimal import Decimal
from typing import Any


class EngagementBulkSimulator:
    def __init__(self, *, members: dict[int, datetime], now: datetime):
        self.now = now
        self.touched: set[int] = set()

    live = False  # a batch of live purchases (loyalty/ledger/batch.py): as a posting

    @classmethod
    def batch_blocker(cls) -> str | None:
        return None

    def batch_single_reason(self, **posting: Any) -> str | None:
        return None

    def refresh(self, members: dict[int, datetime]) -> None:
        return None  # nothing a purchase changes is held here

    def contributions(self, member_id: int, *, occurred_at: datetime | None = None) -> list:
        return []  # engagement gives no points

    def posted(
        self,
        *,
        member_id: int,
        kind: str,
        occurred_at: datetime,
        amount: Decimal,
        entries: list[tuple[str, int]],
    ) -> None:
        self.touched.add(member_id)

    def write(self) -> None:
        if not self.touched:
            return
        from campaigns.engagement.services import engagement_members_refresh

        engagement_members_refresh(
            member_ids=sorted(self.touched),
            now=self.now,
            source="posting" if self.live else "import",
            notify=self.live,  # milestone messages for live purchases, none for history
        )
        self.touched = set()  # a batch writes more than once
