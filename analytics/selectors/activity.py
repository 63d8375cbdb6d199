"""Distinct members among a range's purchases, for the KPIs that need more than one figure per
member group: one pass over the rows where the selector used to take one pass per figure. Exact
for every filter and range: each takes the KPI's own queryset of purchases
(analytics/selectors/kpis.py).

Not done here, on purpose: `SELECT count(*) FROM (SELECT DISTINCT member_id ...)` in place of
`COUNT(DISTINCT member_id)` for active members. With the default `work_mem` (4 MB) its hash
aggregate, planned for the 66,411 distinct members the statistics estimate instead of the ~1M
there are, spilled (1 GB of temporary files) and ran for more than three minutes on the 1M-member
copy before it was cancelled (docs/performance.md, KPI part B)."""

from django.db.models import Count, Q, QuerySet

from loyalty.ledger.models import Transaction


def buyers_and_repeaters(purchases: QuerySet[Transaction]) -> tuple[int, int]:
    """(members with 1 or more of these purchases, members with 2 or more), one pass."""
    per_member = (
        purchases.filter(member__isnull=False)
        .values("member")
        .annotate(purchases=Count("id"))
        .order_by()
    )
    counts = per_member.aggregate(
        buyers=Count("member"), repeaters=Count("member", filter=Q(purchases__gte=2))
    )
    return counts["buyers"], counts["repeaters"]
