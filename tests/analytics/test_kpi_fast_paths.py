"""The faster paths of the member KPIs give the same figures as the live ones (issue #19).

- purchase statistics (MemberPurchaseStats) for lifetime value and lapsed members, taken only
  when no transaction is recorded at or after the end of the period;
- balances less the entries since, for the points liability and the finance report;
- one pass over the tier assignments for the tier at the end (tier distribution, lifetime
  value, the tier filter), and one pass over the range's purchases for RFM.

Each is compared with the live path (forced) or an independent reference on the conftest
history plus: a member won back, one not lapsed at the start, one lapsed for good, a purchase
on the local-day boundary (2026-07-31 23:30 UTC is 1 August in London), a return after the end
of June (A's), a tier change mid-June (A), and overlapping tier rows (E).
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum

from analytics.routing import analytics_reads
from analytics.selectors import (
    kpi_customer_lifetime_value,
    kpi_lapsed_members,
    kpi_points_liability,
    kpi_tier_distribution,
    liability_report,
    period_resolve,
    rfm_segments,
)
from analytics.selectors.common import members_in_scope, tier_at
from analytics.selectors.permember import purchase_stats_exact
from analytics.selectors.reports import FREQUENCY_BOUNDS, RECENCY_BOUNDS, _rfm_cells
from loyalty.ledger.models import Transaction
from loyalty.ledger.services import purchase_record
from tests.analytics.conftest import local
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierAssignmentFactory


@pytest.fixture
def more(history):
    h = history

    def member(home, enrolled):
        return MemberFactory(home_store=home, enrolled_at=enrolled, country="GB")

    def buy(who, when, store, amount):
        purchase_record(
            member=who,
            channel="store",
            external_id=f"F-{who.pk}-{when.isoformat()}",
            occurred_at=when,
            amount=Decimal(amount),
            store=store,
        )

    e = member(h.s1, local(2025, 1, 1, 9))  # lapsed at the start of June, won back in June
    buy(e, local(2025, 2, 1, 12), h.s1, "10.00")
    buy(e, local(2026, 6, 10, 12), h.s1, "15.00")
    f = member(h.s2, local(2025, 1, 1, 9))  # bought within 180 days before June: not lapsed
    buy(f, local(2025, 2, 1, 12), h.s2, "11.00")
    buy(f, local(2026, 3, 1, 12), h.s2, "12.00")
    buy(f, local(2026, 6, 12, 12), h.s1, "13.00")
    g = member(h.s1, local(2025, 1, 1, 9))  # lapsed for good
    buy(g, local(2025, 3, 1, 12), h.s1, "9.00")
    k = member(h.s2, local(2026, 6, 5, 9))  # first purchase in June, again on 1 August (local)
    buy(k, local(2026, 6, 6, 12), h.s2, "20.00")
    buy(k, datetime(2026, 7, 31, 23, 30, tzinfo=UTC), h.s2, "7.00")
    for _ in range(9):  # many purchases: frequency 5 in June
        buy(f, local(2026, 6, 14, 10) + timedelta(minutes=_), h.s1, "1.00")
    # E: an open silver row and a closed gold row overlapping it (the latest start wins)
    TierAssignmentFactory(member=e, tier=h.silver, valid_from=local(2026, 1, 1))
    TierAssignmentFactory(
        member=e, tier=h.gold, valid_from=local(2026, 2, 1), valid_to=local(2026, 12, 31)
    )
    TierAssignmentFactory(member=f, tier=h.gold, valid_from=local(2026, 6, 20))
    h.e, h.f, h.g, h.k = e, f, g, k
    return h


PERIODS = [
    ("2026-06-01", "2026-06-30"),  # A's return (3 July) and later purchases: live path
    ("2026-06-01", "2026-07-31"),  # K's purchase on 1 August (local): live path
    ("2026-06-01", "2026-08-31"),  # nothing after the end: statistics path
    ("2025-12-01", "2027-01-31"),
]
FILTERS = [{}, {"store": "S2"}, {"tier": "gold"}, {"tier": "silver"}]


def _periods():
    for date_from, date_to in PERIODS:
        for filters in FILTERS:
            yield period_resolve(
                date_from=date.fromisoformat(date_from),
                date_to=date.fromisoformat(date_to),
                **filters,
            )


def test_statistics_are_taken_only_when_nothing_is_recorded_after_the_end(more):
    def exact(date_to):
        period = period_resolve(date_from=date(2026, 6, 1), date_to=date_to)
        return purchase_stats_exact(period)

    assert not exact(date(2026, 6, 30))  # A's return on 3 July
    # K's purchase at 2026-07-31 23:30 UTC is on 1 August in London: after a July end
    assert not exact(date(2026, 7, 31))
    assert exact(date(2026, 8, 1))
    assert exact(date(2026, 8, 31))


def _live(monkeypatch):
    monkeypatch.setattr("analytics.selectors.kpis.purchase_stats_exact", lambda period: False)


@pytest.mark.parametrize("days", [30, 90, 180])
def test_lapsed_members_statistics_equal_live(more, monkeypatch, days):
    fast = [kpi_lapsed_members(p, days=days) for p in _periods()]
    _live(monkeypatch)
    live = [kpi_lapsed_members(p, days=days) for p in _periods()]
    assert fast == live
    assert any(purchase_stats_exact(p) for p in _periods())  # the statistics path was taken


def test_lapsed_members_june_to_august_by_hand(more):
    period = period_resolve(date_from=date(2026, 6, 1), date_to=date(2026, 8, 31))
    assert purchase_stats_exact(period)
    result = kpi_lapsed_members(period)
    # last purchase before 2026-09-01 - 180 days (2026-03-05): D (2025-06-01), G (2025-03-01)
    # lapsed at the start (last purchase before 2025-12-03): D, E, G; E bought in June
    assert result["lapsed_members"] == 2
    assert result["never_purchased"] == 1  # C
    assert (result["lapsed_at_start"], result["won_back"]) == (3, 1)


def test_customer_lifetime_value_statistics_equal_live(more, monkeypatch):
    fast = [kpi_customer_lifetime_value(p) for p in _periods()]
    _live(monkeypatch)
    live = [kpi_customer_lifetime_value(p) for p in _periods()]
    assert fast == live
    everyone = fast[2 * len(FILTERS)]  # June-August, no filter: statistics path, A's return in
    total = Decimal("100.00") + 50 - 25 + 30 + 20 + 60 + 10 + 15 + 11 + 12 + 13 + 9 + 20 + 7 + 9
    assert everyone["net_revenue"] == total


def test_liability_from_balances_equals_the_sum_of_entries(more, monkeypatch):
    periods = list(_periods())

    def both(period):  # as_of is "now" for a range reaching the future: not compared
        return {**kpi_points_liability(period), "as_of": None}, liability_report(period)

    fast = [both(p) for p in periods]
    monkeypatch.setattr("analytics.selectors.kpis._balance_path", lambda moment: False)
    monkeypatch.setattr("analytics.selectors.reports._balance_path", lambda moment: False)
    live = [both(p) for p in periods]
    assert fast == live
    june = fast[0]
    assert june[0]["outstanding_points"] == june[1][-1]["closing"] > 0


def _tier_reference(period):
    rows = (
        members_in_scope(period).annotate(t=tier_at(period.end)).values("t").annotate(n=Count("id"))
    )
    return {row["t"]: row["n"] for row in rows}


def test_tier_at_end_in_one_pass_equals_the_probe(more):
    for period in _periods():
        expected = _tier_reference(period)
        got = {}
        for row in kpi_tier_distribution(period):
            if row["members"]:
                tier = {"gold": more.gold.pk, "silver": more.silver.pk, "": None}[row["tier"]]
                got[tier] = row["members"]
        assert got == {k: v for k, v in expected.items() if v}, period
    # E holds the open silver row and the overlapping gold row: gold (latest start) wins
    june = period_resolve(date_from=date(2026, 6, 1), date_to=date(2026, 6, 30), tier="gold")
    assert set(members_in_scope(june).values_list("pk", flat=True)) == {
        more.a.pk,
        more.e.pk,
        more.f.pk,
    }


def _rfm_reference(period):
    """Per member in scope, from the transactions in Python: {(r, f): (members, revenue)},
    members without a purchase in the range under (0, 0)."""
    members = members_in_scope(period).annotate(
        n=Count(
            "transactions",
            filter=Q(
                transactions__kind="purchase",
                transactions__occurred_at__gte=period.start,
                transactions__occurred_at__lt=period.end,
            ),
        ),
        revenue=Sum(
            "transactions__amount",
            filter=Q(
                transactions__kind="purchase",
                transactions__occurred_at__gte=period.start,
                transactions__occurred_at__lt=period.end,
            ),
        ),
        last=Max(
            "transactions__occurred_at",
            filter=Q(transactions__kind="purchase", transactions__occurred_at__lt=period.end),
        ),
    )
    cells: dict[tuple[int, int], list] = {}
    for m in members:
        if not m.n:
            key = (0, 0)
        else:
            age = period.end - m.last
            r = next((s for d, s in RECENCY_BOUNDS if age <= timedelta(days=d)), 1)
            f = next((s for n, s in FREQUENCY_BOUNDS if m.n >= n), 1)
            key = (r, f)
        cell = cells.setdefault(key, [0, Decimal("0")])
        cell[0] += 1
        cell[1] += m.revenue or Decimal("0")
    return {key: (n, revenue) for key, (n, revenue) in cells.items()}


def test_rfm_one_pass_equals_a_per_member_reference(more):
    for period in _periods():
        got: dict[tuple[int, int], list] = {}
        for row in _rfm_cells(period):
            key = (row["r"], row["f"]) if row["f"] else (0, 0)
            cell = got.setdefault(key, [0, Decimal("0")])
            cell[0] += row["n"]
            cell[1] += row["monetary"] or Decimal("0")
        assert {k: (n, r.quantize(Decimal("0.01"))) for k, (n, r) in got.items()} == {
            k: (n, r.quantize(Decimal("0.01"))) for k, (n, r) in _rfm_reference(period).items()
        }, period
        rfm_segments(period)  # and the report itself runs on every filter
    june = period_resolve(date_from=date(2026, 6, 1), date_to=date(2026, 6, 30))
    # F: 1 + 9 purchases in June (frequency 5), last on 14 June (16 days before the end: 5)
    cells = {(row["r"], row["f"]): row["n"] for row in _rfm_cells(june)}
    assert cells[(5, 5)] == 1
    assert Transaction.objects.filter(member=more.f).count() == 12


@pytest.mark.postgres
def test_analytics_reads_set_work_mem_and_jit_for_their_transaction_only(programme):
    def show(name):
        with connection.cursor() as cursor:
            cursor.execute(f"SHOW {name}")
            return cursor.fetchone()[0]

    before = (show("work_mem"), show("jit"))
    assert before != ("256MB", "off")
    with analytics_reads():
        assert (show("work_mem"), show("jit")) == ("256MB", "off")
        assert connection.in_atomic_block
    # the test runs in a transaction: the values are put back when the block ends
    assert (show("work_mem"), show("jit")) == before
    with transaction.atomic():
        with pytest.raises(ZeroDivisionError), analytics_reads():
            1 / 0  # noqa: B018
        assert (show("work_mem"), show("jit")) == before


@pytest.fixture
def pending_history(db):
    from loyalty.ledger.services import return_record
    from tests.factories.ledger import ProgrammeSettingsFactory
    from tests.factories.members import StoreFactory

    ProgrammeSettingsFactory(point_value=Decimal("0.01"), pending_days=14)
    s1, s2 = StoreFactory(code="S1"), StoreFactory(code="S2")
    a = MemberFactory(home_store=s1, enrolled_at=local(2026, 1, 1, 9))
    b = MemberFactory(home_store=s2, enrolled_at=local(2026, 1, 1, 9))

    def buy(who, when, amount):
        return purchase_record(
            member=who,
            channel="store",
            external_id=f"P-{who.pk}-{when.isoformat()}",
            occurred_at=when,
            amount=Decimal(amount),
            store=s1,
        )

    buy(a, local(2026, 6, 1, 12), "100.00")
    june10 = buy(a, local(2026, 6, 10, 12), "80.00")
    buy(b, local(2026, 6, 20, 23, 30), "40.00")
    # the return takes points back from June 10's lot while it is still pending
    return_record(
        channel="store",
        external_id="R-1",
        occurred_at=local(2026, 6, 12, 12),
        amount=Decimal("30.00"),
        original=june10.transaction,
        member=a,
        store=s1,
    )


def _pending_reference(period, as_of):
    """The previous implementation: the lots joined to their entries, then the allocations."""
    from django.db.models.functions import Coalesce

    from loyalty.ledger.models import LotAllocation, PointsLot

    lots = PointsLot.objects.filter(entry__effective_at__lt=as_of, available_from__gt=as_of)
    if period.store is not None or period.tier is not None:
        lots = lots.filter(account__member__in=members_in_scope(period).values("pk"))
    lot_total = int(lots.aggregate(total=Coalesce(Sum("amount"), 0))["total"])
    moved = LotAllocation.objects.filter(lot__in=lots, entry__effective_at__lt=as_of).aggregate(
        taken=Coalesce(Sum("points", filter=Q(entry__amount__lt=0)), 0),
        given_back=Coalesce(Sum("points", filter=Q(entry__amount__gt=0)), 0),
    )
    return lot_total - int(moved["taken"]) + int(moved["given_back"])


def test_pending_points_in_one_statement_equal_the_lots_joined_to_the_ledger(pending_history):
    seen = set()
    for day in (5, 11, 13, 21, 30):
        for store in (None, "S1", "S2"):
            period = period_resolve(
                date_from=date(2026, 6, 1), date_to=date(2026, 6, day), store=store
            )
            result = kpi_points_liability(period)
            assert result["pending_points"] == _pending_reference(period, period.as_of)
            assert (
                result["available_points"] + result["pending_points"]
                == (result["outstanding_points"])
            )
            seen.add(result["pending_points"])
    # the lots of 1 and 10 June pending on the 11th, the return took 30 from the second one
    eleventh = kpi_points_liability(
        period_resolve(date_from=date(2026, 6, 1), date_to=date(2026, 6, 11))
    )
    assert eleventh["pending_points"] == 180
    thirteenth = kpi_points_liability(
        period_resolve(date_from=date(2026, 6, 1), date_to=date(2026, 6, 13))
    )
    assert thirteenth["pending_points"] == 150
    assert len(seen) > 2
