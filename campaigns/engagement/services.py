"""Engagement writes: streaks, lifecycle stages, badges, event check-ins, the VIP of the month.

Every computation is set-based and takes an optional list of member ids: the nightly job runs it
for everyone, the posting hook for the one member of a purchase or return (inside the posting
transaction, under the account's row lock), the bulk import for the members it posted for.
All of them are idempotent: a streak and a stage are recomputed from the purchases, a badge is
inserted only where (member, rule, sequence) does not exist yet (a unique constraint backs it).
"""

import copy
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DateField,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear, TruncDate, TruncWeek
from django.utils import timezone

from campaigns.engagement.exceptions import EventCheckInRefused
from campaigns.engagement.models import (
    BadgeRule,
    EngagementSettings,
    EventAttendance,
    MemberBadge,
    MemberStage,
    MemberStreak,
    Stage,
    StageChange,
    StageCount,
    StreakPeriod,
    VipOfMonth,
)
from campaigns.models import ActionEvent, Campaign, MessageTemplate
from loyalty.core import config_cache
from loyalty.ledger.models import NotificationOutbox, Transaction
from loyalty.ledger.policy import programme_settings_get
from loyalty.tiers.models import Tier, TierAssignment
from members.models import Member

CHUNK = 5000
PURCHASE = Transaction.Kind.PURCHASE
MONEY: Any = DecimalField(max_digits=14, decimal_places=2)
STREAK_EPOCH = date(1970, 1, 5)  # a Monday: week index = (week start - epoch) / 7


def _settings_fresh() -> EngagementSettings:
    settings, _ = EngagementSettings.objects.get_or_create(pk=1)
    return settings


def _badge_rules_fresh() -> list[BadgeRule]:
    return list(BadgeRule.objects.filter(active=True).select_related("tier"))


config_cache.register("engagement.settings", _settings_fresh, models=[EngagementSettings])
config_cache.register(
    "engagement.badge_rules", _badge_rules_fresh, models=[BadgeRule, Tier, MessageTemplate]
)


def engagement_settings_get() -> EngagementSettings:
    """The engagement settings from this process's cache (loyalty/core/config_cache.py)."""
    cached: EngagementSettings = config_cache.cached("engagement.settings")
    return copy.copy(cached)


def _zone() -> ZoneInfo:
    return ZoneInfo(programme_settings_get().time_zone)


def _ids_filter(qs: QuerySet[Any], member_ids: list[int] | None, column: str = "member_id") -> Any:
    return qs if member_ids is None else qs.filter(**{f"{column}__in": member_ids})


# ----------------------------------------------------------------------------------- streaks
def period_index(day: date, period: str) -> int:
    """Months: year * 12 + month - 1; weeks: whole weeks since Monday 5 Jan 1970."""
    if period == StreakPeriod.MONTH:
        return day.year * 12 + day.month - 1
    return (day - STREAK_EPOCH).days // 7


def period_start(index: int, period: str) -> date:
    if period == StreakPeriod.MONTH:
        return date(index // 12, index % 12 + 1, 1)
    return STREAK_EPOCH + timedelta(days=7 * index)


def _streak_periods_sql(
    period: str, zone: ZoneInfo, member_ids: list[int] | None
) -> tuple[str, Any]:
    """(sql, params) of SELECT member_id, idx: the distinct periods with a purchase, in the
    programme's time zone (the ORM writes the time zone conversion for either database)."""
    purchases = _ids_filter(
        Transaction.objects.filter(kind=PURCHASE, member_id__isnull=False), member_ids
    ).order_by()
    if period == StreakPeriod.MONTH:
        qs = purchases.annotate(
            idx=ExtractYear("occurred_at", tzinfo=zone) * 12
            + ExtractMonth("occurred_at", tzinfo=zone)
            - 1
        ).values("member_id", "idx")
        sql, params = qs.distinct().query.sql_with_params()
        return sql, params
    qs = purchases.annotate(
        week=TruncWeek(TruncDate("occurred_at", tzinfo=zone), output_field=DateField())
    ).values("member_id", "week")
    sql, params = qs.distinct().query.sql_with_params()
    if connection.vendor == "postgresql":
        idx = "((CAST(w.week AS date) - DATE '1970-01-05') / 7)"
    else:
        idx = "(CAST(julianday(w.week) - julianday('1970-01-05') AS INTEGER) / 7)"
    return f"SELECT w.member_id, {idx} AS idx FROM ({sql}) w", params


def _period_start_sql(column: str, period: str) -> str:
    """SQL for the first day of period `column` (a literal % is doubled: it goes through the
    driver's parameter formatting)."""
    if connection.vendor == "postgresql":
        if period == StreakPeriod.MONTH:
            return (
                f"make_date(CAST({column} / 12 AS integer), CAST({column} %% 12 + 1 AS integer), 1)"
            )
        return f"(DATE '1970-01-05' + CAST({column} * 7 AS integer))"
    if period == StreakPeriod.MONTH:
        return f"printf('%%04d-%%02d-01', {column} / 12, {column} %% 12 + 1)"
    return f"date('1970-01-05', '+' || ({column} * 7) || ' days')"


def streaks_compute(
    *,
    member_ids: list[int] | None = None,
    now: datetime | None = None,
    zone: ZoneInfo | None = None,
) -> int:
    """Current and longest streak of consecutive periods with a purchase, for every member with
    a purchase (or the given ones), in ONE statement: distinct periods per member, islands of
    consecutive periods (period - row_number is constant along an island), upserted.

    The current streak is the island that ends in this period or the previous one (the period
    under way is not missed yet); a missed period in between breaks it (current 0)."""
    now = now or timezone.now()
    zone = zone or _zone()
    sql, params = _streaks_sql(member_ids=member_ids, now=now, zone=zone)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(int(cursor.rowcount), 0)


def _streaks_sql(
    *, member_ids: list[int] | None, now: datetime, zone: ZoneInfo
) -> tuple[str, list[Any]]:
    period = engagement_settings_get().streak_period
    current = period_index(now.astimezone(zone).date(), period)
    inner, params = _streak_periods_sql(period, zone, member_ids)
    table = MemberStreak._meta.db_table
    sql = f"""
        WITH p AS ({inner}),
        g AS (
            SELECT member_id, idx,
                   idx - ROW_NUMBER() OVER (PARTITION BY member_id ORDER BY idx) AS grp
            FROM p
        ),
        i AS (SELECT member_id, COUNT(*) AS n, MAX(idx) AS e FROM g GROUP BY member_id, grp),
        s AS (
            SELECT member_id, MAX(n) AS longest,
                   MAX(CASE WHEN e >= %s THEN n ELSE 0 END) AS cur, MAX(e) AS last
            FROM i GROUP BY member_id
        )
        INSERT INTO {table} (member_id, period, current, longest, last_period_start, computed_at)
        SELECT member_id, %s, cur, longest, {_period_start_sql("last", period)}, %s
        FROM s WHERE 1 = 1
        ON CONFLICT (member_id) DO UPDATE SET
            period = excluded.period, current = excluded.current, longest = excluded.longest,
            last_period_start = excluded.last_period_start, computed_at = excluded.computed_at
    """
    return sql, [*params, current - 1, period, now]


# ------------------------------------------------------------------------------------ stages
def _purchases_of_member() -> QuerySet[Transaction]:
    return Transaction.objects.filter(member_id=OuterRef("pk"), kind=PURCHASE).order_by()


def _scalar(qs: QuerySet[Any], aggregate: Any, output: Any) -> Subquery:
    return Subquery(
        qs.values("member_id").annotate(v=aggregate).values("v")[:1], output_field=output
    )


@dataclass
class StageResult:
    changed: int = 0
    by_transition: dict[tuple[str, str], int] = field(default_factory=dict)


def _dt(value: datetime) -> Any:
    """A datetime as the driver wants it in raw SQL (SQLite: UTC text, as the ORM stores it)."""
    return connection.ops.adapt_datetimefield_value(value)


def _in_ids(column: str, member_ids: list[int] | None) -> tuple[str, list[Any]]:
    """(" AND column IN (%s, ...)", ids), or nothing for every member."""
    if member_ids is None:
        return "", []
    if not member_ids:
        return " AND 1 = 0", []
    return f" AND {column} IN ({', '.join(['%s'] * len(member_ids))})", list(member_ids)


TXN = Transaction._meta.db_table
MEMBER = Member._meta.db_table
ACTION = ActionEvent._meta.db_table


def _stage_changes_sql(
    *, member_ids: list[int] | None, now: datetime, settings: EngagementSettings
) -> tuple[str, list[Any]]:
    """(sql, params) of SELECT member_id, current stage, computed stage for the members whose
    stage changes. Set-based: the purchases are read in ONE grouped pass (last, first, total and
    in-window count per member), the advocates in one pass of the referrals and the actions, the
    current stages from their table; all joined to the members (no per-member subquery).

    The rules, first match wins (docs/engagement.md): prospect (no purchase) > lapsed > lapsing
    > won back (a lapsed member who bought again, for won_back_days) > advocate > loyal > new
    (first purchase recent) > repeat > new."""
    txn_ids, txn_params = _in_ids("member_id", member_ids)
    ref_ids, ref_params = _in_ids("referred_by_id", member_ids)
    act_ids, act_params = _in_ids("member_id", member_ids)
    mem_ids, mem_params = _in_ids("m.id", member_ids)
    stage_table = MemberStage._meta.db_table
    sql = f"""
        WITH p AS (
            SELECT member_id, MAX(occurred_at) AS last_at, MIN(occurred_at) AS first_at,
                   COUNT(*) AS total,
                   SUM(CASE WHEN occurred_at >= %s THEN 1 ELSE 0 END) AS recent
            FROM {TXN}
            WHERE kind = %s AND member_id IS NOT NULL{txn_ids}
            GROUP BY member_id
        ),
        a AS (
            SELECT referred_by_id AS member_id FROM {MEMBER}
            WHERE referred_by_id IS NOT NULL{ref_ids}
            UNION
            SELECT member_id FROM {ACTION}
            WHERE (kind = %s OR score >= %s){act_ids}
        ),
        c AS (
            SELECT m.id AS member_id, s.stage AS current_stage,
                CASE
                    WHEN p.last_at IS NULL THEN %s
                    WHEN p.last_at < %s THEN %s
                    WHEN p.last_at < %s THEN %s
                    WHEN s.stage = %s THEN %s
                    WHEN s.stage = %s AND s.since >= %s THEN %s
                    WHEN a.member_id IS NOT NULL THEN %s
                    WHEN p.recent >= %s THEN %s
                    WHEN p.first_at >= %s THEN %s
                    WHEN p.total >= %s THEN %s
                    ELSE %s
                END AS computed_stage
            FROM {MEMBER} m
            LEFT JOIN p ON p.member_id = m.id
            LEFT JOIN {stage_table} s ON s.member_id = m.id
            LEFT JOIN a ON a.member_id = m.id
            WHERE m.erased_at IS NULL{mem_ids}
        )
        SELECT member_id, current_stage, computed_stage FROM c
        WHERE current_stage IS NULL OR current_stage <> computed_stage
    """
    params: list[Any] = [
        _dt(now - timedelta(days=settings.loyal_window_days)),
        PURCHASE,
        *txn_params,
        *ref_params,
        Campaign.Action.REVIEW,
        settings.advocate_min_score,
        *act_params,
        Stage.PROSPECT,
        _dt(now - timedelta(days=settings.lapsed_days)),
        Stage.LAPSED,
        _dt(now - timedelta(days=settings.lapsing_days)),
        Stage.LAPSING,
        Stage.LAPSED,
        Stage.WON_BACK,
        Stage.WON_BACK,
        _dt(now - timedelta(days=settings.won_back_days)),
        Stage.WON_BACK,
        Stage.ADVOCATE,
        settings.loyal_min_purchases,
        Stage.LOYAL,
        _dt(now - timedelta(days=settings.new_days)),
        Stage.NEW,
        settings.repeat_min_purchases,
        Stage.REPEAT,
        Stage.NEW,
        *mem_params,
    ]
    return sql, params


def stages_compute(
    *,
    member_ids: list[int] | None = None,
    now: datetime | None = None,
    cause: str = "nightly",
    settings: EngagementSettings | None = None,
) -> StageResult:
    """Recompute lifecycle stages: the members whose stage changes are found by ONE set-based
    query (`_stage_changes_sql`), their MemberStage rows are upserted and a StageChange row
    written for each. For every member (the nightly job) that is done in SQL from a temporary
    table of the changes; for some members (a purchase, an import) the changes are read back
    and written in batches (a purchase stays a fixed number of statements)."""
    now = now or timezone.now()
    settings = settings or engagement_settings_get()
    if member_ids is None:
        sql, params = _stage_changes_sql(member_ids=None, now=now, settings=settings)
        return _stages_write_all(sql, params, now, cause)
    result = StageResult()
    for ids in _id_chunks(member_ids):
        sql, params = _stage_changes_sql(member_ids=ids, now=now, settings=settings)
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} ORDER BY member_id", params)
            # PostgreSQL: the client-side cursor holds the result, batches are fetched from
            # memory; SQLite reads lazily, so the (test-sized) result is read before writing
            pg = connection.vendor == "postgresql"
            for rows in _batches(cursor) if pg else [cursor.fetchall()]:
                if rows:
                    _stage_write([(int(pk), old, new) for pk, old, new in rows], now, cause, result)
    return result


# members per set-based statement on a given list: each derived table repeats the list, and
# SQLite allows 32,766 parameters per statement (7 lists of 4,000 for the badges)
IDS_CHUNK = 4000


def _id_chunks(member_ids: list[int]) -> list[list[int]]:
    return [member_ids[i : i + IDS_CHUNK] for i in range(0, len(member_ids), IDS_CHUNK)]


STAGE_CHANGES = "engagement_stage_changes_tmp"


def _stages_write_all(sql: str, params: list[Any], now: datetime, cause: str) -> StageResult:
    """The changes into a temporary table, then two INSERT ... SELECT (the stages upserted, the
    history appended) and one grouped count per transition: no row goes through Python."""
    result = StageResult()
    at = _dt(now)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE_CHANGES}")
        cursor.execute(f"CREATE TEMPORARY TABLE {STAGE_CHANGES} AS {sql}", params)
        cursor.execute(
            f"INSERT INTO {MemberStage._meta.db_table} (member_id, stage, since) "
            f"SELECT member_id, computed_stage, %s FROM {STAGE_CHANGES} WHERE 1 = 1 "
            "ON CONFLICT (member_id) DO UPDATE SET stage = excluded.stage, since = excluded.since",
            [at],
        )
        cursor.execute(
            f"INSERT INTO {StageChange._meta.db_table} "
            "(member_id, from_stage, to_stage, changed_at, cause) "
            f"SELECT member_id, COALESCE(current_stage, ''), computed_stage, %s, %s "
            f"FROM {STAGE_CHANGES} ORDER BY member_id",
            [at, cause],
        )
        cursor.execute(
            f"SELECT COALESCE(current_stage, ''), computed_stage, COUNT(*) FROM {STAGE_CHANGES} "
            "GROUP BY COALESCE(current_stage, ''), computed_stage"
        )
        for old, new, n in cursor.fetchall():
            result.by_transition[(old, new)] = int(n)
            result.changed += int(n)
        cursor.execute(f"DROP TABLE {STAGE_CHANGES}")
    return result


def _batches(cursor: Any) -> Any:
    while rows := cursor.fetchmany(CHUNK):
        yield rows


def _stage_write(
    rows: list[tuple[int, str | None, str]], now: datetime, cause: str, result: StageResult
) -> None:
    MemberStage.objects.bulk_create(
        [MemberStage(member_id=pk, stage=new, since=now) for pk, _old, new in rows],
        update_conflicts=True,
        unique_fields=["member"],
        update_fields=["stage", "since"],
    )
    StageChange.objects.bulk_create(
        [
            StageChange(
                member_id=pk, from_stage=old or "", to_stage=new, changed_at=now, cause=cause
            )
            for pk, old, new in rows
        ]
    )
    result.changed += len(rows)
    for _pk, old, new in rows:
        key = (old or "", new)
        result.by_transition[key] = result.by_transition.get(key, 0) + 1


def stage_counts_snapshot(*, day: date) -> dict[str, int]:
    """Members per stage today, kept per day for analytics (re-running a day replaces it)."""
    counts = dict(
        MemberStage.objects.filter(member__erased_at__isnull=True)
        .values_list("stage")
        .annotate(n=Count("pk"))
        .values_list("stage", "n")
    )
    StageCount.objects.bulk_create(
        [StageCount(day=day, stage=stage, members=counts.get(stage, 0)) for stage in Stage.values],
        update_conflicts=True,
        unique_fields=["day", "stage"],
        update_fields=["members"],
    )
    return counts


# ------------------------------------------------------------------------------------ badges
METRIC_OF_KIND: dict[str, str] = {
    BadgeRule.Kind.FIRST_PURCHASE: "m_purchases",
    BadgeRule.Kind.PURCHASES: "m_purchases",
    BadgeRule.Kind.REVIEWS: "m_reviews",
    BadgeRule.Kind.REFERRALS: "m_referrals",
    BadgeRule.Kind.STREAK: "m_streak",
    BadgeRule.Kind.EVENT: "m_events",
    BadgeRule.Kind.TIER_REACHED: "m_tier_rank",
}


def _metric_expressions() -> dict[str, Any]:
    count: Any = IntegerField()
    return {
        "m_purchases": Coalesce(_scalar(_purchases_of_member(), Count("pk"), count), 0),
        "m_reviews": Coalesce(
            _scalar(
                ActionEvent.objects.filter(
                    member_id=OuterRef("pk"), kind=Campaign.Action.REVIEW
                ).order_by(),
                Count("pk"),
                count,
            ),
            0,
        ),
        "m_referrals": Coalesce(
            Subquery(
                Member.objects.filter(referred_by_id=OuterRef("pk"))
                .order_by()
                .values("referred_by_id")
                .annotate(v=Count("pk"))
                .values("v")[:1],
                output_field=count,
            ),
            0,
        ),
        "m_streak": Coalesce(
            Subquery(
                MemberStreak.objects.filter(member_id=OuterRef("pk")).values("longest")[:1],
                output_field=count,
            ),
            0,
        ),
        "m_events": Coalesce(
            _scalar(
                EventAttendance.objects.filter(member_id=OuterRef("pk")).order_by(),
                Count("pk"),
                count,
            ),
            0,
        ),
        # the highest tier rank ever held (-1: none)
        "m_tier_rank": Coalesce(
            _scalar(
                TierAssignment.objects.filter(member_id=OuterRef("pk")).order_by(),
                Max("tier__rank"),
                count,
            ),
            -1,
        ),
    }


def member_metrics(*, member_ids: list[int] | None = None) -> QuerySet[Member]:
    """Members annotated with every badge metric (m_purchases, m_reviews, ...): one member's
    progress (selectors). The awarding reads the same figures set-based (`_metric_sql`)."""
    members: QuerySet[Member] = _ids_filter(
        Member.objects.filter(erased_at__isnull=True), member_ids, "pk"
    ).annotate(**_metric_expressions())
    return members


def _metric_sql(metric: str, member_ids: list[int] | None) -> tuple[str, list[Any]]:
    """(sql, params) of SELECT member_id, n: one badge metric in ONE grouped pass of its table,
    for the members that have a row (no row: 0, or no tier for the tier rank). The same figures
    as `_metric_expressions`, which reads them one member at a time."""
    ids, params = _in_ids("member_id", member_ids)
    if metric == "m_purchases":
        sql = (
            f"SELECT member_id, COUNT(*) AS n FROM {TXN} "
            f"WHERE kind = %s AND member_id IS NOT NULL{ids} GROUP BY member_id"
        )
        return sql, [PURCHASE, *params]
    if metric == "m_reviews":
        sql = (
            f"SELECT member_id, COUNT(*) AS n FROM {ACTION} WHERE kind = %s{ids} GROUP BY member_id"
        )
        return sql, [Campaign.Action.REVIEW, *params]
    if metric == "m_referrals":
        ids, params = _in_ids("referred_by_id", member_ids)
        sql = (
            f"SELECT referred_by_id AS member_id, COUNT(*) AS n FROM {MEMBER} "
            f"WHERE referred_by_id IS NOT NULL{ids} GROUP BY referred_by_id"
        )
        return sql, params
    if metric == "m_streak":
        table = MemberStreak._meta.db_table
        return f"SELECT member_id, longest AS n FROM {table} WHERE 1 = 1{ids}", params
    if metric == "m_events":
        table = EventAttendance._meta.db_table
        sql = f"SELECT member_id, COUNT(*) AS n FROM {table} WHERE 1 = 1{ids} GROUP BY member_id"
        return sql, params
    if metric == "m_tier_rank":  # the highest tier rank ever held
        ids, params = _in_ids("a.member_id", member_ids)
        sql = (
            f"SELECT a.member_id, MAX(t.rank) AS n FROM {TierAssignment._meta.db_table} a "
            f"JOIN {Tier._meta.db_table} t ON t.id = a.tier_id WHERE 1 = 1{ids} "
            "GROUP BY a.member_id"
        )
        return sql, params
    raise ValueError(metric)


def _earned_sql(rule: BadgeRule) -> tuple[str, list[Any]]:
    """(sql, params) of SELECT member_id, rule_id, earned (times the badge is earned, >= 1) for
    one rule, from its metric's derived table."""
    metric = METRIC_OF_KIND[rule.kind]
    if rule.kind == BadgeRule.Kind.TIER_REACHED:
        rank = rule.tier.rank if rule.tier else 10**6
        return f"SELECT member_id, %s AS rule_id, 1 AS earned FROM {metric} WHERE n >= %s", [
            rule.pk,
            rank,
        ]
    if rule.repeatable:
        sql = f"SELECT member_id, %s AS rule_id, n / %s AS earned FROM {metric} WHERE n >= %s"
        return sql, [rule.pk, rule.threshold, rule.threshold]
    sql = f"SELECT member_id, %s AS rule_id, 1 AS earned FROM {metric} WHERE n >= %s"
    return sql, [rule.pk, rule.threshold]


def _badges_insert_sql(
    *,
    rules: list[BadgeRule],
    member_ids: list[int] | None,
    now: datetime,
    source: str,
    returning: bool,
) -> tuple[str, list[Any]]:
    """ONE statement that inserts every badge earned and not held yet: each metric the rules
    need is computed once per member in a grouped pass (`_metric_sql`), compared with each
    rule (`_earned_sql`), minus the highest sequence held per member and rule (one grouped pass
    of the badges); a repeatable badge gets one row per new multiple. ON CONFLICT DO NOTHING:
    a concurrent run cannot award twice."""
    ctes: list[str] = []
    params: list[Any] = []
    for metric in sorted({METRIC_OF_KIND[rule.kind] for rule in rules}):
        sql, p = _metric_sql(metric, member_ids)
        ctes.append(f"{metric} AS ({sql})")
        params += p
    branches = []
    for rule in rules:
        sql, p = _earned_sql(rule)
        branches.append(sql)
        params += p
    ctes.append("earned AS (" + " UNION ALL ".join(branches) + ")")
    ids, p = _in_ids("member_id", member_ids)
    rule_marks = ", ".join(["%s"] * len(rules))
    ctes.append(
        f"held AS (SELECT member_id, rule_id, MAX(sequence) AS s "
        f"FROM {MemberBadge._meta.db_table} WHERE rule_id IN ({rule_marks}){ids} "
        "GROUP BY member_id, rule_id)"
    )
    params += [rule.pk for rule in rules] + p
    ctes.append(
        "cand AS (SELECT e.member_id, e.rule_id, e.earned, COALESCE(h.s, 0) AS held "
        f"FROM earned e JOIN {MEMBER} m ON m.id = e.member_id "
        "LEFT JOIN held h ON h.member_id = e.member_id AND h.rule_id = e.rule_id "
        "WHERE m.erased_at IS NULL AND e.earned > COALESCE(h.s, 0))"
    )
    if connection.vendor == "postgresql":
        head = "WITH "
        expand = "cand c CROSS JOIN LATERAL generate_series(c.held + 1, c.earned) AS g(n)"
    else:
        head = "WITH RECURSIVE "
        ctes.append(
            "g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g "
            "WHERE n < (SELECT MAX(earned) FROM cand))"
        )
        expand = "cand c JOIN g ON g.n > c.held AND g.n <= c.earned"
    at = _dt(now)
    sql = (
        head + ",\n".join(ctes) + f"\nINSERT INTO {MemberBadge._meta.db_table} "
        "(member_id, rule_id, sequence, awarded_at, source, created_at, updated_at) "
        f"SELECT c.member_id, c.rule_id, g.n, %s, %s, %s, %s FROM {expand} WHERE 1 = 1 "
        "ON CONFLICT DO NOTHING"
        + (" RETURNING id, member_id, rule_id, sequence" if returning else "")
    )
    return sql, [*params, at, source, at, at]


def badges_award(
    *,
    member_ids: list[int] | None = None,
    now: datetime | None = None,
    source: str = "nightly",
    notify: bool = True,
    rules: list[BadgeRule] | None = None,
    settings: EngagementSettings | None = None,
) -> list[MemberBadge]:
    """Award every badge earned and not held yet, for every member or the given ones, and
    return the new badges. ONE statement finds and inserts them (`_badges_insert_sql`). A
    milestone message is queued for each (consent and the weekly cap are checked when it is
    sent), unless `notify` is off (historical imports)."""
    awarded: list[MemberBadge] = []
    _badges_award(
        member_ids=member_ids,
        now=now,
        source=source,
        notify=notify,
        rules=rules,
        settings=settings,
        collect=awarded,
    )
    return awarded


def badges_award_count(
    *,
    member_ids: list[int] | None = None,
    now: datetime | None = None,
    source: str = "nightly",
    notify: bool = True,
    settings: EngagementSettings | None = None,
) -> int:
    """`badges_award` for the nightly job: returns how many were awarded without keeping the
    rows (a first run awards millions); they are read back only when a message is due."""
    return _badges_award(
        member_ids=member_ids,
        now=now,
        source=source,
        notify=notify,
        rules=None,
        settings=settings,
        collect=None,
    )


def _badges_award(
    *,
    member_ids: list[int] | None,
    now: datetime | None,
    source: str,
    notify: bool,
    rules: list[BadgeRule] | None,
    settings: EngagementSettings | None,
    collect: list[MemberBadge] | None,
) -> int:
    now = now or timezone.now()
    if rules is None:
        rules = list(config_cache.cached("engagement.badge_rules"))  # read only: shared
    if not rules or member_ids == []:
        return 0
    if collect is None and notify:
        settings = settings or engagement_settings_get()
        notify = bool(settings.milestone_template_id) or any(
            rule.message_template_id for rule in rules
        )
    # SQLite: Python's sqlite3 gives no rowcount for a statement that starts with WITH
    returning = collect is not None or notify or connection.vendor != "postgresql"
    by_id = {rule.pk: rule for rule in rules}
    count = 0
    for ids in [None] if member_ids is None else _id_chunks(member_ids):
        sql, params = _badges_insert_sql(
            rules=rules, member_ids=ids, now=now, source=source, returning=returning
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            if not returning:
                count += max(int(cursor.rowcount), 0)
                continue
            pg = connection.vendor == "postgresql"
            for rows in _batches(cursor) if pg else [cursor.fetchall()]:
                badges = [
                    MemberBadge(
                        pk=pk,
                        member_id=member_id,
                        rule=by_id[rule_id],
                        sequence=sequence,
                        awarded_at=now,
                        source=source,
                        created_at=now,
                        updated_at=now,
                    )
                    for pk, member_id, rule_id, sequence in rows
                ]
                if notify:
                    milestone_messages_queue(badges=badges, settings=settings)
                if collect is not None:
                    collect += badges
                count += len(badges)
    return count


def milestone_messages_queue(
    *, badges: list[MemberBadge], settings: EngagementSettings | None = None
) -> int:
    """One outbox row per badge whose rule (or the settings) names a message template. The
    outbox kind "milestone" is a marketing kind: sent only with consent, within the weekly cap
    (campaigns/messaging.py). The dedupe key makes a second queueing of the same badge a no-op."""
    default_id = None
    rows = []
    for badge in badges:
        template_id = badge.rule.message_template_id
        if template_id is None:
            if default_id is None:
                settings = settings or engagement_settings_get()
                default_id = settings.milestone_template_id or 0
            template_id = default_id or None
        if template_id is None:
            continue
        rows.append(
            NotificationOutbox(
                member_id=badge.member_id,
                kind="milestone",
                payload={
                    "template_id": template_id,
                    "badge": badge.rule.name,
                    "badge_code": badge.rule.code,
                    "times": badge.sequence,
                    "channel": "email",
                },
                dedupe_key=f"badge:{badge.member_id}:{badge.rule_id}:{badge.sequence}",
            )
        )
    NotificationOutbox.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# ----------------------------------------------------------------------- one member / a batch
def engagement_members_refresh(
    *, member_ids: list[int], now: datetime | None = None, source: str, notify: bool = True
) -> list[MemberBadge]:
    """Streaks, stages and badges of these members (the posting hook, the bulk import). Runs in
    the caller's transaction: no savepoint of its own (a purchase stays a fixed number of
    statements)."""
    now = now or timezone.now()
    settings = engagement_settings_get()
    awarded: list[MemberBadge] = []
    for ids in _id_chunks(member_ids):
        streaks_compute(member_ids=ids, now=now)
        stages_compute(member_ids=ids, now=now, cause=source, settings=settings)
        awarded += badges_award(
            member_ids=ids, now=now, source=source, notify=notify, settings=settings
        )
    return awarded


# -------------------------------------------------------------------------- event check-in
@transaction.atomic
def event_check_in(
    *, member: Member, event_ref: str, attended_at: datetime | None = None
) -> EventAttendance:
    """The extension point of the events feature: record that a member attended an event and
    award the "events attended" badges at once. The same (member, event) again changes nothing."""
    if member.erased_at or not member.is_active:
        raise EventCheckInRefused()
    event_ref = (event_ref or "").strip()
    if not event_ref:
        raise EventCheckInRefused(extra={"fields": {"event_ref": ["Name the event."]}})
    attendance, created = EventAttendance.objects.get_or_create(
        member=member,
        event_ref=event_ref,
        defaults={"attended_at": attended_at or timezone.now()},
    )
    if created:
        rules = list(
            BadgeRule.objects.filter(active=True, kind=BadgeRule.Kind.EVENT).select_related("tier")
        )
        badges_award(member_ids=[member.pk], source="event", rules=rules)
    return attendance


# -------------------------------------------------------------------------- VIP of the month
def month_bounds(month: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = month.replace(day=1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end, time.min, tzinfo=zone),
    )


def vip_candidates(*, month: date, zone: ZoneInfo | None = None) -> QuerySet[Member]:
    """Loyal members (stage now) with their net spend in the month, best first: highest spend,
    then earliest enrolment, then lowest id."""
    zone = zone or _zone()
    start, end = month_bounds(month, zone)
    spend = Subquery(
        Transaction.objects.filter(
            member_id=OuterRef("pk"), occurred_at__gte=start, occurred_at__lt=end
        )
        .order_by()
        .values("member_id")
        .annotate(
            v=Sum(
                Case(
                    When(kind=Transaction.Kind.RETURN, then=-1 * F("amount")),
                    default=F("amount"),
                    output_field=MONEY,
                )
            )
        )
        .values("v")[:1],
        output_field=MONEY,
    )
    return (
        Member.objects.filter(
            Exists(MemberStage.objects.filter(member_id=OuterRef("pk"), stage=Stage.LOYAL)),
            erased_at__isnull=True,
        )
        .annotate(month_spend=Coalesce(spend, Value(Decimal("0")), output_field=MONEY))
        .filter(month_spend__gt=0)
        .order_by("-month_spend", "enrolled_at", "pk")
    )


@transaction.atomic
def vip_of_month_pick(*, month: date, zone: ZoneInfo | None = None) -> VipOfMonth | None:
    """Pick the VIP of `month` (idempotent: the month's pick, once made, stays)."""
    month = month.replace(day=1)
    existing = VipOfMonth.objects.filter(month=month).first()
    if existing is not None:
        return existing
    best = vip_candidates(month=month, zone=zone).first()
    if best is None:
        return None
    # SQLite sums decimals as floats: back to cents
    spend = Decimal(str(best.month_spend)).quantize(Decimal("0.01"))  # type: ignore[attr-defined]
    vip = VipOfMonth(month=month, member=best, spend=spend)
    vip.full_clean()
    vip.save()
    return vip


# ------------------------------------------------------------------------------ the nightly
@dataclass
class NightlyResult:
    streaks: int = 0
    stages_changed: int = 0
    badges_awarded: int = 0
    stage_counts: dict[str, int] = field(default_factory=dict)
    vip: VipOfMonth | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def engagement_nightly(*, now: datetime | None = None, progress: Any = None) -> NightlyResult:
    """The nightly catch-up, each step in its own transaction: streaks (SQL), stages (SQL),
    badges (what the posting path could not see: reviews, referrals, streaks, or rules added
    since), members per stage today, and the VIP of the month just ended if not picked yet.
    `progress(step_name)` is called before each step."""
    import time as clock

    now = now or timezone.now()
    zone = _zone()
    result = NightlyResult()
    steps = ("streaks", "stages", "badges", "counts", "vip")
    for step in steps:
        if progress:
            progress(step)
        started = clock.perf_counter()
        with transaction.atomic():
            if step == "streaks":
                result.streaks = streaks_compute(now=now, zone=zone)
            elif step == "stages":
                result.stages_changed = stages_compute(now=now).changed
            elif step == "badges":
                result.badges_awarded = badges_award_count(now=now)
            elif step == "counts":
                result.stage_counts = stage_counts_snapshot(day=now.astimezone(zone).date())
            else:
                this_month = now.astimezone(zone).date().replace(day=1)
                last_month = (this_month - timedelta(days=1)).replace(day=1)
                result.vip = vip_of_month_pick(month=last_month, zone=zone)
        result.seconds[step] = clock.perf_counter() - started
    return result
