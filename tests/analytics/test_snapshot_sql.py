"""The set-based snapshot job (PostgreSQL: one INSERT ... SELECT per chunk of days) writes the
same rows as the portable grouped computation, whether the figures carry on from the previous
day's rows or are summed from the ledger before the chunk."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest

from analytics.models import KpiSnapshot
from analytics.selectors.daily import TOTAL, kpi_snapshot_days_compute
from analytics.selectors.kpis import POINT_MOVEMENTS
from analytics.services import kpi_snapshot_range_build
from analytics.snapshot_sql import COLUMNS, ENTRY_KINDS, ISSUED, REDEEMED, snapshot_days_rows
from tests.analytics.conftest import local
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.postgres


def _portable(date_from: date, date_to: date) -> dict:
    """The rows the portable path writes: {(day, store id or None): figures}."""
    rows = {}
    for day, by_key in kpi_snapshot_days_compute(date_from=date_from, date_to=date_to).items():
        for key, figures in by_key.items():
            if key is None:
                continue
            rows[(day, None if key == TOTAL else key)] = {
                name: Decimal(figures[name])
                if "revenue" in name or "amount" in name
                else int(figures[name])
                for name in COLUMNS
            }
    return rows


def _stored(date_from: date, date_to: date) -> dict:
    return {
        (snap.day, snap.store_id): {name: getattr(snap, name) for name in COLUMNS}
        for snap in KpiSnapshot.objects.filter(day__gte=date_from, day__lte=date_to)
    }


def test_the_kinds_named_are_the_point_movements():
    named = set()
    for condition in POINT_MOVEMENTS.values():
        field, value = condition.children[0]
        named |= {value} if field == "kind" else set(value)
    assert named == set(ENTRY_KINDS)
    assert set(ISSUED) == set(POINT_MOVEMENTS["issued"].children[0][1])
    assert set(REDEEMED) == set(POINT_MOVEMENTS["redeemed"].children[0][1])


@pytest.fixture(params=["sums", "balances"])
def carried(request, monkeypatch):
    """Force either way of summing the figures carried into a chunk that has no previous day:
    the entries before it, or the balances less the entries from it on."""
    from analytics import snapshot_sql

    # called twice per statement: rows before the chunk, then rows from it on
    estimates = itertools.cycle([2.0, 1.0] if request.param == "balances" else [1.0, 2.0])
    monkeypatch.setattr(snapshot_sql, "_rows_estimate", lambda *args: next(estimates))
    return request.param


def test_set_based_rows_equal_the_portable_computation(history, carried):
    # a member without a home store buying at no store: only in the all-stores row
    loner = MemberFactory(home_store=None, enrolled_at=local(2026, 6, 2, 9))
    earn(loner, "15.00", when=local(2026, 6, 12, 12))
    earn(loner, "5.00", when=local(2026, 6, 12, 13), store=history.s2)
    first, last = date(2026, 5, 25), date(2026, 7, 5)
    expected = _portable(first, last)  # carries on from sums over the ledger before 25 May
    assert {row["store_id"] for row in snapshot_days_rows(date_from=first, date_to=last)} == {
        None,
        history.s1.pk,
        history.s2.pk,
    }
    written = kpi_snapshot_range_build(date_from=first, date_to=last)
    assert written == len(expected) == 42 * 3
    assert _stored(first, last) == expected
    june5 = KpiSnapshot.objects.get(day=date(2026, 6, 5), store__isnull=True)
    assert (june5.purchases, june5.buyers, june5.points_issued) == (1, 1, 100)
    june12 = KpiSnapshot.objects.get(day=date(2026, 6, 12), store__isnull=True)
    assert (june12.purchases, june12.buyers, june12.points_issued) == (2, 1, 20)


def test_a_chunk_carries_on_from_the_previous_days_rows(history):
    kpi_snapshot_range_build(date_from=date(2026, 5, 25), date_to=date(2026, 6, 14))
    before = _stored(date(2026, 6, 15), date(2026, 7, 10))
    assert before == {}
    expected = _portable(date(2026, 6, 15), date(2026, 7, 10))  # reads 14 June's rows
    kpi_snapshot_range_build(date_from=date(2026, 6, 15), date_to=date(2026, 7, 10))
    assert _stored(date(2026, 6, 15), date(2026, 7, 10)) == expected
    july = KpiSnapshot.objects.get(day=date(2026, 7, 3), store=history.s1)
    assert (july.returns, july.returned_amount, july.points_reversed) == (1, Decimal("25.00"), 25)


def test_rebuilding_a_range_in_other_chunks_gives_the_same_rows(history):
    first, last = date(2026, 5, 1), date(2026, 7, 31)  # 92 days: three chunks
    kpi_snapshot_range_build(date_from=first, date_to=last)
    once = _stored(first, last)
    kpi_snapshot_range_build(date_from=first + timedelta(days=10), date_to=last)
    assert _stored(first, last) == once
    assert KpiSnapshot.objects.filter(day__gte=first, day__lte=last).count() == 92 * 3
