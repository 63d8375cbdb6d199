"""The tiers' part of a bulk transaction import, in memory (see loyalty/ledger/bulk.py).

Reproduces, for a whole import at once, what the per-purchase path does through
`tier_multiplier_contributor` (the current tier's earn multiplier) and
`tier_upgrade_after_posting` (tier_evaluate_member with imported=True after each purchase: upgrade
only, reason "import", no gift; a member without a tier row gets one). Qualifying values start
from the database (one grouped query per chunk of members, as the services do) and move with each
entry the import posts that falls inside the member's current window.
"""

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from loyalty.core.bulkwrite import insert_rows, model_columns
from loyalty.ledger.models import LedgerEntry, Transaction
from loyalty.ledger.rules import Contribution
from loyalty.tiers.exceptions import TierConfigurationError
from loyalty.tiers.hooks import tier_contributions
from loyalty.tiers.models import Tier, TierAssignment, TierPolicy
from loyalty.tiers.qualifying import (
    CHUNK,
    _points_totals,
    _spend_totals,
    current_windows,
    local_midnight,
    local_today,
    member_refs,
    programme_zone,
)

logger = logging.getLogger(__name__)
ZERO = Decimal("0")
COUNTED_POINTS = (LedgerEntry.Kind.EARN, LedgerEntry.Kind.BONUS, LedgerEntry.Kind.REVERSAL)


class TierBulkSimulator:
    def __init__(self, *, members: dict[int, datetime], now: datetime):
        """`members`: id -> enrolled_at of every member the import posts for."""
        self.now = now
        self.tiers = list(Tier.objects.order_by("rank"))
        self.entry_tier = self.tiers[0] if self.tiers else None
        try:
            from loyalty.tiers.services import tier_ladder_checked

            self.ladder: list[Tier] = tier_ladder_checked()
            self.broken = ""
        except TierConfigurationError as exc:
            self.ladder, self.broken = [], exc.message
        self.policy, _ = TierPolicy.objects.get_or_create(pk=1)
        zone = programme_zone()
        self.zone = zone
        ids = list(members)
        self.current: dict[int, dict[str, Any]] = {}
        for offset in range(0, len(ids), 5000):
            for row in TierAssignment.objects.filter(
                member_id__in=ids[offset : offset + 5000], valid_to__isnull=True
            ).values("id", "member_id", "tier_id", "downgrade_due_on"):
                self.current[row["member_id"]] = dict(row)  # grows a "new" key below
        self.by_id = {tier.pk: tier for tier in self.tiers}
        self.bounds: dict[int, tuple[datetime | None, datetime | None]] = {}
        self.value: dict[int, Decimal] = {}
        if self.ladder:
            refs = member_refs(list(members.items()), zone)
            today = local_today(zone)
            for member_id, window in current_windows(
                kind=self.policy.window, refs=refs, today=today
            ).items():
                start = local_midnight(window.start, zone) if window.start else None
                end = local_midnight(window.end, zone) if window.end else None
                if window.end is None:
                    start = None
                self.bounds[member_id] = (start, end)
            self.value = self._raw_values(refs, today)
        self.new_rows: list[dict[str, Any]] = []  # rows opened by the import, in order
        self.closed: list[int] = []  # rows of the database closed by the import
        self.cleared: list[int] = []  # rows of the database whose grace downgrade was cancelled

    def _raw_values(self, refs: list, today: Any) -> dict[int, Decimal]:
        """The services' qualifying values before their max(.., 0), so that the running total
        plus the import's entries equals what they would read after each purchase."""
        totals_for = (
            _points_totals if self.policy.basis == TierPolicy.Basis.POINTS else _spend_totals
        )
        by_bounds: dict[tuple, list[int]] = {}
        for ref in refs:
            by_bounds.setdefault(self.bounds[ref.id], []).append(ref.id)
        values: dict[int, Decimal] = {}
        for (start, end), ids in by_bounds.items():
            for offset in range(0, len(ids), CHUNK):
                values.update(totals_for(ids[offset : offset + CHUNK], start, end))
        return values

    # -------------------------------------------------------------------------- contributors
    def contributions(
        self, member_id: int, *, occurred_at: datetime | None = None
    ) -> list[Contribution]:
        row = self.current.get(member_id)
        tier = self.by_id[row["tier_id"]] if row else self.entry_tier
        return tier_contributions(tier)

    # ------------------------------------------------------------- batch of live purchases
    live = False  # set by the batch poster (loyalty/ledger/batch.py)

    @classmethod
    def batch_blocker(cls) -> str | None:
        return None

    def batch_single_reason(
        self,
        *,
        member_id: int,
        kind: str,
        occurred_at: datetime,
        amount: Decimal,
        entries: list[tuple[str, int]],
    ) -> str | None:
        """Why this posting must go through the purchase path (the tier service: an upgrade
        with its gift, reason and messages, a first tier row, a grace cancelled), else None.
        Reads only: the state moves in `posted`."""
        if not self.ladder or kind != Transaction.Kind.PURCHASE:
            return None
        value = self.value.get(member_id, ZERO)
        start, end = self.bounds[member_id]
        if (start is None or occurred_at >= start) and (end is None or occurred_at < end):
            if self.policy.basis == TierPolicy.Basis.POINTS:
                value += Decimal(sum(p for k, p in entries if k in COUNTED_POINTS))
            else:
                value += amount
        from loyalty.tiers.services import tier_for_value

        value = max(value, ZERO)
        if self.policy.basis == TierPolicy.Basis.SPEND:
            value = value.quantize(Decimal("0.01"))
        reached = tier_for_value(self.ladder, value)
        current = self.current.get(member_id)
        if current is None:
            return "the member gets a first tier"
        held = self.by_id[current["tier_id"]]
        if reached.rank > held.rank:
            return "a tier upgrade"
        if current["downgrade_due_on"] is not None and reached.rank >= held.rank:
            return "a tier downgrade cancelled"
        return None

    def refresh(self, members: dict[int, datetime]) -> None:
        """Read these members' tier rows and qualifying values again (the batch poster, after
        the purchase path posted for them)."""
        ids = list(members)
        for member_id in ids:
            self.current.pop(member_id, None)
            self.value.pop(member_id, None)
        for row in TierAssignment.objects.filter(member_id__in=ids, valid_to__isnull=True).values(
            "id", "member_id", "tier_id", "downgrade_due_on"
        ):
            self.current[row["member_id"]] = dict(row)
        if self.ladder:
            refs = member_refs(list(members.items()), self.zone)
            today = local_today(self.zone)
            for member_id, window in current_windows(
                kind=self.policy.window, refs=refs, today=today
            ).items():
                start = local_midnight(window.start, self.zone) if window.start else None
                end = local_midnight(window.end, self.zone) if window.end else None
                self.bounds[member_id] = (None if window.end is None else start, end)
            self.value.update(self._raw_values(refs, today))

    # --------------------------------------------------------------------------------- hooks
    def posted(
        self,
        *,
        member_id: int,
        kind: str,
        occurred_at: datetime,
        amount: Decimal,
        entries: list[tuple[str, int]],
    ) -> None:
        """A transaction was posted for the member with these (kind, points) entries."""
        if not self.ladder:
            if kind == Transaction.Kind.PURCHASE and self.broken:
                logger.error("tier upgrade skipped for member %s: %s", member_id, self.broken)
            return
        start, end = self.bounds[member_id]
        if (start is None or occurred_at >= start) and (end is None or occurred_at < end):
            if self.policy.basis == TierPolicy.Basis.POINTS:
                delta = Decimal(sum(p for k, p in entries if k in COUNTED_POINTS))
            else:
                delta = amount if kind == Transaction.Kind.PURCHASE else -amount
            self.value[member_id] = self.value.get(member_id, ZERO) + delta
        if kind == Transaction.Kind.PURCHASE:
            self._evaluate(member_id)

    def _evaluate(self, member_id: int) -> None:
        from loyalty.tiers.services import tier_for_value

        value = max(self.value.get(member_id, ZERO), ZERO)
        if self.policy.basis == TierPolicy.Basis.SPEND:
            value = value.quantize(Decimal("0.01"))
        reached = tier_for_value(self.ladder, value)
        current = self.current.get(member_id)
        if current is not None:
            held = self.by_id[current["tier_id"]]
            if reached.rank <= held.rank:
                if current["downgrade_due_on"] is not None and reached.rank >= held.rank:
                    current["downgrade_due_on"] = None
                    if "new" in current:
                        current["new"]["downgrade_due_on"] = None
                    else:
                        self.cleared.append(current["id"])
                return
            if "new" in current:
                current["new"]["valid_to"] = self.now
            else:
                self.closed.append(current["id"])
        row = {
            "member_id": member_id,
            "tier_id": reached.pk,
            "previous_tier_id": current["tier_id"] if current else None,
            "reason": TierAssignment.Reason.IMPORT,
            "valid_from": self.now,
            "valid_to": None,
            "qualifying_value": value,
            "downgrade_due_on": None,
        }
        self.new_rows.append(row)
        self.current[member_id] = {
            "tier_id": reached.pk,
            "downgrade_due_on": None,
            "new": row,
        }

    # --------------------------------------------------------------------------------- write
    def write(self) -> None:
        now = self.now
        if self.closed:
            for offset in range(0, len(self.closed), 5000):
                TierAssignment.objects.filter(pk__in=self.closed[offset : offset + 5000]).update(
                    valid_to=now, updated_at=now
                )
        if self.cleared:
            TierAssignment.objects.filter(pk__in=self.cleared).update(
                downgrade_due_on=None, downgrade_to=None, updated_at=now
            )
        if self.new_rows:
            columns, defaults = model_columns(TierAssignment)
            insert_rows(
                TierAssignment,
                columns,
                ([row.get(c, defaults[c]) for c in columns] for row in self.new_rows),
            )
