"""Benchmark data: many members with a realistic history, written with COPY (PostgreSQL) or bulk
INSERT (SQLite). Used by `manage.py generate_benchmark_data` and tests/perf/run.py.

Shape: the number of purchases per member and the purchase amounts are drawn from the real
Online Retail invoices (../shared/data/online_retail_invoices.csv when present: few heavy buyers,
many one-off; amounts divided by 10 to look like a shop rather than a wholesaler), else from a
Pareto / log-normal pair with a similar tail. Members are spread over 20 stores and the store, web
and app channels; ~5 % of purchases are partly returned; members with points redeem catalogue
rewards (a redemption, a voucher, a REDEEM entry consuming lots soonest-expiry first).

What is written keeps the ledger's invariants (`manage.py reconcile_ledger` passes): every
credit has a lot, every debit allocations, balance_after runs per account in id order,
balance = SUM(entries) = SUM(lots.remaining) - debt (debt stays 0: a return takes back at most
what is left of its purchase's lot and records the rest as uncollected). History spans three
years, so lots older than the expiry policy are still open for the nightly expiry job, and recent
ones are pending for the release job. Every member has a tier row (upgraded ones a closed entry
row too). Not generated: transaction lines, consent rows, member events.
"""

import csv
import json
import multiprocessing
import random
from bisect import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from loyalty.core.bulkwrite import (
    deferred_indexes,
    insert_rows,
    is_postgres,
    model_columns,
    reserve_id_block,
)
from loyalty.ledger.models import LedgerEntry, LotAllocation, PointsAccount, PointsLot, Transaction
from loyalty.ledger.policy import expires_at, programme_settings_get
from members.identifiers import luhn_check_digit
from members.models import Member, Store

FIRST = [
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Ivy",
    "Lily",
    "Isabella",
    "Rosie",
    "Sophia",
    "Grace",
    "Freya",
    "Emily",
    "Poppy",
    "Ella",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Muhammad",
    "Leo",
    "Harry",
    "Oscar",
    "Archie",
    "Henry",
    "Theodore",
    "Freddie",
    "Jack",
    "Charlie",
    "Finley",
    "Thomas",
    "James",
    "William",
    "Jacob",
    "Alfie",
    "Edward",
    "Daniel",
    "Samuel",
    "Joseph",
    "Lucas",
    "Maya",
    "Anna",
    "Sara",
    "Laura",
    "Julia",
    "Chloe",
    "Zoe",
    "Hannah",
    "Ruby",
    "Evie",
    "Alice",
    "Florence",
    "Willow",
    "Sienna",
    "Elsie",
]
LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Lewis",
    "James",
    "Phillips",
    "Mason",
    "Mitchell",
    "Rose",
    "Davis",
    "Rodriguez",
    "Cox",
    "Alexander",
    "Morgan",
    "Moore",
    "Martin",
    "Lee",
    "Harris",
    "Clark",
    "Turner",
    "Hill",
    "Scott",
    "Cooper",
    "Ward",
    "Morris",
    "King",
    "Baker",
    "Harrison",
    "Young",
    "Allen",
    "Edwards",
    "Hughes",
    "Bennett",
    "Price",
]
DOMAINS = ("example.com", "example.net", "example.org", "mail.example")
REWARD_COSTS = (250, 500, 1000, 2500)
CHUNK = 20_000  # members per write round
CHANNELS = ("store", "web", "app")
CHANNEL_WEIGHTS = list(accumulate((0.7, 0.2, 0.1)))


def _channel(rng: random.Random) -> str:
    """rng.choices(CHANNELS, (0.7, 0.2, 0.1))[0], the same draw without rebuilding the
    cumulative weights on each of ten million calls (a tenth of the generator's time)."""
    return CHANNELS[bisect(CHANNEL_WEIGHTS, rng.random() * (CHANNEL_WEIGHTS[-1] + 0.0), 0, 2)]


def _model_columns(model: Any) -> tuple[list[str], dict[str, Any]]:
    """model_columns with the JSON defaults ({} ...) encoded once rather than on every row."""
    columns, defaults = model_columns(model)
    return columns, {
        c: json.dumps(v) if isinstance(v, (dict, list)) else v for c, v in defaults.items()
    }


@dataclass
class Shape:
    counts: list[int]  # purchases per customer in the source
    amounts_cents: list[int]  # purchase amounts in the source, cents (already scaled)
    source: str

    @classmethod
    def load(cls, path: Path | None, rng: random.Random) -> "Shape":
        if path and path.is_file():
            per_customer: dict[str, int] = {}
            amounts: list[int] = []
            with path.open(newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    if row["Kind"] != "purchase":
                        continue
                    cents = round(float(row["Amount"]) * 10)  # / 10, in cents
                    if cents <= 0:
                        continue
                    amounts.append(max(cents, 100))
                    if row["CustomerID"]:
                        per_customer[row["CustomerID"]] = per_customer.get(row["CustomerID"], 0) + 1
            return cls(sorted(per_customer.values()), sorted(amounts), str(path))
        counts = sorted(max(1, int(rng.paretovariate(1.3))) for _ in range(5000))
        amounts = sorted(max(100, int(rng.lognormvariate(7.6, 1.0))) for _ in range(20000))
        return cls(counts, amounts, "built-in Pareto (counts) / log-normal (amounts)")

    def draw_amount(self, rng: random.Random) -> int:
        return self.amounts_cents[int(rng.random() * len(self.amounts_cents))]


@dataclass
class Report:
    members: int = 0
    transactions: int = 0
    purchases: int = 0
    returns: int = 0
    entries: int = 0
    lots: int = 0
    redemptions: int = 0
    vouchers: int = 0
    tier_rows: int = 0
    shape: str = ""
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    TOTALS = (
        "members",
        "transactions",
        "purchases",
        "returns",
        "entries",
        "lots",
        "redemptions",
        "vouchers",
        "tier_rows",
    )

    def add(self, other: "Report") -> None:
        for name in self.TOTALS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def purchases_per_member(n: int, total: int, shape: Shape, rng: random.Random) -> list[int]:
    """n counts summing to `total`, distributed like the source's invoices per customer; about
    a fifth of members never buy (enrolled, lapsed at once)."""
    if n == 0:
        return []
    mean = sum(shape.counts) / len(shape.counts)
    buyers = 0.8
    scale = total / (n * buyers * mean) if total else 0
    counts = []
    for _ in range(n):
        if rng.random() > buyers:
            counts.append(0)
            continue
        raw = shape.counts[int(rng.random() * len(shape.counts))] * scale
        whole = int(raw)
        counts.append(whole + (1 if rng.random() < raw - whole else 0))
    diff = total - sum(counts)
    while diff:
        i = rng.randrange(n)
        if diff > 0:
            step = min(diff, max(1, diff // 1000))
            counts[i] += step
            diff -= step
        elif counts[i]:
            step = min(-diff, counts[i], max(1, -diff // 1000))
            counts[i] -= step
            diff += step
    return counts


def _member_number(pk: int) -> str:
    payload = f"8{pk:08d}"
    return payload + luhn_check_digit(payload)


def _voucher_code(redemption_id: int) -> str:
    """Unique per redemption (a bijection of the id over 32**11), valid check character."""
    from rewards.codes import ALPHABET, RANDOM_LENGTH, _check_char

    value = (redemption_id * 1_000_000_007) % (32**RANDOM_LENGTH)
    body = ""
    for _ in range(RANDOM_LENGTH):
        value, digit = divmod(value, 32)
        body += ALPHABET[digit]
    return body + _check_char(body)


class Generator:
    def __init__(
        self,
        *,
        members: int,
        transactions: int,
        seed: int = 1,
        shape_path: Path | None = None,
        progress: Any = None,
        jobs: int | None = None,
    ):
        self.seed = seed
        self.jobs = jobs
        self.rng = random.Random(seed)
        self.n = members
        self.m = transactions
        self.progress = progress
        default = Path(settings.BASE_DIR).parent / "shared" / "data" / "online_retail_invoices.csv"
        self.shape = Shape.load(shape_path or default, self.rng)
        self.report = Report(shape=self.shape.source)
        self.now = timezone.now().replace(microsecond=0)
        self.start = self.now - timedelta(days=3 * 365)
        self.programme = programme_settings_get()
        self._expiry_cache: dict[Any, datetime | None] = {}

    # ------------------------------------------------------------------------- reference data
    def _stores(self) -> list[int]:
        existing = list(Store.objects.order_by("pk").values_list("pk", flat=True))
        if len(existing) < 20:
            Store.objects.bulk_create(
                [
                    Store(code=f"B{i:03d}", name=f"Benchmark store {i}", region="Bench")
                    for i in range(1, 21)
                ],
                ignore_conflicts=True,
            )
            existing = list(Store.objects.order_by("pk").values_list("pk", flat=True))
        return existing[:20]

    def _tiers(self) -> list[tuple[int, Decimal, str]]:
        from loyalty.tiers.models import Tier

        if not Tier.objects.exists():
            from decimal import Decimal

            from loyalty.tiers.demo import LADDER
            from loyalty.tiers.models import TierPolicy

            TierPolicy.objects.get_or_create(pk=1)
            for code, name, rank, threshold, mult, gift, *_ in LADDER:
                Tier.objects.create(
                    code=code,
                    name=name,
                    rank=rank,
                    threshold=Decimal(threshold),
                    earn_multiplier=Decimal(mult),
                    entry_gift_points=gift,
                )
        return list(Tier.objects.order_by("rank").values_list("pk", "threshold", "code"))

    def _rewards(self) -> list[tuple[int, int]]:
        try:
            from rewards.models import Reward
        except ImportError:  # pragma: no cover - rewards not installed
            return []
        rewards = list(
            Reward.objects.filter(code__startswith="bench-").values_list("pk", "points_cost")
        )
        if not rewards:
            for cost in REWARD_COSTS:
                Reward.objects.create(
                    code=f"bench-{cost}",
                    name=f"Benchmark reward {cost}",
                    kind=Reward.Kind.AMOUNT_OFF,
                    points_cost=cost,
                    amount_off=Decimal(cost) / 100,
                )
            rewards = list(
                Reward.objects.filter(code__startswith="bench-").values_list("pk", "points_cost")
            )
        return sorted(rewards, key=lambda r: r[1])

    def _expiry(self, moment: datetime) -> datetime | None:
        day = moment.date()
        if day not in self._expiry_cache:
            self._expiry_cache[day] = expires_at(self.programme, moment)
        return self._expiry_cache[day]

    # ---------------------------------------------------------------------------------- run
    def run(self) -> Report:
        """Reference data and the purchase counts here; then the chunks of CHUNK members, each
        in its own transaction with its own RNG (seeded from the seed and the chunk's index, so
        what is generated does not depend on which process writes it or when; only the ids
        do), on `jobs` forked processes with their own connections on PostgreSQL."""
        global _RUNNING
        started = datetime.now(tz=UTC)
        self._reference = (self._stores(), self._tiers(), self._rewards())
        self._counts = purchases_per_member(self.n, self.m, self.shape, self.rng)
        chunks = list(enumerate(range(0, self.n, CHUNK)))
        jobs = self._jobs(len(chunks))
        # into a fresh database, indexes and constraints are built once at the end
        with deferred_indexes(self._tables(), parallel=jobs):
            if jobs == 1:
                for chunk in chunks:
                    self._count(*self._one_chunk(chunk))
            else:
                _RUNNING = self
                # the children open their own connections: none may inherit the parent's socket
                connections.close_all()
                try:
                    with multiprocessing.get_context("fork").Pool(
                        jobs, initializer=_forget_inherited_connections
                    ) as pool:
                        for done in pool.imap_unordered(_chunk_in_worker, chunks):
                            self._count(*done)
                finally:
                    _RUNNING = None
        from loyalty.ledger.stats import purchase_stats_refresh

        purchase_stats_refresh()  # the segments' read model, as the purchase path keeps it
        if is_postgres():
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.report.seconds = (datetime.now(tz=UTC) - started).total_seconds()
        return self.report

    def _jobs(self, chunks: int) -> int:
        """Processes to load with: 1 on SQLite (one writer at a time), for a single chunk and
        inside a transaction (other connections would not see its rows), else --jobs (2)."""
        if not is_postgres() or chunks <= 1 or connection.in_atomic_block:
            return 1
        return max(1, min(self.jobs or 2, chunks))

    def _one_chunk(self, chunk: tuple[int, int]) -> tuple[int, Report]:
        index, offset = chunk
        self.rng = random.Random(f"benchdata:{self.seed}:{index}")
        report, self.report = self.report, Report(shape=self.shape.source)
        counts = self._counts[offset : offset + CHUNK]
        try:
            with transaction.atomic():
                self._chunk(counts, *self._reference)
            return len(counts), self.report
        finally:
            self.report = report

    def _count(self, members: int, report: Report) -> None:
        self.report.add(report)
        if self.progress is not None:
            self.progress.update(members)

    def _tables(self) -> list[Any]:
        from loyalty.tiers.models import TierAssignment

        return [
            Member,
            PointsAccount,
            Transaction,
            LedgerEntry,
            PointsLot,
            LotAllocation,
            TierAssignment,
            _model("rewards", "Redemption"),
            _model("rewards", "Voucher"),
        ]

    def _chunk(
        self,
        counts: list[int],
        stores: list[int],
        tiers: list[tuple[int, Decimal, str]],
        rewards: list[tuple[int, int]],
    ) -> None:
        rng = self.rng
        now, start = self.now, self.start
        span = (now - start).total_seconds()
        pending = timedelta(days=self.programme.pending_days)
        rate = float(self.programme.points_per_unit)
        member_ids = reserve_id_block(Member, len(counts))
        account_ids = reserve_id_block(PointsAccount, len(counts))
        n_txn = sum(counts)
        n_returns = sum(1 for _ in range(n_txn) if rng.random() < 0.05)
        txn_ids = iter(reserve_id_block(Transaction, n_txn + n_returns))
        members: list[Any] = []
        accounts: list[Any] = []
        txns: list[Any] = []
        entries: list[Any] = []
        lots: list[Any] = []
        allocations: list[Any] = []
        redemptions: list[list] = []
        vouchers: list[list] = []
        tier_rows: list[list] = []
        returns_left = n_returns
        for member_id, account_id, count in zip(member_ids, account_ids, counts, strict=True):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            enrolled = start + timedelta(seconds=rng.random() * span * 0.9)
            channel = _channel(rng)
            home = stores[member_id % len(stores)]
            members.append(
                (
                    member_id,
                    _member_number(member_id),
                    first,
                    last,
                    f"{first.lower()}.{last.lower()}{member_id}@{DOMAINS[member_id % 4]}",
                    f"+4477{member_id:08d}",
                    home,
                    channel,
                    enrolled,
                    enrolled,
                    f"B{member_id:010d}"[-12:],
                    f"bench:{member_id}",
                )
            )
            # events of the member: purchases, some later returned, redemptions when rich
            life = (now - enrolled).total_seconds()
            times = sorted(enrolled + timedelta(seconds=rng.random() * life) for _ in range(count))
            balance = lifetime = 0
            open_lots: list[list[Any]] = []  # [expires_at, lot_id, remaining, available_from]
            lot_of_txn: dict[int, list] = {}
            later_returns: list[tuple[datetime, int, int, int, int]] = []
            for moment in times:
                while later_returns and later_returns[0][0] <= moment:
                    balance = self._return(
                        later_returns.pop(0),
                        member_id,
                        account_id,
                        balance,
                        txns,
                        entries,
                        allocations,
                        lot_of_txn,
                        txn_ids,
                    )
                cents = self.shape.draw_amount(rng)
                txn_id = next(txn_ids)
                txn_channel = _channel(rng)
                store = (
                    home
                    if txn_channel == "store" and rng.random() < 0.8
                    else (
                        stores[int(rng.random() * len(stores))] if txn_channel == "store" else None
                    )
                )
                points = int(cents * rate) // 100
                txns.append(
                    [
                        txn_id,
                        "purchase",
                        txn_channel,
                        f"G{txn_id}",
                        member_id,
                        store,
                        None,
                        moment,
                        cents,
                        points,
                        0,
                        0,
                    ]
                )
                self.report.purchases += 1
                if points > 0:
                    balance += points
                    lifetime += points
                    entry_id = len(entries)
                    entries.append(
                        [
                            account_id,
                            "earn",
                            points,
                            balance,
                            "purchase",
                            txn_id,
                            f"purchase:{txn_id}:earn",
                            moment,
                            None,
                        ]
                    )
                    available = moment + pending
                    lot: list[Any] = [self._expiry(available), len(lots), points, available]
                    lots.append([account_id, entry_id, points, lot, available, lot[0]])
                    open_lots.append(lot)
                    lot_of_txn[txn_id] = lot
                if returns_left and rng.random() < 0.05:
                    returns_left -= 1
                    back = moment + timedelta(days=rng.randint(1, 30))
                    if back < now:
                        share = rng.choice((0.25, 0.5, 1.0))
                        later_returns.append(
                            (back, txn_id, max(100, int(cents * share)), points, cents)
                        )
                        later_returns.sort()
                # a member with points redeems now and then
                if rewards and balance >= rewards[0][1] and rng.random() < 0.15:
                    affordable = [r for r in rewards if r[1] <= balance]
                    reward_id, cost = affordable[int(rng.random() * len(affordable))]
                    when = moment + timedelta(hours=1)
                    spendable = sorted(
                        (
                            lot
                            for lot in open_lots
                            if lot[2] > 0 and lot[3] <= when and (lot[0] is None or lot[0] > when)
                        ),
                        key=lambda lot: (lot[0] is None, lot[0] or when, lot[1]),
                    )
                    if sum(lot[2] for lot in spendable) >= cost and when < now:
                        balance -= cost
                        entry_id = len(entries)
                        redemption = len(redemptions)
                        entries.append(
                            [
                                account_id,
                                "redeem",
                                -cost,
                                balance,
                                "redemption",
                                redemption,
                                f"redemption:{redemption}",
                                when,
                                None,
                            ]
                        )
                        left = cost
                        for lot in spendable:
                            if not left:
                                break
                            take = min(lot[2], left)
                            lot[2] -= take
                            left -= take
                            allocations.append((entry_id, lot, take))
                        redemptions.append([member_id, reward_id, cost, entry_id, when])
                        used = rng.random() < 0.6
                        vouchers.append(
                            [
                                redemption,
                                member_id,
                                None,
                                "used" if used else "issued",
                                when + timedelta(days=90),
                                when + timedelta(days=2) if used else None,
                            ]
                        )
            for item in later_returns:
                balance = self._return(
                    item,
                    member_id,
                    account_id,
                    balance,
                    txns,
                    entries,
                    allocations,
                    lot_of_txn,
                    txn_ids,
                )
            accounts.append((account_id, member_id, balance, lifetime))
            reached = tiers[0]
            for tier in tiers:
                if lifetime >= tier[1]:
                    reached = tier
            if reached is tiers[0]:
                tier_rows.append([member_id, tiers[0][0], None, "enrolment", enrolled, None])
            else:
                upgraded = max(times[-1], enrolled) if times else enrolled
                tier_rows.append([member_id, tiers[0][0], None, "enrolment", enrolled, upgraded])
                tier_rows.append([member_id, reached[0], tiers[0][0], "threshold", upgraded, None])
        self._write(
            members, accounts, txns, entries, lots, allocations, redemptions, vouchers, tier_rows
        )

    def _return(
        self, item, member_id, account_id, balance, txns, entries, allocations, lot_of_txn, txn_ids
    ) -> int:
        moment, original, cents, earned, original_cents = item
        txn_id = next(txn_ids, None)
        if txn_id is None:
            return balance
        cents = min(cents, original_cents)
        to_reverse = earned * cents // original_cents
        lot = lot_of_txn.get(original)
        taken = min(to_reverse, lot[2]) if lot else 0
        txns.append(
            [
                txn_id,
                "return",
                "store",
                f"G{txn_id}",
                member_id,
                None,
                original,
                moment,
                cents,
                0,
                taken,
                to_reverse - taken,
            ]
        )
        self.report.returns += 1
        if taken:
            balance -= taken
            entry_id = len(entries)
            entries.append(
                [
                    account_id,
                    "reversal",
                    -taken,
                    balance,
                    "return",
                    txn_id,
                    f"return:{txn_id}:reverse",
                    moment,
                    json.dumps({"original": original}),
                ]
            )
            lot[2] -= taken
            allocations.append((entry_id, lot, taken))
        return balance

    # -------------------------------------------------------------------------------- write
    def _write(
        self, members, accounts, txns, entries, lots, allocations, redemptions, vouchers, tier_rows
    ) -> None:
        now = self.now
        currency = self.programme.currency
        cols, defaults = _model_columns(Member)
        named = [
            "member_number",
            "first_name",
            "last_name",
            "email",
            "phone",
            "home_store_id",
            "enrolment_channel",
            "enrolled_at",
            "status_changed_at",
            "referral_code",
            "external_ref",
        ]
        rest = [c for c in cols if c not in named]
        insert_rows(
            Member,
            ["id", *named, *rest],
            ([*row, *[defaults[c] for c in rest]] for row in members),
        )
        insert_rows(
            PointsAccount,
            ["id", "member_id", "balance", "debt", "lifetime_earned", "created_at", "updated_at"],
            ((a, m, b, 0, life, now, now) for a, m, b, life in accounts),
        )
        cols, defaults = _model_columns(Transaction)
        named = [
            "kind",
            "channel",
            "external_id",
            "member_id",
            "store_id",
            "original_id",
            "occurred_at",
            "amount",
            "points_earned",
            "points_reversed",
            "points_uncollected",
            "eligible_amount",
            "currency",
        ]
        rest = [c for c in cols if c not in named]

        def money(cents: int) -> str:
            return f"{cents // 100}.{cents % 100:02d}"

        insert_rows(
            Transaction,
            ["id", *named, *rest],
            (
                [
                    t[0],
                    t[1],
                    t[2],
                    t[3],
                    t[4],
                    t[5],
                    t[6],
                    t[7],
                    money(t[8]),
                    t[9],
                    t[10],
                    t[11],
                    money(t[8]) if t[1] == "purchase" else "0.00",
                    currency,
                    *[defaults[c] for c in rest],
                ]
                for t in txns
            ),
        )
        self.report.transactions += len(txns)
        redemption_ids = (
            reserve_id_block(_model("rewards", "Redemption"), len(redemptions))
            if redemptions
            else []
        )
        entry_ids = reserve_id_block(LedgerEntry, len(entries))
        cols, defaults = _model_columns(LedgerEntry)
        named = [
            "account_id",
            "kind",
            "amount",
            "balance_after",
            "source_type",
            "source_id",
            "idempotency_key",
            "effective_at",
            "metadata",
        ]
        rest = [c for c in cols if c not in named]
        rows = []
        for pk, e in zip(entry_ids, entries, strict=True):
            if e[1] == "redeem":  # its redemption's id is known now
                e[5] = redemption_ids[e[5]]
                e[6] = f"redemption:{e[5]}"
            rows.append(
                [pk, *e[:5], str(e[5]), e[6], e[7], e[8] or "{}", *[defaults[c] for c in rest]]
            )
        insert_rows(LedgerEntry, ["id", *named, *rest], rows)
        self.report.entries += len(rows)
        lot_ids = reserve_id_block(PointsLot, len(lots))
        for pk, lot in zip(lot_ids, lots, strict=True):
            lot[3][1] = pk  # the open-lot record now knows its id
        insert_rows(
            PointsLot,
            ["id", "account_id", "entry_id", "amount", "remaining", "available_from", "expires_at"],
            (
                (lot[3][1], lot[0], entry_ids[lot[1]], lot[2], lot[3][2], lot[4], lot[5])
                for lot in lots
            ),
        )
        self.report.lots += len(lots)
        insert_rows(
            LotAllocation,
            ["entry_id", "lot_id", "points"],
            ((entry_ids[e], lot[1], points) for e, lot, points in allocations),
        )
        if redemptions:
            Redemption, Voucher = _model("rewards", "Redemption"), _model("rewards", "Voucher")
            cols, defaults = _model_columns(Redemption)
            named = [
                "member_id",
                "reward_id",
                "points",
                "ledger_entry_id",
                "created_at",
                "channel",
                "idempotency_key",
            ]
            rest = [c for c in cols if c not in named]
            insert_rows(
                Redemption,
                ["id", *named, *rest],
                (
                    [
                        pk,
                        r[0],
                        r[1],
                        r[2],
                        entry_ids[r[3]],
                        r[4],
                        "store",
                        f"bench:{pk}",
                        *[defaults[c] for c in rest],
                    ]
                    for pk, r in zip(redemption_ids, redemptions, strict=True)
                ),
            )
            cols, defaults = _model_columns(Voucher)
            named = [
                "redemption_id",
                "member_id",
                "code",
                "status",
                "expires_at",
                "used_at",
                "used_channel",
                "order_ref",
            ]
            rest = [c for c in cols if c not in named]
            insert_rows(
                Voucher,
                [*named, *rest],
                (
                    [
                        redemption_ids[v[0]],
                        v[1],
                        _voucher_code(redemption_ids[v[0]]),
                        v[3],
                        v[4],
                        v[5],
                        "store" if v[5] else "",
                        f"ORDER-{redemption_ids[v[0]]}" if v[5] else "",
                        *[defaults[c] for c in rest],
                    ]
                    for v in vouchers
                ),
            )
            self.report.redemptions += len(redemptions)
            self.report.vouchers += len(vouchers)
        from loyalty.tiers.models import TierAssignment

        cols, defaults = _model_columns(TierAssignment)
        named = ["member_id", "tier_id", "previous_tier_id", "reason", "valid_from", "valid_to"]
        rest = [c for c in cols if c not in named]
        insert_rows(
            TierAssignment,
            [*named, *rest],
            ([*row, *[defaults[c] for c in rest]] for row in tier_rows),
        )
        self.report.tier_rows += len(tier_rows)
        self.report.members += len(members)


_RUNNING: Generator | None = None  # the generator the forked workers inherit


_INHERITED: list[Any] = []  # kept referenced: never finalised (a close would end the parent's)


def _forget_inherited_connections() -> None:
    """A forked worker must not talk on a socket it inherited. The parent closes its
    connections before forking, yet after a Playwright test had run in the same process the
    workers still found one open and spoke on it together (one session: the advisory lock of
    reserve_id_block let both through, duplicate ids). The worker drops any such object
    unclosed (closing would end the parent's session) and opens its own."""
    for alias in connections:
        wrapper = connections[alias]
        if wrapper.connection is not None:
            _INHERITED.append(wrapper.connection)
            wrapper.connection = None


def _chunk_in_worker(chunk: tuple[int, int]) -> tuple[int, Report]:
    assert _RUNNING is not None
    try:
        return _RUNNING._one_chunk(chunk)
    finally:
        connections.close_all()  # opened for this chunk, closed before the next


def _model(app: str, name: str) -> Any:
    from django.apps import apps

    return apps.get_model(app, name)
