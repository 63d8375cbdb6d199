"""The bulk path of the historical transaction import (Online Retail format).

Same results as sending every invoice through purchase_record/return_record (tests/ledger/
imports/test_bulk_equivalence.py compares the two entry by entry), in a handful of statements:

1. read every invoice; one query finds those already imported (idempotency on
   (channel, external_id), as the per-invoice path);
2. customers are enrolled per batch exactly as the per-invoice path does;
3. one transaction: the accounts of the members concerned are created if missing and locked
   (pk order), their open lots loaded; then every invoice is posted in memory in file order by the
   same code the services use (rules engine with the same rules, lots, FIFO debits, debt / cap
   return policy, running balance_after), and the tiers' upgrade checks run through the
   simulators the upper apps register (loyalty/ledger/rules.py, BULK_SIMULATORS);
4. transactions, lines, entries, lots and allocations are written with COPY (PostgreSQL) or
   bulk INSERT (SQLite), ids reserved up front; accounts and touched lots updated in bulk.

When something cannot be reproduced in memory - a contributor or after-posting hook without a
bulk simulator (e.g. a campaign app's), or an active per-day / per-month cap rule (it needs the
points earned per member per day) - `bulk_blockers()` says why and the importer falls back to
the per-invoice path.

Simulator interface (a class registered with rules.register_bulk_simulator):
    Simulator(members={member_id: enrolled_at}, now=datetime)
    .contributions(member_id, occurred_at=) -> list[Contribution]   (instead of the contributors)
    .posted(member_id=, kind=, occurred_at=, amount=, entries=[(kind, points)])  (after each post)
    .write()                                                 (its own rows, once, at the end)
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from loyalty.core.bulkwrite import insert_rows, is_postgres, model_columns, reserve_ids
from loyalty.ledger import rules as engine
from loyalty.ledger.locks import lock_accounts
from loyalty.ledger.models import (
    EarningRule,
    EarningRuleUse,
    LedgerEntry,
    LotAllocation,
    PointsAccount,
    PointsLot,
    Transaction,
    TransactionLine,
)
from loyalty.ledger.policy import programme_settings_get
from loyalty.ledger.services.posting import credit_lot_times
from loyalty.ledger.services.rule_usage import usage_period_bounds
from loyalty.ledger.services.transactions import _ctx, _floor, _validate_money
from loyalty.ledger.stats import purchase_stats_refresh
from members.exceptions import MemberNotActive

Kind = LedgerEntry.Kind
CHUNK = 5000
ADVISORY_KEY = 8_102_010  # one bulk transaction import at a time (PostgreSQL)


def bulk_blockers() -> list[str]:
    """Why the bulk path cannot reproduce the per-invoice path now (empty: it can)."""
    covered = {fn for _, covers in engine.BULK_SIMULATORS for fn in covers}
    reasons = [
        f"earning contributor {getattr(fn, '__qualname__', fn)} has no bulk simulator"
        for fn in engine.CONTRIBUTORS
        if fn not in covered
    ]
    reasons += [
        f"after-posting hook {getattr(fn, '__qualname__', fn)} has no bulk simulator"
        for fn in engine.AFTER_POSTING_HOOKS
        if fn not in covered
    ]
    caps = EarningRule.objects.filter(
        active=True, kind__in=[EarningRule.Kind.CAP_DAY, EarningRule.Kind.CAP_MONTH]
    ).values_list("name", flat=True)
    reasons += [f"per-day/per-month cap rule {name!r} is active" for name in caps]
    return reasons


@dataclass
class _Lot:
    account_id: int
    amount: int
    remaining: int
    available_from: datetime
    expires_at: datetime | None
    pk: int | None = None  # existing lots; new ones get theirs when written
    entry: int | None = None  # index into _Plan.entries (new lots)
    order: int = 0  # creation order of new lots (their future pks grow with it)
    dirty: bool = False

    def sort_key(self, now: datetime) -> tuple:
        return (
            self.available_from > now,  # available before pending
            self.expires_at is None,  # soonest expiry first, no expiry last
            self.expires_at or now,
            (0, self.pk) if self.pk is not None else (1, self.order),
        )


@dataclass
class _Account:
    pk: int
    member_id: int
    balance: int
    debt: int
    lifetime_earned: int
    lots: list[_Lot] = field(default_factory=list)


@dataclass
class _Plan:
    transactions: list[dict] = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)  # (txn index, LineInput)
    entries: list[dict] = field(default_factory=list)
    new_lots: list[_Lot] = field(default_factory=list)
    allocations: list[tuple[int, _Lot, int]] = field(default_factory=list)  # entry idx, lot, pts


class BulkPoster:
    """Posts a list of (invoice, kind, amount, member) in memory, then writes it all."""

    def __init__(self, *, members: dict[int, Any], now: datetime | None = None):
        self.now = now or timezone.now()
        self.programme = programme_settings_get()
        self.rules = list(EarningRule.objects.filter(active=True).order_by("priority", "id"))
        self.members = members
        self.simulators = [
            simulator(members={m.pk: m.enrolled_at for m in members.values()}, now=self.now)
            for simulator, _ in engine.BULK_SIMULATORS
        ]
        self.accounts: dict[int, _Account] = {}
        self.plan = _Plan()
        self.usage = _Usage(self.rules, self.programme)

    # ------------------------------------------------------------------------------- accounts
    def lock_accounts(self) -> None:
        ids = sorted(self.members)
        have: dict[int, int] = {}
        for offset in range(0, len(ids), CHUNK):
            have.update(
                PointsAccount.objects.filter(
                    member_id__in=ids[offset : offset + CHUNK]
                ).values_list("member_id", "pk")
            )
        missing = [m for m in ids if m not in have]
        if missing:
            PointsAccount.objects.bulk_create(
                [PointsAccount(member_id=m) for m in missing],
                batch_size=CHUNK,
                ignore_conflicts=True,
            )
            for offset in range(0, len(missing), CHUNK):
                have.update(
                    PointsAccount.objects.filter(
                        member_id__in=missing[offset : offset + CHUNK]
                    ).values_list("member_id", "pk")
                )
        account_ids = sorted(have.values())
        for offset in range(0, len(account_ids), CHUNK):  # pk order across chunks too
            for account in lock_accounts(account_ids[offset : offset + CHUNK]):
                self.accounts[account.member_id] = _Account(
                    account.pk,
                    account.member_id,
                    account.balance,
                    account.debt,
                    account.lifetime_earned,
                )
        by_pk = {a.pk: a for a in self.accounts.values()}
        for offset in range(0, len(account_ids), CHUNK):
            for lot in PointsLot.objects.filter(
                account_id__in=account_ids[offset : offset + CHUNK], remaining__gt=0
            ).values("pk", "account_id", "amount", "remaining", "available_from", "expires_at"):
                by_pk[lot["account_id"]].lots.append(
                    _Lot(
                        lot["account_id"],
                        lot["amount"],
                        lot["remaining"],
                        lot["available_from"],
                        lot["expires_at"],
                        pk=lot["pk"],
                    )
                )

    # -------------------------------------------------------------------------------- posting
    def _entry(
        self, account: _Account, *, txn: dict, kind: str, amount: int, key: str, **fields: Any
    ) -> int:
        self.plan.entries.append(
            {
                "account_id": account.pk,
                "kind": kind,
                "amount": amount,
                "balance_after": account.balance + amount,
                "source_type": txn["kind"],
                "idempotency_key": key,  # completed with the transaction's id when written
                "txn": txn,
                "effective_at": txn["occurred_at"],
                "created_at": self.now,
                **fields,
            }
        )
        return len(self.plan.entries) - 1

    def _credit(
        self,
        account: _Account,
        *,
        txn: dict,
        kind: str,
        points: int,
        key: str,
        available: datetime,
        expires: datetime | None,
        **fields: Any,
    ) -> None:
        index = self._entry(account, txn=txn, kind=kind, amount=points, key=key, **fields)
        repaid = min(account.debt, points)
        lot = _Lot(
            account.pk,
            points,
            points - repaid,
            available,
            expires,
            entry=index,
            order=len(self.plan.new_lots),
        )
        self.plan.new_lots.append(lot)
        if lot.remaining:
            account.lots.append(lot)
        account.balance += points
        account.debt -= repaid
        if kind in (Kind.EARN, Kind.BONUS):
            account.lifetime_earned += points

    def _debit_return(self, account: _Account, *, txn: dict, points: int) -> int:
        """The reversal of a return without a purchase reference: pending and expired lots too,
        soonest expiry first; the shortfall follows the return policy. Returns points taken."""
        lots = sorted(
            (lot for lot in account.lots if lot.remaining > 0),
            key=lambda lot: lot.sort_key(self.now),
        )
        coverable = sum(lot.remaining for lot in lots)
        wanted = points
        shortfall = max(wanted - coverable, 0)
        metadata: dict[str, Any] = {"original": None}
        if shortfall and self.programme.return_policy == "cap":
            metadata["uncollected"] = shortfall
            wanted -= shortfall
            if wanted == 0:
                return 0
        index = self._entry(
            account,
            txn=txn,
            kind=Kind.REVERSAL,
            amount=-wanted,
            key="reverse",
            reason="return without a purchase reference (base rate)",
            metadata=metadata,
        )
        left = wanted
        for lot in lots:
            if not left:
                break
            take = min(lot.remaining, left)
            lot.remaining -= take
            lot.dirty = True
            left -= take
            self.plan.allocations.append((index, lot, take))
        account.lots = [lot for lot in account.lots if lot.remaining > 0]
        account.balance -= wanted
        account.debt += left
        return wanted

    def post(
        self,
        *,
        kind: str,
        external_id: str,
        occurred_at: datetime,
        amount: Decimal,
        member: Any,
        lines: list,
    ) -> dict:
        """Post one purchase or return (validated by the caller). Returns the transaction row."""
        txn = {
            "kind": kind,
            "channel": Transaction.Channel.IMPORT,
            "external_id": external_id,
            "member_id": member.pk if member else None,
            "occurred_at": occurred_at,
            "amount": amount,
            "currency": self.programme.currency,
            "eligible_amount": Decimal("0"),
            "points_earned": 0,
            "points_reversed": 0,
            "points_uncollected": 0,
        }
        self.plan.transactions.append(txn)
        self.plan.lines.extend((txn, line) for line in lines)
        if member is None:
            return txn
        account = self.accounts[member.pk]
        first_entry = len(self.plan.entries)
        if kind == Transaction.Kind.PURCHASE:
            self._purchase(account, txn, member, lines)
        else:
            to_reverse = _floor(amount * self.programme.points_per_unit)
            if to_reverse > 0:
                taken = self._debit_return(account, txn=txn, points=to_reverse)
                txn["points_reversed"] = taken
                txn["points_uncollected"] = to_reverse - taken
        posted = [(e["kind"], e["amount"]) for e in self.plan.entries[first_entry:]]
        for simulator in self.simulators:
            simulator.posted(
                member_id=member.pk,
                kind=kind,
                occurred_at=occurred_at,
                amount=amount,
                entries=posted,
            )
        return txn

    def _purchase(self, account: _Account, txn: dict, member: Any, lines: list) -> None:
        programme = self.programme
        ctx = _ctx(
            programme,
            member=member,
            channel=txn["channel"],
            store=None,
            occurred_at=txn["occurred_at"],
            amount=txn["amount"],
            paid_with_points=Decimal("0"),
            lines=lines,
        )
        contributions = [
            c
            for s in self.simulators
            for c in s.contributions(member.pk, occurred_at=txn["occurred_at"])
        ]
        earned = engine.evaluate(
            programme=programme,
            ctx=ctx,
            rules=self.rules,
            contributions=contributions,
            uses=self.usage.left(ctx),
        )
        self.usage.record(txn, earned.used_rules)
        txn["eligible_amount"] = earned.eligible_amount
        txn["points_uncollected"] = earned.points_uncollected
        available, expiry = credit_lot_times(programme, txn["occurred_at"], pending=True)
        credits = [(Kind.EARN, earned.points, "earn", "", earned.applied)] + [
            (Kind.BONUS, b.points, f"bonus:{b.source}", b.label, [b.explanation()])
            for b in earned.bonuses
        ]
        for kind, points, key, label, applied in credits:
            if points <= 0:
                continue
            self._credit(
                account,
                txn=txn,
                kind=kind,
                points=points,
                key=key,
                available=available,
                expires=expiry,
                rules=applied,
                reason=label,
            )
            txn["points_earned"] += points

    # ---------------------------------------------------------------------------------- write
    def write(self, progress: Any = None) -> None:
        plan = self.plan
        now = self.now
        txn_ids = reserve_ids(Transaction, len(plan.transactions))
        for txn, pk in zip(plan.transactions, txn_ids, strict=True):
            txn["id"] = pk
        columns, defaults = model_columns(Transaction)
        insert_rows(
            Transaction,
            ["id", *columns],
            ([t["id"], *[t.get(c, defaults[c]) for c in columns]] for t in plan.transactions),
        )
        insert_rows(
            TransactionLine,
            ["transaction_id", "sku", "category", "quantity", "unit_price", "amount"],
            (
                (t["id"], line.sku, line.category, line.quantity, line.unit_price, line.total())
                for t, line in plan.lines
            ),
            progress=progress,
        )
        entry_ids = reserve_ids(LedgerEntry, len(plan.entries))
        columns, defaults = model_columns(LedgerEntry)
        rows = []
        for entry, pk in zip(plan.entries, entry_ids, strict=True):
            txn = entry.pop("txn")
            entry["id"] = pk
            entry["source_id"] = str(txn["id"])
            entry["idempotency_key"] = f"{txn['kind']}:{txn['id']}:{entry['idempotency_key']}"
            rows.append([pk, *[entry.get(c, defaults[c]) for c in columns]])
        insert_rows(LedgerEntry, ["id", *columns], rows)
        lot_ids = reserve_ids(PointsLot, len(plan.new_lots))
        for lot, pk in zip(plan.new_lots, lot_ids, strict=True):
            lot.pk = pk

        def lot_row(lot: _Lot) -> tuple[Any, ...]:
            assert lot.entry is not None  # a new lot is always made with its earning entry
            return (
                lot.pk,
                lot.account_id,
                entry_ids[lot.entry],
                lot.amount,
                lot.remaining,
                lot.available_from,
                lot.expires_at,
            )

        insert_rows(
            PointsLot,
            ["id", "account_id", "entry_id", "amount", "remaining", "available_from", "expires_at"],
            (lot_row(lot) for lot in plan.new_lots),
        )
        insert_rows(
            LotAllocation,
            ["entry_id", "lot_id", "points"],
            ((entry_ids[index], lot.pk, points) for index, lot, points in plan.allocations),
        )
        old = {lot.pk: lot for _, lot, _ in plan.allocations if lot.entry is None}
        touched = [PointsLot(pk=pk, remaining=lot.remaining) for pk, lot in old.items()]
        PointsLot.objects.bulk_update(touched, ["remaining"], batch_size=1000)
        PointsAccount.objects.bulk_update(
            [
                PointsAccount(
                    pk=a.pk,
                    balance=a.balance,
                    debt=a.debt,
                    lifetime_earned=a.lifetime_earned,
                    updated_at=now,
                )
                for a in self.accounts.values()
            ],
            ["balance", "debt", "lifetime_earned", "updated_at"],
            batch_size=1000,
        )
        insert_rows(
            EarningRuleUse,
            ["rule_id", "member_id", "transaction_id", "used_at"],
            (
                (rule_id, txn["member_id"], txn["id"], txn["occurred_at"])
                for rule_id, txn in self.usage.new
            ),
        )
        for simulator in self.simulators:
            simulator.write()
        purchase_stats_refresh(
            t["member_id"] for t in plan.transactions if t.get("member_id") is not None
        )


class _Usage:
    """The usage caps of the rules, counted in memory as the import posts (the per-invoice path
    counts EarningRuleUse rows under locks; the import holds its advisory lock and the accounts'
    locks, and the capped rules' rows are locked here)."""

    def __init__(self, rules: list[EarningRule], programme: Any):
        self.programme = programme
        self.capped = {rule.pk: rule for rule in rules if rule.has_usage_caps}
        self.new: list[tuple[int, dict]] = []
        self.totals: dict[int, int] = {}
        self.by_member: dict[tuple[int, int], list[datetime]] = {}
        if not self.capped:
            return
        list(
            EarningRule.objects.filter(pk__in=sorted(self.capped))
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        for rule_id, member_id, used_at in EarningRuleUse.objects.filter(
            rule_id__in=list(self.capped)
        ).values_list("rule_id", "member_id", "used_at"):
            self.totals[rule_id] = self.totals.get(rule_id, 0) + 1
            self.by_member.setdefault((rule_id, member_id), []).append(used_at)

    def left(self, ctx: engine.EarningContext) -> dict[int, int | None]:
        if not self.capped:
            return {}
        left: dict[int, int | None] = {}
        for rule in engine.candidate_rules(list(self.capped.values()), ctx):
            mine = self.by_member.get((rule.pk, ctx.member.pk), [])
            in_period = 0
            if rule.max_uses_per_period:
                start, end = usage_period_bounds(self.programme, ctx.occurred_at, rule.usage_period)
                in_period = sum(1 for when in mine if start <= when < end)
            left[rule.pk] = engine.uses_left(
                rule,
                total=self.totals.get(rule.pk, 0),
                by_member=len(mine),
                by_member_in_period=in_period,
            )
        return left

    def record(self, txn: dict, used: list[int]) -> None:
        for rule_id in used:
            if rule_id in self.capped:
                self.totals[rule_id] = self.totals.get(rule_id, 0) + 1
                self.by_member.setdefault((rule_id, txn["member_id"]), []).append(
                    txn["occurred_at"]
                )
                self.new.append((rule_id, txn))


def advisory_lock() -> None:
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_KEY])


def validate(amount: Decimal, occurred_at: datetime) -> str | None:
    try:
        _validate_money(amount, occurred_at)
    except ValidationError as exc:
        return "; ".join(exc.messages)
    return None


def not_active_message(member: Any) -> str | None:
    if member is not None and not member.is_active:
        return MemberNotActive().message
    return None
