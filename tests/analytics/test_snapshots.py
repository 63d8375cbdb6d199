"""Nightly snapshots: idempotent per day, equal to the live KPIs, backfilled with a progress
bar, and today's figures = stored days + the live day."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from analytics.models import KpiSnapshot
from analytics.selectors import (
    kpi_average_order_value,
    kpi_earn_burn,
    kpi_points_liability,
    period_resolve,
)
from analytics.selectors.snapshots import snapshot_series, snapshot_totals
from analytics.services import kpi_snapshot_day_build, kpi_snapshot_range_build
from analytics.tasks import kpi_snapshot_build_task
from loyalty.core.periodic import REGISTRY
from tests.analytics.conftest import LONDON
from tests.factories.ledger import earn

JUNE = {"date_from": date(2026, 6, 1), "date_to": date(2026, 6, 30)}


def _rows(day):
    return sorted(
        (s.store_id or 0, s.purchases, s.revenue, s.points_issued, s.outstanding_points)
        for s in KpiSnapshot.objects.filter(day=day)
    )


def test_a_day_built_twice_has_the_same_rows(history):
    kpi_snapshot_day_build(day=date(2026, 6, 5))
    first = _rows(date(2026, 6, 5))
    kpi_snapshot_day_build(day=date(2026, 6, 5))
    assert _rows(date(2026, 6, 5)) == first
    total = KpiSnapshot.objects.get(day=date(2026, 6, 5), store__isnull=True)
    assert (total.purchases, total.revenue, total.points_issued) == (1, Decimal("100.00"), 100)
    assert total.outstanding_points == 60 + 30 + 100  # D, B (1 June), A


def test_range_totals_equal_the_live_kpis(history):
    kpi_snapshot_range_build(date_from=date(2026, 5, 25), date_to=date(2026, 7, 5))
    for filters in ({}, {"store": "S1"}, {"store": "S2"}):
        period = period_resolve(**JUNE, **filters)
        totals = snapshot_totals(period)
        aov = kpi_average_order_value(period)
        points = kpi_earn_burn(period)
        assert totals["purchases"] == aov["all"]["purchases"]
        assert totals["revenue"] == aov["all"]["revenue"]
        assert totals["member_purchases"] == aov["members"]["purchases"]
        assert totals["points_issued"] == points["issued"]
        assert totals["points_redeemed"] == points["redeemed"]
        assert totals["outstanding_points"] == kpi_points_liability(period)["outstanding_points"]
    assert {row["source"] for row in snapshot_series(period_resolve(**JUNE))} == {"snapshot"}


def test_backfill_command_shows_progress_and_counts(history):
    out, err = StringIO(), StringIO()
    call_command(
        "kpi_snapshots", "--from", "2026-06-01", "--to", "2026-06-03", stdout=out, stderr=err
    )
    assert "3 day(s) built" in out.getvalue()
    assert "3/3" in err.getvalue()  # the progress bar
    assert KpiSnapshot.objects.filter(store__isnull=True).count() == 3


def test_today_is_the_snapshots_plus_the_live_day(history):
    today = timezone.now().astimezone(LONDON).date()
    yesterday = today - timedelta(days=1)
    kpi_snapshot_build_task(day=yesterday.isoformat())
    earn(history.a, "12.00", store=history.s1)  # a purchase today, after the nightly job
    series = snapshot_series(period_resolve(date_from=yesterday, date_to=today))
    assert [row["source"] for row in series] == ["snapshot", "live"]
    assert series[1]["purchases"] == 1 and series[1]["points_issued"] == 12
    assert series[1]["outstanding_points"] == series[0]["outstanding_points"] + 12


def test_nightly_job_is_registered_by_name():
    spec = REGISTRY["Build KPI snapshots"]
    assert spec.task == "analytics.tasks.kpi_snapshot_build_task"
