"""The only writes of the analytics app: its daily snapshots."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from analytics.models import KpiSnapshot
from analytics.selectors.common import local_midnight, programme_zone
from analytics.selectors.kpis import POINT_MOVEMENTS, POINT_SIGNS
from loyalty.ledger.models import LedgerEntry, Transaction
from members.models import Member

TOTAL = "total"  # the all-stores row's key in the grouped results


def _grouped(rows: Any, key: str) -> dict[Any, dict]:
    return {row[key]: row for row in rows}


def kpi_snapshot_day_compute(*, day: date) -> dict[Any, dict[str, Any]]:
    """The day's figures by store id (None: members without a home store / transactions without
    a store) plus TOTAL: eight grouped queries, whatever the number of members or stores."""
    zone = programme_zone()
    start, end = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    tx = Transaction.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    tx_figures = {
        "purchases": Count("id", filter=Q(kind="purchase")),
        "member_purchases": Count("id", filter=Q(kind="purchase", member__isnull=False)),
        "revenue": Coalesce(Sum("amount", filter=Q(kind="purchase")), Decimal("0")),
        "member_revenue": Coalesce(
            Sum("amount", filter=Q(kind="purchase", member__isnull=False)), Decimal("0")
        ),
        "returns": Count("id", filter=Q(kind="return")),
        "returned_amount": Coalesce(Sum("amount", filter=Q(kind="return")), Decimal("0")),
        "buyers": Count("member", distinct=True, filter=Q(kind="purchase")),
    }
    by_store_tx = _grouped(tx.values("store_id").annotate(**tx_figures), "store_id")
    total_tx = tx.aggregate(**tx_figures)

    members = Member.objects.filter(enrolled_at__lt=end)
    member_figures = {
        "new_members": Count("id", filter=Q(enrolled_at__gte=start)),
        "members_total": Count("id"),
    }
    by_store_members = _grouped(
        members.values("home_store_id").annotate(**member_figures), "home_store_id"
    )
    total_members = members.aggregate(**member_figures)

    entries = LedgerEntry.objects.filter(effective_at__gte=start, effective_at__lt=end)
    point_figures = {
        name: Coalesce(Sum("amount", filter=condition), 0)
        for name, condition in POINT_MOVEMENTS.items()
    }
    store_of_member = "account__member__home_store_id"
    by_store_points = _grouped(
        entries.values(store_of_member).annotate(**point_figures), store_of_member
    )
    total_points = entries.aggregate(**point_figures)

    previous = {
        (snap.store_id or TOTAL): snap.outstanding_points
        for snap in KpiSnapshot.objects.filter(day=day - timedelta(days=1))
    }
    if previous:
        outstanding_before: dict[Any, int] = previous
    else:
        before = LedgerEntry.objects.filter(effective_at__lt=start)
        outstanding_before = {
            row[store_of_member]: int(row["t"])
            for row in before.values(store_of_member).annotate(t=Coalesce(Sum("amount"), 0))
        }
        outstanding_before[TOTAL] = int(before.aggregate(t=Coalesce(Sum("amount"), 0))["t"])

    keys = set(by_store_tx) | set(by_store_members) | set(by_store_points)
    keys |= {k for k in outstanding_before if k != TOTAL}
    result: dict[Any, dict[str, Any]] = {}
    for key in [*keys, TOTAL]:
        txf = total_tx if key == TOTAL else by_store_tx.get(key, {})
        mf = total_members if key == TOTAL else by_store_members.get(key, {})
        pf = total_points if key == TOTAL else by_store_points.get(key, {})
        net = sum(int(pf.get(name, 0)) for name in POINT_MOVEMENTS)
        result[key] = {
            **{name: txf.get(name, 0) for name in tx_figures},
            **{name: mf.get(name, 0) for name in member_figures},
            **{
                f"points_{name}": int(pf.get(name, 0)) * POINT_SIGNS[name]
                for name in POINT_MOVEMENTS
            },
            "outstanding_points": outstanding_before.get(key, 0) + net,
        }
    return result


@transaction.atomic
def kpi_snapshot_day_build(*, day: date) -> int:
    """Replace the day's snapshot rows (one per store seen that day or holding members' points,
    and the all-stores row). Idempotent: building a day twice leaves the same rows. The
    outstanding points carry on from the previous day's rows when they exist (build a range in
    order: `kpi_snapshot_range_build`), else they are summed from the ledger. Returns rows."""
    figures = kpi_snapshot_day_compute(day=day)
    KpiSnapshot.objects.filter(day=day).delete()
    rows = [
        KpiSnapshot(day=day, store_id=None if key in (TOTAL, None) else key, **values)
        for key, values in figures.items()
        if key is not None  # members without a home store only count in the total
    ]
    KpiSnapshot.objects.bulk_create(rows)
    return len(rows)


def kpi_snapshot_range_build(
    *, date_from: date, date_to: date, progress: Callable[[int], Any] | None = None
) -> int:
    """Build every day of the range in order (one transaction per day, so a failure keeps the
    days already built and a re-run repeats nothing wrong). Returns the rows written."""
    written, day = 0, date_from
    while day <= date_to:
        written += kpi_snapshot_day_build(day=day)
        if progress:
            progress(1)
        day += timedelta(days=1)
    return written
