"""The snapshot job's set-based path on PostgreSQL: the rows of a chunk of days are computed
and written by one `INSERT ... SELECT` (after one `DELETE` of the chunk's days), so no figure
crosses into Python. Used by analytics/services.py inside one transaction per chunk; the
portable path (SQLite, and the live days of the charts) is analytics/selectors/daily.py, and
both give the same rows (tests/analytics/test_snapshot_sql.py).

Same definitions as `kpi_snapshot_days_compute`:
- transactions by local day and the store they were made at; members and points by local day
  and the member's home store; one all-stores row per day (store NULL);
- every day of the chunk gets a row for every store seen in the chunk or in the carried-over
  figures (members without a home store and transactions without a store only count in the
  all-stores row);
- outstanding points and members at the end of the day carry on from the previous day's rows
  when they exist, else from one sum over the ledger and the members before the chunk.
"""

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, connections, transaction

from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.policy import programme_settings_get

# Every entry kind (the ledger's check constraint allows no other): naming them lets the
# planner range-scan the (kind, effective_at) index instead of reading the whole ledger.
ENTRY_KINDS = tuple(LedgerEntry.Kind.values)
ISSUED = ("earn", "bonus", "opening_balance")
REDEEMED = ("redeem", "refund")

SNAPSHOT_LOCK = 0x6B706962  # transaction-level advisory lock key of the snapshot writes

# key of a grouped row: -1 all stores, -2 no store (not written), else the store id
_KEY = "CASE WHEN GROUPING({col}) = 1 THEN -1 ELSE COALESCE({col}, -2) END"

_SQL = """
WITH
days AS (
    SELECT d::date AS day
    FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d
),
tx AS (
    SELECT day, {tx_key} AS key,
        count(*) FILTER (WHERE kind = 'purchase') AS purchases,
        count(*) FILTER (WHERE kind = 'purchase' AND member_id IS NOT NULL) AS member_purchases,
        coalesce(sum(amount) FILTER (WHERE kind = 'purchase'), 0) AS revenue,
        coalesce(sum(amount) FILTER (WHERE kind = 'purchase' AND member_id IS NOT NULL), 0)
            AS member_revenue,
        count(*) FILTER (WHERE kind = 'return') AS returns,
        coalesce(sum(amount) FILTER (WHERE kind = 'return'), 0) AS returned_amount,
        count(DISTINCT member_id) FILTER (WHERE kind = 'purchase') AS buyers
    FROM (
        SELECT (occurred_at AT TIME ZONE %(zone)s)::date AS day, store_id, kind, member_id, amount
        FROM ledger_transaction
        WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
    ) AS t
    GROUP BY GROUPING SETS ((day, store_id), (day))
),
joined AS (
    SELECT day, {joined_key} AS key, count(*) AS n
    FROM (
        SELECT (enrolled_at AT TIME ZONE %(zone)s)::date AS day, home_store_id
        FROM members_member
        WHERE enrolled_at >= %(start)s AND enrolled_at < %(end)s
    ) AS m
    GROUP BY GROUPING SETS ((day, home_store_id), (day))
),
pts AS (
    SELECT day, {pts_key} AS key,
        coalesce(sum(amount) FILTER (WHERE kind = ANY(%(issued)s)), 0) AS issued,
        coalesce(sum(amount) FILTER (WHERE kind = 'reversal'), 0) AS reversed,
        coalesce(sum(amount) FILTER (WHERE kind = ANY(%(redeemed)s)), 0) AS redeemed,
        coalesce(sum(amount) FILTER (WHERE kind = 'expire'), 0) AS expired,
        coalesce(sum(amount) FILTER (WHERE kind = 'adjust'), 0) AS adjusted,
        sum(amount) AS net
    FROM (
        SELECT (e.effective_at AT TIME ZONE %(zone)s)::date AS day, m.home_store_id,
            e.kind, e.amount
        FROM ledger_ledgerentry AS e
        JOIN ledger_pointsaccount AS a ON a.id = e.account_id
        JOIN members_member AS m ON m.id = a.member_id
        WHERE e.kind = ANY(%(kinds)s) AND e.effective_at >= %(start)s AND e.effective_at < %(end)s
    ) AS p
    GROUP BY GROUPING SETS ((day, home_store_id), (day))
),
base AS (
    {base}
),
keys AS (
    SELECT key FROM tx UNION SELECT key FROM joined UNION SELECT key FROM pts
    UNION SELECT key FROM base UNION SELECT -1
),
grid AS (
    SELECT d.day, k.key,
        tx.purchases, tx.member_purchases, tx.revenue, tx.member_revenue, tx.returns,
        tx.returned_amount, tx.buyers,
        coalesce(joined.n, 0) AS new_members,
        coalesce(base.members, 0)
            + sum(coalesce(joined.n, 0)) OVER w AS members_total,
        pts.issued, pts.reversed, pts.redeemed, pts.expired, pts.adjusted,
        coalesce(base.outstanding, 0) + sum(coalesce(pts.net, 0)) OVER w AS outstanding_points
    FROM days AS d
    CROSS JOIN keys AS k
    LEFT JOIN tx ON tx.day = d.day AND tx.key = k.key
    LEFT JOIN joined ON joined.day = d.day AND joined.key = k.key
    LEFT JOIN pts ON pts.day = d.day AND pts.key = k.key
    LEFT JOIN base ON base.key = k.key
    WINDOW w AS (PARTITION BY k.key ORDER BY d.day)
)
{head}
SELECT {select}
FROM grid
WHERE key <> -2
"""

# The carried-over figures, by key: the previous day's snapshot rows...
_BASE_PREVIOUS = """
    SELECT coalesce(store_id, -1) AS key, outstanding_points AS outstanding,
        members_total AS members
    FROM analytics_kpisnapshot
    WHERE day = %(previous)s
"""
# ... or, when that day was not built, everything before the chunk.
_BASE_SUMS = """
    SELECT key, sum(outstanding) AS outstanding, sum(members) AS members
    FROM (
        SELECT {before_key} AS key, sum(e.amount) AS outstanding, 0 AS members
        FROM ledger_ledgerentry AS e
        JOIN ledger_pointsaccount AS a ON a.id = e.account_id
        JOIN members_member AS m ON m.id = a.member_id
        WHERE e.effective_at < %(start)s
        GROUP BY GROUPING SETS ((m.home_store_id), ())
        UNION ALL
        SELECT {earlier_key}, 0, count(*)
        FROM members_member
        WHERE enrolled_at < %(start)s
        GROUP BY GROUPING SETS ((home_store_id), ())
    ) AS b
    GROUP BY key
"""

# ... or, when the ledger after the chunk is the smaller part (a recent backfill), the same
# figures from the accounts' balances less every entry from the chunk on (the ledger's invariant:
# balance = sum of the account's entries, proven by `manage.py reconcile_ledger`). A store is
# carried when it has members enrolled before the chunk or points outstanding before it.
_BASE_BALANCES = """
    SELECT key, sum(outstanding) AS outstanding, sum(members) AS members
    FROM (
        SELECT {account_key} AS key, sum(a.balance) AS outstanding, 0 AS members
        FROM ledger_pointsaccount AS a
        JOIN members_member AS m ON m.id = a.member_id
        GROUP BY GROUPING SETS ((m.home_store_id), ())
        UNION ALL
        SELECT key, -sum(net), 0 FROM pts GROUP BY key
        UNION ALL
        SELECT {after_key}, -sum(e.amount), 0
        FROM ledger_ledgerentry AS e
        JOIN ledger_pointsaccount AS a ON a.id = e.account_id
        JOIN members_member AS m ON m.id = a.member_id
        WHERE e.kind = ANY(%(kinds)s) AND e.effective_at >= %(end)s
        GROUP BY GROUPING SETS ((m.home_store_id), ())
        UNION ALL
        SELECT {earlier_key}, 0, count(*)
        FROM members_member
        WHERE enrolled_at < %(start)s
        GROUP BY GROUPING SETS ((home_store_id), ())
    ) AS b
    GROUP BY key
    HAVING key = -1 OR sum(members) <> 0 OR sum(outstanding) <> 0
"""

COLUMNS = (
    "purchases",
    "member_purchases",
    "revenue",
    "member_revenue",
    "returns",
    "returned_amount",
    "buyers",
    "new_members",
    "members_total",
    "points_issued",
    "points_reversed",
    "points_redeemed",
    "points_expired",
    "points_adjusted",
    "outstanding_points",
)
_SELECT = {
    "purchases": "coalesce(purchases, 0)",
    "member_purchases": "coalesce(member_purchases, 0)",
    "revenue": "coalesce(revenue, 0)",
    "member_revenue": "coalesce(member_revenue, 0)",
    "returns": "coalesce(returns, 0)",
    "returned_amount": "coalesce(returned_amount, 0)",
    "buyers": "coalesce(buyers, 0)",
    "new_members": "new_members",
    "members_total": "members_total",
    "points_issued": "coalesce(issued, 0)",
    "points_reversed": "-coalesce(reversed, 0)",
    "points_redeemed": "-coalesce(redeemed, 0)",
    "points_expired": "-coalesce(expired, 0)",
    "points_adjusted": "coalesce(adjusted, 0)",
    "outstanding_points": "outstanding_points",
}


def _rows_estimate(cursor: Any, sql: str, params: list) -> float:
    cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
    plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def _base(cursor: Any, *, previous: date, start: datetime) -> str:
    """The SQL of the figures carried into the chunk (see _BASE_PREVIOUS, _BASE_SUMS and
    _BASE_BALANCES): the previous day's rows when built, else the cheaper of the two sums
    (by the planner's estimate of the entries each reads)."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM analytics_kpisnapshot WHERE day = %s AND store_id IS NULL)",
        [previous],
    )
    if cursor.fetchone()[0]:
        return _BASE_PREVIOUS
    entries = "SELECT 1 FROM ledger_ledgerentry WHERE kind = ANY(%s) AND effective_at {} %s"
    before = _rows_estimate(cursor, entries.format("<"), [list(ENTRY_KINDS), start])
    after = _rows_estimate(cursor, entries.format(">="), [list(ENTRY_KINDS), start])
    if after < before:
        return _BASE_BALANCES.format(
            account_key=_KEY.format(col="m.home_store_id"),
            after_key=_KEY.format(col="m.home_store_id"),
            earlier_key=_KEY.format(col="home_store_id"),
        )
    return _BASE_SUMS.format(
        before_key=_KEY.format(col="m.home_store_id"),
        earlier_key=_KEY.format(col="home_store_id"),
    )


def _statement(
    *, date_from: date, date_to: date, insert: bool, using: str = "default"
) -> tuple[str, dict]:
    # the days' bounds as analytics/selectors/common.py draws them (not imported from there:
    # the selectors import this module)
    zone = ZoneInfo(programme_settings_get().time_zone)
    previous = date_from - timedelta(days=1)
    start = datetime.combine(date_from, time.min, tzinfo=zone)
    with connections[using].cursor() as cursor:
        base = _base(cursor, previous=previous, start=start)
    select = ", ".join(
        [
            "day",
            "CASE WHEN key = -1 THEN NULL ELSE key END AS store_id",
            *[f"{_SELECT[name]} AS {name}" for name in COLUMNS],
        ]
    )
    head = ""
    if insert:
        select = f"now(), now(), {select}"
        head = (
            "INSERT INTO analytics_kpisnapshot (created_at, updated_at, day, store_id, "
            + ", ".join(COLUMNS)
            + ")"
        )
    sql = _SQL.format(
        tx_key=_KEY.format(col="store_id"),
        joined_key=_KEY.format(col="home_store_id"),
        pts_key=_KEY.format(col="home_store_id"),
        base=base,
        head=head,
        select=select,
    )
    params = {
        "first": date_from,
        "last": date_to,
        "previous": previous,
        "zone": str(zone),
        "start": start,
        "end": datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone),
        "kinds": list(ENTRY_KINDS),
        "issued": list(ISSUED),
        "redeemed": list(REDEEMED),
    }
    return sql, params


def snapshot_days_write(*, date_from: date, date_to: date) -> int:
    """Replace the snapshot rows of the days [date_from, date_to] (one DELETE, one INSERT ...
    SELECT; call it inside a transaction). PostgreSQL only. Returns the rows written."""
    with connection.cursor() as cursor:
        # two builders of the same days (the nightly job, a dashboard filling a gap) wait for
        # each other instead of colliding on the unique (day, store) constraints
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SNAPSHOT_LOCK])
        # the planner's row estimates for the day x store grid are far too high, and JIT
        # compiling for them took longer than the statement (10.6 s of 19 s, 100k members)
        cursor.execute("SET LOCAL jit = off")
    sql, params = _statement(date_from=date_from, date_to=date_to, insert=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM analytics_kpisnapshot WHERE day >= %s AND day <= %s", [date_from, date_to]
        )
        cursor.execute(sql, params)
        return cursor.rowcount


def snapshot_days_rows(*, date_from: date, date_to: date, using: str = "default") -> list[dict]:
    """What `snapshot_days_write` would write, without writing: the charts' live days, tests."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        sql, params = _statement(date_from=date_from, date_to=date_to, insert=False, using=using)
        cursor.execute(sql, params)
        names = [col.name for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
