"""Liability report (reconciles with the ledger), cohorts and RFM on hand-computed histories."""

import itertools
from datetime import date
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from analytics.selectors import cohort_retention, liability_report, period_resolve, rfm_segments
from loyalty.ledger.models import LedgerEntry, PointsAccount
from loyalty.ledger.services import (
    ledger_entry_reverse,
    ledger_reconcile,
    points_adjust,
    points_earn,
    points_expire_due,
    points_redeem,
    purchase_record,
    return_record,
)
from tests.analytics.conftest import local
from tests.factories.members import MemberFactory


def test_liability_report_reconciles_with_the_ledger(programme, staff_user):
    m1, m2 = MemberFactory(), MemberFactory()
    points_earn(member=m1, points=1000, idempotency_key="e1", occurred_at=local(2025, 9, 15, 12))
    points_earn(member=m2, points=500, idempotency_key="e2", occurred_at=local(2025, 10, 10, 12))
    points_expire_due(as_of=local(2026, 9, 20, 12))  # m1's lot (12 months); m2's not yet
    purchase = purchase_record(
        member=m2,
        channel="store",
        external_id="P1",
        occurred_at=local(2026, 11, 5, 12),
        amount=Decimal("200.00"),
    )
    return_record(
        channel="store",
        external_id="R1",
        occurred_at=local(2026, 11, 20, 12),
        amount=Decimal("50.00"),
        original=purchase.transaction,
        member=m2,
    )
    points_redeem(member=m2, points=100, source_type="test", source_id="1", idempotency_key="r1")
    cancelled = points_redeem(
        member=m2, points=50, source_type="test", source_id="2", idempotency_key="r2"
    )
    ledger_entry_reverse(entry=cancelled, reason="cancelled")
    points_adjust(
        member=m2, points=-20, reason="goodwill reversal", actor=staff_user, idempotency_key="a1"
    )

    today = timezone.now().astimezone(local(2026, 1, 1).tzinfo).date()
    report = liability_report(period_resolve(date_from=date(2025, 9, 1), date_to=today))
    rows = {row["month"]: row for row in report}

    assert rows["2025-09"]["opening"] == 0
    assert (rows["2025-09"]["issued"], rows["2025-09"]["closing"]) == (1000, 1000)
    assert (rows["2025-10"]["issued"], rows["2025-10"]["closing"]) == (500, 1500)
    assert rows["2026-08"]["closing"] == 1500  # quiet months carry the balance over
    assert (rows["2026-09"]["expired"], rows["2026-09"]["closing"]) == (1000, 500)
    assert rows["2026-11"]["issued"] == 200 and rows["2026-11"]["reversed"] == 50
    assert rows["2026-11"]["closing"] == 650
    this_month = rows[today.strftime("%Y-%m")]
    assert (this_month["redeemed"], this_month["adjusted"]) == (100, -20)  # 150 - 50 refunded
    assert report[-1]["closing"] == 530  # m2: 500 (past expiry, not yet run) + 30
    assert report[-1]["closing_value"] == Decimal("5.30")

    for previous, row in itertools.pairwise(report):
        assert row["opening"] == previous["closing"]
    for row in report:
        assert row["closing"] == (
            row["opening"]
            + row["issued"]
            - row["reversed"]
            - row["redeemed"]
            - row["expired"]
            + row["adjusted"]
        )
        # and each closing is what the ledger held at the month's end
        if row is not report[-1]:
            nxt = report[report.index(row) + 1]["month"]
            month_end = local(int(nxt[:4]), int(nxt[5:]), 1)
            held = (
                LedgerEntry.objects.filter(effective_at__lt=month_end).aggregate(t=Sum("amount"))[
                    "t"
                ]
                or 0
            )
            assert row["closing"] == held
    # the last closing equals the members' cached balances, which the reconciler proves
    assert report[-1]["closing"] == PointsAccount.objects.aggregate(t=Sum("balance"))["t"]
    assert ledger_reconcile() == []


def test_liability_report_by_store_counts_home_store_members(history):
    period = period_resolve(date_from=date(2026, 6, 1), date_to=date(2026, 7, 31), store="S2")
    report = liability_report(period)
    # S2's members: C (nothing) and D (60 points from 2025)
    assert [(r["month"], r["opening"], r["closing"]) for r in report] == [
        ("2026-06", 60, 60),
        ("2026-07", 60, 60),
    ]


def test_cohort_retention(history):
    table = cohort_retention(period_resolve(date_from=date(2026, 3, 1), date_to=date(2026, 7, 31)))
    assert [(row["cohort"], row["members"]) for row in table] == [("2026-03", 1), ("2026-06", 2)]
    march = [cell["share"] for cell in table[0]["retention"]]
    # A enrolled in March, bought in June (month 3) only; a return is not a purchase
    assert march == [Decimal("0"), Decimal("0"), Decimal("0"), Decimal("1"), Decimal("0")]
    june = table[1]["retention"]
    # B bought on 1 June and on 1 July (local), C never: half the cohort each month
    assert [(c["month"], c["members"], c["share"]) for c in june] == [
        (0, 1, Decimal("0.5000")),
        (1, 1, Decimal("0.5000")),
    ]


def test_cohorts_empty_range(programme):
    assert (
        cohort_retention(period_resolve(date_from=date(2020, 1, 1), date_to=date(2020, 3, 1))) == []
    )


def test_rfm_segments(history):
    result = rfm_segments(period_resolve(date_from=date(2026, 6, 1), date_to=date(2026, 6, 30)))
    segments = {row["segment"]: row["members"] for row in result["segments"]}
    # A: 10 days since the last purchase (R5), 2 purchases (F2): promising
    # B: last purchase 1 June 00:30 local, 30 days before the end (R5), 1 purchase: new
    # C never bought, D not in June: no purchase in the range
    assert segments == {
        "champions": 0,
        "loyal": 0,
        "new": 1,
        "promising": 1,
        "needs_attention": 0,
        "at_risk": 0,
        "hibernating": 0,
        "no_purchase": 2,
    }
    assert result["grid"] == [
        {"recency": 5, "frequency": 2, "members": 1},
        {"recency": 5, "frequency": 1, "members": 1},
    ]
    revenue = {row["segment"]: row["revenue"] for row in result["segments"]}
    assert revenue["promising"] == Decimal("150.00") and revenue["new"] == Decimal("30.00")
