"""Daily figures computed from the ledger, transactions and members in grouped queries: what
the nightly snapshot job writes (analytics/services.py) and what the charts compute live for
the days no snapshot covers (snapshots.py)."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate

from analytics.models import KpiSnapshot
from analytics.selectors.common import local_midnight, programme_zone
from analytics.selectors.kpis import POINT_MOVEMENTS, POINT_SIGNS
from loyalty.ledger.models import LedgerEntry, Transaction
from members.models import Member

TOTAL = "total"  # the all-stores row's key in the grouped results
CHUNK_DAYS = 31  # days computed by one set of grouped queries when building a range


def kpi_snapshot_days_compute(
    *, date_from: date, date_to: date
) -> dict[date, dict[Any, dict[str, Any]]]:
    """Every day's figures of the range by store id (None: members without a home store,
    transactions without a store) plus TOTAL, from a constant number of grouped queries
    (by local day and store), whatever the number of days, members or stores. Outstanding
    points and member totals carry on from the previous day's snapshot rows when they exist,
    else from one sum over the ledger before the range."""
    zone = programme_zone()
    start = local_midnight(date_from, zone)
    end = local_midnight(date_to + timedelta(days=1), zone)
    tx = Transaction.objects.filter(occurred_at__gte=start, occurred_at__lt=end).annotate(
        local_day=TruncDate("occurred_at", tzinfo=zone)
    )
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
    tx_rows: dict[tuple[date, Any], dict[str, Any]] = {}
    for row in tx.values("local_day", "store_id").annotate(**tx_figures):
        tx_rows[(row["local_day"], row["store_id"])] = row
    for row in tx.values("local_day").annotate(**tx_figures):
        tx_rows[(row["local_day"], TOTAL)] = row

    store_of_member = "account__member__home_store_id"
    new_members: dict[tuple[date, Any], int] = {}
    joined = Member.objects.filter(enrolled_at__gte=start, enrolled_at__lt=end).annotate(
        local_day=TruncDate("enrolled_at", tzinfo=zone)
    )
    for row in joined.values("local_day", "home_store_id").annotate(n=Count("id")):
        new_members[(row["local_day"], row["home_store_id"])] = row["n"]
        key = (row["local_day"], TOTAL)
        new_members[key] = new_members.get(key, 0) + row["n"]

    entries = LedgerEntry.objects.filter(effective_at__gte=start, effective_at__lt=end).annotate(
        local_day=TruncDate("effective_at", tzinfo=zone)
    )
    point_figures = {
        name: Coalesce(Sum("amount", filter=condition), 0)
        for name, condition in POINT_MOVEMENTS.items()
    }
    points: dict[tuple[date, Any], dict[str, Any]] = {}
    for row in entries.values("local_day", store_of_member).annotate(**point_figures):
        points[(row["local_day"], row[store_of_member])] = row
        total = points.setdefault((row["local_day"], TOTAL), dict.fromkeys(POINT_MOVEMENTS, 0))
        for name in POINT_MOVEMENTS:
            total[name] = total.get(name, 0) + int(row[name])

    previous = list(KpiSnapshot.objects.filter(day=date_from - timedelta(days=1)))
    if previous:
        outstanding = {(snap.store_id or TOTAL): snap.outstanding_points for snap in previous}
        members_total = {(snap.store_id or TOTAL): snap.members_total for snap in previous}
    else:
        before = LedgerEntry.objects.filter(effective_at__lt=start)
        outstanding = {
            row[store_of_member]: int(row["t"])
            for row in before.values(store_of_member).annotate(t=Coalesce(Sum("amount"), 0))
        }
        outstanding[TOTAL] = sum(outstanding.values())
        earlier = Member.objects.filter(enrolled_at__lt=start)
        members_total = {
            row["home_store_id"]: row["n"]
            for row in earlier.values("home_store_id").annotate(n=Count("id"))
        }
        members_total[TOTAL] = sum(members_total.values())

    keys = {key for (_day, key) in [*tx_rows, *new_members, *points]}
    keys |= set(outstanding) | set(members_total) | {TOTAL}
    result: dict[date, dict[Any, dict[str, Any]]] = {}
    day = date_from
    while day <= date_to:  # days x stores: the output's size, not the data's
        result[day] = {}
        for key in keys:
            txf = tx_rows.get((day, key), {})
            pf = points.get((day, key), {})
            joined_today = new_members.get((day, key), 0)
            net = sum(int(pf.get(name, 0)) for name in POINT_MOVEMENTS)
            outstanding[key] = outstanding.get(key, 0) + net
            members_total[key] = members_total.get(key, 0) + joined_today
            result[day][key] = {
                **{name: txf.get(name, 0) for name in tx_figures},
                "new_members": joined_today,
                "members_total": members_total[key],
                **{
                    f"points_{name}": int(pf.get(name, 0)) * POINT_SIGNS[name]
                    for name in POINT_MOVEMENTS
                },
                "outstanding_points": outstanding[key],
            }
        day += timedelta(days=1)
    return result


def kpi_snapshot_day_compute(*, day: date) -> dict[Any, dict[str, Any]]:
    return kpi_snapshot_days_compute(date_from=day, date_to=day)[day]
