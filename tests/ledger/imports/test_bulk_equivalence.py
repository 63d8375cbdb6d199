"""The bulk transaction import gives exactly what the per-invoice service path gives.

Each case imports the same file twice in the same database: first through purchase_record /
return_record (--per-invoice) inside a savepoint that is rolled back after a snapshot, then
through the bulk path; the snapshots (per member, keyed by the customer id of the file, with
transaction ids replaced by invoice numbers) must be equal: balances, debt, lifetime points,
every transaction, line, ledger entry (amount, balance_after, key, rules, metadata), lot,
allocation and tier row.
"""

import io
import random
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction

from loyalty.ledger.bulk import bulk_blockers
from loyalty.ledger.models import (
    EarningRule,
    EarningRuleUse,
    LedgerEntry,
    LotAllocation,
    PointsAccount,
    PointsLot,
    Transaction,
)
from loyalty.ledger.services import ledger_reconcile
from loyalty.tiers.models import TierAssignment
from loyalty.tiers.windows import WindowKind
from members.models import Member
from tests.factories.ledger import EarningRuleFactory, ProgrammeSettingsFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "online_retail" / "sample.csv"
pytestmark = pytest.mark.django_db
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


class _Rollback(Exception):
    pass


def synthetic_file(path: Path, seed: int) -> Path:
    """Invoices of a few heavy and light customers over a year, with returns big enough to run
    into debt (or the cap), anonymous invoices, zero totals and an adjustment."""
    rng = random.Random(seed)
    customers = ["17001", "17002", "17003", "17004", "17005"]
    start = datetime(2010, 12, 1, 9, 0)
    rows = [HEADER]
    for n in range(60):
        when = (start + timedelta(days=n * 6, minutes=rng.randint(0, 600))).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        customer = rng.choice(customers[:2] * 4 + customers[2:] + [""])
        if n % 9 == 8 and customer:
            for sku in ("85123A", "22423"):
                rows.append(
                    f"C{600000 + n},{sku},x,-{rng.randint(20, 120)},{when},{rng.choice(['2.55', '12.75'])},{customer},United Kingdom\n"
                )
            continue
        for _ in range(rng.randint(1, 6)):
            sku = rng.choice(["85123A", "22423", "POST", "47566", "84879"])
            price = rng.choice(["0.42", "1.65", "2.55", "4.95", "12.75", "0.0"])
            rows.append(
                f"{500000 + n},{sku},x,{rng.randint(1, 24)},{when},{price},{customer},France\n"
            )
    rows.append("C700000,22423,x,-3,2011-06-01 10:00:00,4.95,17006,France\n")  # return only
    rows.append("A700001,B,adjust,1,2011-08-12 14:50:00,11062.06,,United Kingdom\n")
    path.write_text("".join(rows))
    return path


def run_import(path: Path, tmp_path: Path, *extra: str) -> str:
    out = io.StringIO()
    call_command(
        "import_transactions",
        str(path),
        "--format",
        "online-retail",
        "--skipped",
        str(tmp_path / "skipped.csv"),
        "--batch-size",
        "7",
        *extra,
        stdout=out,
    )
    return out.getvalue()


TRANSACTION_SOURCES = {kind.value for kind in Transaction.Kind}
PURCHASE_ID = re.compile(r"purchase:(\d+)")


def snapshot() -> dict:
    refs = dict(Member.objects.values_list("pk", "external_ref"))
    txns = {t.pk: t for t in Transaction.objects.prefetch_related("lines")}
    accounts = {a.pk: refs[a.member_id] for a in PointsAccount.objects.all()}

    def by_ref(text: str) -> str:
        """A campaign's bonus names its purchase by id ("purchase:<pk>"); ids differ between
        two runs on PostgreSQL (sequences do not roll back), external ids do not."""
        return PURCHASE_ID.sub(lambda m: f"purchase:{txns[int(m[1])].external_id}", text)

    def key(entry: LedgerEntry) -> str:
        if entry.source_type not in TRANSACTION_SOURCES:
            return by_ref(entry.idempotency_key)
        pk = int(entry.source_id)
        return entry.idempotency_key.replace(f":{pk}:", f":{txns[pk].external_id}:")

    def metadata(entry: LedgerEntry) -> dict:
        if isinstance(entry.metadata, dict) and isinstance(entry.metadata.get("source"), str):
            return {**entry.metadata, "source": by_ref(entry.metadata["source"])}
        return entry.metadata

    entries = {e.pk: e for e in LedgerEntry.objects.order_by("pk")}
    return {
        "accounts": sorted(
            (accounts[a.pk], a.balance, a.debt, a.lifetime_earned)
            for a in PointsAccount.objects.all()
        ),
        "transactions": sorted(
            (
                t.external_id,
                t.kind,
                refs.get(t.member_id),
                t.amount,
                t.eligible_amount,
                t.points_earned,
                t.points_reversed,
                t.points_uncollected,
                t.occurred_at,
                sorted((x.sku, x.quantity, x.unit_price, x.amount) for x in t.lines.all()),
            )
            for t in txns.values()
        ),
        "entries": [
            (
                accounts[e.account_id],
                e.kind,
                e.amount,
                e.balance_after,
                e.source_type,
                key(e),
                e.reason,
                e.rules,
                metadata(e),
                e.effective_at,
            )
            for e in entries.values()
        ],
        "lots": [
            (
                key(entries[lot.entry_id]),
                lot.amount,
                lot.remaining,
                lot.available_from,
                lot.expires_at,
            )
            for lot in PointsLot.objects.order_by("pk")
        ],
        "allocations": sorted(
            (key(entries[a.entry_id]), key(entries[a.lot.entry_id]), a.points)
            for a in LotAllocation.objects.select_related("lot")
        ),
        "rule_uses": sorted(
            (use.rule.name, refs[use.member_id], txns[use.transaction_id].external_id, use.used_at)
            for use in EarningRuleUse.objects.select_related("rule")
        ),
        "tiers": [
            (
                refs[row.member_id],
                row.tier.code,
                row.previous_tier.code if row.previous_tier else None,
                row.reason,
                row.qualifying_value,
                row.valid_to is None,
            )
            for row in TierAssignment.objects.select_related("tier", "previous_tier").order_by("pk")
        ],
    }


def compare_paths(path: Path, tmp_path: Path) -> tuple[dict, str]:
    try:
        with transaction.atomic():
            slow_out = run_import(path, tmp_path, "--per-invoice")
            slow = snapshot()
            raise _Rollback
    except _Rollback:
        pass
    assert not Transaction.objects.exists()
    fast_out = run_import(path, tmp_path)
    assert "bulk path" in fast_out
    fast = snapshot()
    for part in slow:
        assert fast[part] == slow[part], part

    def summary(out: str) -> str:
        return next(line for line in out.splitlines() if " rows in " in line).split(": ", 1)[1]

    assert summary(fast_out) == summary(slow_out)
    assert ledger_reconcile() == []
    return fast, fast_out


@pytest.fixture
def programme_with_rules(db):
    programme = ProgrammeSettingsFactory(pending_days=14, expiry_months=24)
    EarningRuleFactory(
        name="Mondays x2", kind=EarningRule.Kind.MULTIPLIER, multiplier=Decimal("2"), weekdays=[0]
    )
    EarningRuleFactory(
        name="Lanterns x3",
        kind=EarningRule.Kind.MULTIPLIER,
        multiplier=Decimal("3"),
        skus=["85123A"],
    )
    EarningRuleFactory(name="Welcome 5", kind=EarningRule.Kind.FIXED_BONUS, points=5)
    EarningRuleFactory(name="Cap 400", kind=EarningRule.Kind.CAP_TRANSACTION, points=400)
    EarningRuleFactory(name="Minimum 1", kind=EarningRule.Kind.MINIMUM_SPEND, amount=Decimal("1"))
    return programme


@pytest.mark.parametrize("policy", ["debt", "cap"])
@pytest.mark.parametrize(
    ("basis", "window"),
    [
        ("points", WindowKind.LIFETIME),
        ("spend", WindowKind.LIFETIME),
        ("points", WindowKind.CALENDAR_YEAR),
    ],
)
def test_bulk_equals_per_invoice_on_a_synthetic_file(
    programme_with_rules, tmp_path, policy, basis, window
):
    programme_with_rules.return_policy = policy
    programme_with_rules.save()
    TierPolicyFactory(basis=basis, window=window)
    standard_ladder()
    fast, _ = compare_paths(synthetic_file(tmp_path / "retail.csv", seed=8), tmp_path)

    kinds = {e[1] for e in fast["entries"]}
    assert {"earn", "bonus", "reversal"} <= kinds
    if window == WindowKind.LIFETIME:  # upgrades happened during the import, with multipliers
        assert {t[1] for t in fast["tiers"]} >= {"member", "silver"}
        assert any("tier:silver" in str(e[7]) for e in fast["entries"])
    if policy == "debt":
        assert any(a[2] > 0 for a in fast["accounts"]), "the file should run someone into debt"
    else:
        assert any(t[7] > 0 for t in fast["transactions"]), "the cap should leave some uncollected"


def test_bulk_equals_per_invoice_on_the_committed_sample(programme_with_rules, tmp_path):
    TierPolicyFactory(window=WindowKind.LIFETIME)
    standard_ladder()
    fast, out = compare_paths(SAMPLE, tmp_path)
    assert "7 purchases, 1 returns (1 anonymous)" in out
    assert len(fast["accounts"]) == 3


def test_bulk_import_is_idempotent_and_continues_a_per_invoice_one(programme, tmp_path):
    path = synthetic_file(tmp_path / "retail.csv", seed=3)
    lines = path.read_text().splitlines(keepends=True)
    half = tmp_path / "half.csv"
    half.write_text("".join(lines[: len(lines) // 2]))
    run_import(half, tmp_path, "--per-invoice")
    first = Transaction.objects.count()

    out = run_import(path, tmp_path)
    again = run_import(path, tmp_path)

    assert f"{first} already imported" in out or f"{first - 1} already imported" in out
    assert Transaction.objects.count() > first
    assert " 0 purchases, 0 returns" in again
    assert (
        LedgerEntry.objects.count()
        == LedgerEntry.objects.values("idempotency_key").distinct().count()
    )
    assert ledger_reconcile() == []


def test_a_per_day_cap_falls_back_to_the_per_invoice_path(programme, tmp_path):
    EarningRuleFactory(name="Daily 50", kind=EarningRule.Kind.CAP_DAY, points=50)
    assert bulk_blockers() == ["per-day/per-month cap rule 'Daily 50' is active"]

    out = run_import(SAMPLE, tmp_path)

    assert "per-invoice path, because: per-day/per-month cap rule 'Daily 50' is active" in out
    assert Transaction.objects.get(external_id="536365").points_earned == 50


@pytest.fixture
def programme_with_rule_features(db):
    """Every rule feature of issue #16 at once: x0, a product bonus, conditions, priority and
    stop, usage caps of every kind and a promo-code rule (import rows carry no code)."""
    programme = ProgrammeSettingsFactory(pending_days=14, expiry_months=24)
    bonus = EarningRule.Kind.FIXED_BONUS
    EarningRuleFactory(name="Postage earns nothing", multiplier=Decimal("0"), skus=["POST"])
    EarningRuleFactory(
        name="Lanterns x3, stop", multiplier=Decimal("3"), skus=["85123A"], priority=10,
        min_quantity=Decimal("10"), stop_further=True, max_uses_per_member=3,
    )  # fmt: skip
    EarningRuleFactory(
        name="Buy 22423, double", multiplier=Decimal("2"), required_skus=["22423"], priority=20,
        max_uses_per_period=1, usage_period=EarningRule.UsagePeriod.MONTH,
    )  # fmt: skip
    EarningRuleFactory(
        name="Bonus on 47566", kind=bonus, multiplier=None, points=15, skus=["47566"],
        min_matching_amount=Decimal("20"), priority=30, max_uses_total=6,
    )  # fmt: skip
    EarningRuleFactory(
        name="Promo only", kind=bonus, multiplier=None, points=999, requires_promo_code=True
    )
    EarningRuleFactory(name="Cap 300", kind=EarningRule.Kind.CAP_TRANSACTION, points=300,
                       multiplier=None)  # fmt: skip
    return programme


def test_bulk_equals_per_invoice_with_every_rule_feature(programme_with_rule_features, tmp_path):
    TierPolicyFactory(window=WindowKind.LIFETIME)
    standard_ladder()
    fast, _ = compare_paths(synthetic_file(tmp_path / "retail.csv", seed=8), tmp_path)

    rules = str([e[7] for e in fast["entries"]])
    for name in ("Lanterns x3, stop", "Buy 22423, double", "Bonus on 47566", "Postage earns"):
        assert name in rules, name
    assert "'skipped': 'usage_cap'" in rules and "'skipped': 'stopped'" in rules
    assert "Promo only" not in str([e for e in fast["entries"] if e[1] == "bonus"])
    assert any(t[7] > 0 for t in fast["transactions"] if t[1] == "purchase"), "some capped"
    assert len([u for u in fast["rule_uses"] if u[0] == "Bonus on 47566"]) == 6  # its cap
