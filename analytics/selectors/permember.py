"""Per-member passes shared by the member KPIs (tier distribution, lifetime value, lapsed
members, RFM): each answers "per member" with ONE grouped pass over a table, joined to the
members in scope, instead of one correlated probe per member.

- `member_tiers_at`: the tier each member held just before an instant, from one pass over the
  tier assignments (`DISTINCT ON (member_id)` on PostgreSQL, `ROW_NUMBER()` elsewhere), the
  same row `common.tier_at` picks (latest `valid_from`, then highest id);
- `members_in_scope_sql`: the members in scope (enrolled before the end, home store, tier held
  at the end) with their tier at the end, as SQL to join to;
- `purchase_stats_exact`: whether `MemberPurchaseStats` (per member, over ALL transactions,
  kept by the purchase path in the same transaction) equals the live figures "up to the end of
  the period": true when no transaction is recorded at or after the end (one index probe).
"""

from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import Window
from django.db.models.functions import RowNumber

from analytics.selectors.common import Period
from loyalty.ledger.models import Transaction
from loyalty.tiers.models import TierAssignment
from members.models import Member


def member_tiers_at(moment: datetime) -> QuerySet[Any, Any]:
    """(member_id, tier_id) of the tier each member held just before `moment` (members without
    an assignment then have no row). Same choice as common.tier_at: latest valid_from, then
    highest id, among the rows valid at the moment."""
    rows = TierAssignment.objects.filter(valid_from__lt=moment).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=moment)
    )
    if connections[rows.db].vendor == "postgresql":
        return (
            rows.order_by("member_id", "-valid_from", "-id")
            .distinct("member_id")
            .values("member_id", "tier_id")
        )
    return (
        rows.order_by()
        .annotate(
            rn=Window(
                RowNumber(),
                partition_by=[F("member_id")],
                order_by=[F("valid_from").desc(), F("id").desc()],
            )
        )
        .filter(rn=1)
        .values("member_id", "tier_id")
    )


def compiled(queryset: QuerySet[Any, Any]) -> tuple[str, list[Any]]:
    """The SQL and parameters of a queryset, for the database it reads."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    return sql, list(params)


def members_in_scope_sql(
    period: Period, *, columns: QuerySet[Any, Any] | None = None, with_tier: bool = True
) -> tuple[str, list[Any], str]:
    """(sql, params, alias): one row per member in scope (enrolled before the end, of the
    store's home store, holding the period's tier at the end) with the columns `id`,
    `tier_key` (tier held at the end; NULL: none) and those `columns` adds (a
    `Member.objects...values("id", ...)`, not filtered by scope). One pass over the tier
    assignments joined to the members, no per-member probe (skipped when `with_tier` is false
    and no tier filter applies: no `tier_key` then). `alias`: the database to run on."""
    members = (columns if columns is not None else Member.objects.values("id")).filter(
        enrolled_at__lt=period.end
    )
    if period.store is not None:
        members = members.filter(home_store=period.store)
    members_sql, members_params = compiled(members.order_by())
    if not with_tier and period.tier is None:
        return f"SELECT m.* FROM ({members_sql}) m", members_params, members.db
    tiers_sql, tiers_params = compiled(member_tiers_at(period.end))
    where, where_params = "", []
    if period.tier is not None:
        where, where_params = " WHERE t.tier_id = %s", [period.tier.pk]
    sql = (
        f"SELECT m.*, t.tier_id AS tier_key FROM ({members_sql}) m "
        f"LEFT JOIN ({tiers_sql}) t ON t.member_id = m.id{where}"
    )
    return sql, [*members_params, *tiers_params, *where_params], members.db


def purchase_stats_exact(period: Period) -> bool:
    """True when MemberPurchaseStats answers "up to the end of the period" exactly: no
    transaction is recorded at or after the end (so the all-time figures are the figures up to
    the end). One probe of the index on occurred_at."""
    return not Transaction.objects.filter(occurred_at__gte=period.end).exists()


def run(sql: str, params: list[Any], alias: str) -> list[tuple[Any, ...]]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def adapt(alias: str, moment: datetime) -> Any:
    """A datetime as the database's driver wants it in a raw statement (SQLite: UTC text)."""
    return connections[alias].ops.adapt_datetimefield_value(moment)
