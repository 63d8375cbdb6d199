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
    DateTimeField,
    DecimalField,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, ExtractMonth, ExtractYear, TruncDate, TruncWeek
from django.db.models.lookups import GreaterThanOrEqual
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
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, current - 1, period, now])
        return max(int(cursor.rowcount), 0)


# ------------------------------------------------------------------------------------ stages
def _purchases_of_member() -> QuerySet[Transaction]:
    return Transaction.objects.filter(member_id=OuterRef("pk"), kind=PURCHASE).order_by()


def _scalar(qs: QuerySet[Any], aggregate: Any, output: Any) -> Subquery:
    return Subquery(
        qs.values("member_id").annotate(v=aggregate).values("v")[:1], output_field=output
    )


def stage_annotated(
    *, member_ids: list[int] | None = None, now: datetime, settings: EngagementSettings
) -> QuerySet[Member]:
    """Members with `computed_stage` (and their `current_stage`), as one SQL query. The rules,
    first match wins (docs/engagement.md):
    prospect (no purchase) > lapsed > lapsing > won back (a lapsed member who bought again,
    for won_back_days) > advocate > loyal > new (first purchase recent) > repeat > new."""
    purchases = _purchases_of_member()
    moment: Any = DateTimeField()
    last_purchase = _scalar(purchases, Max("occurred_at"), moment)
    first_purchase = _scalar(purchases, Min("occurred_at"), moment)
    total = _scalar(purchases, Count("pk"), IntegerField())
    in_window = _scalar(
        purchases.filter(occurred_at__gte=now - timedelta(days=settings.loyal_window_days)),
        Count("pk"),
        IntegerField(),
    )
    advocate = (
        Q(Exists(Member.objects.filter(referred_by_id=OuterRef("pk"))))
        | Q(
            Exists(
                ActionEvent.objects.filter(member_id=OuterRef("pk"), kind=Campaign.Action.REVIEW)
            )
        )
        | Q(
            Exists(
                ActionEvent.objects.filter(
                    member_id=OuterRef("pk"), score__gte=settings.advocate_min_score
                )
            )
        )
    )
    current = MemberStage.objects.filter(member_id=OuterRef("pk"))
    qs = _ids_filter(Member.objects.filter(erased_at__isnull=True), member_ids, "pk").annotate(
        last_purchase=last_purchase,
        current_stage=Subquery(current.values("stage")[:1]),
        current_since=Subquery(current.values("since")[:1], output_field=moment),
    )
    lapsed_before = now - timedelta(days=settings.lapsed_days)
    lapsing_before = now - timedelta(days=settings.lapsing_days)
    annotated: QuerySet[Member] = qs.annotate(
        computed_stage=Case(
            When(last_purchase__isnull=True, then=Value(Stage.PROSPECT)),
            When(last_purchase__lt=lapsed_before, then=Value(Stage.LAPSED)),
            When(last_purchase__lt=lapsing_before, then=Value(Stage.LAPSING)),
            When(current_stage=Stage.LAPSED, then=Value(Stage.WON_BACK)),
            When(
                current_stage=Stage.WON_BACK,
                current_since__gte=now - timedelta(days=settings.won_back_days),
                then=Value(Stage.WON_BACK),
            ),
            When(advocate, then=Value(Stage.ADVOCATE)),
            When(
                Q(GreaterThanOrEqual(in_window, settings.loyal_min_purchases)),
                then=Value(Stage.LOYAL),
            ),
            When(
                Q(GreaterThanOrEqual(first_purchase, now - timedelta(days=settings.new_days))),
                then=Value(Stage.NEW),
            ),
            When(
                Q(GreaterThanOrEqual(total, settings.repeat_min_purchases)),
                then=Value(Stage.REPEAT),
            ),
            default=Value(Stage.NEW),
        )
    )
    return annotated


@dataclass
class StageResult:
    changed: int = 0
    by_transition: dict[tuple[str, str], int] = field(default_factory=dict)


def stages_compute(
    *,
    member_ids: list[int] | None = None,
    now: datetime | None = None,
    cause: str = "nightly",
    settings: EngagementSettings | None = None,
) -> StageResult:
    """Recompute lifecycle stages; only the members whose stage changes are read back (one
    query), then their MemberStage rows are upserted and a StageChange row written for each."""
    now = now or timezone.now()
    settings = settings or engagement_settings_get()
    changed = (
        stage_annotated(member_ids=member_ids, now=now, settings=settings)
        .filter(Q(current_stage__isnull=True) | ~Q(current_stage=F("computed_stage")))  # type: ignore[misc]
        .order_by("pk")
        .values_list("pk", "current_stage", "computed_stage")
    )
    result = StageResult()
    batch: list[tuple[int, str | None, str]] = []
    for row in changed.iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) >= CHUNK:
            _stage_write(batch, now, cause, result)
            batch = []
    if batch:
        _stage_write(batch, now, cause, result)
    return result


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
    """Members annotated with every badge metric (m_purchases, m_reviews, ...)."""
    members: QuerySet[Member] = _ids_filter(
        Member.objects.filter(erased_at__isnull=True), member_ids, "pk"
    ).annotate(**_metric_expressions())
    return members


def _earned_expression(rule: BadgeRule) -> Any:
    metric = F(METRIC_OF_KIND[rule.kind])
    if rule.kind == BadgeRule.Kind.TIER_REACHED:
        rank = rule.tier.rank if rule.tier else 10**6
        return Case(When(Q(m_tier_rank__gte=rank), then=Value(1)), default=Value(0))
    if rule.repeatable:
        return Case(
            When(
                Q(**{f"{METRIC_OF_KIND[rule.kind]}__gte": rule.threshold}),
                then=metric / Value(rule.threshold),
            ),
            default=Value(0),
            output_field=IntegerField(),
        )
    return Case(
        When(Q(**{f"{METRIC_OF_KIND[rule.kind]}__gte": rule.threshold}), then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )


def badges_award(
    *,
    member_ids: list[int] | None = None,
    now: datetime | None = None,
    source: str = "nightly",
    notify: bool = True,
    rules: list[BadgeRule] | None = None,
    settings: EngagementSettings | None = None,
) -> list[MemberBadge]:
    """Award every badge earned and not held yet, for every member or the given ones. ONE query
    finds them (each member's metrics against each active rule's threshold, minus what they
    hold); the new rows are inserted with ON CONFLICT DO NOTHING, so a concurrent run cannot
    award twice. A milestone message is queued for each (consent and the weekly cap are checked
    when it is sent), unless `notify` is off (historical imports)."""
    now = now or timezone.now()
    if rules is None:
        rules = list(config_cache.cached("engagement.badge_rules"))  # read only: shared
    if not rules:
        return []
    earned = {f"e_{rule.pk}": _earned_expression(rule) for rule in rules}
    have = {
        f"h_{rule.pk}": Coalesce(
            Subquery(
                MemberBadge.objects.filter(member_id=OuterRef("pk"), rule_id=rule.pk)
                .order_by()
                .values("rule_id")
                .annotate(v=Max("sequence"))
                .values("v")[:1],
                output_field=IntegerField(),
            ),
            0,
        )
        for rule in rules
    }
    wanted = Q()
    for rule in rules:
        wanted |= Q(**{f"e_{rule.pk}__gt": F(f"h_{rule.pk}")})
    rows = (
        member_metrics(member_ids=member_ids)
        .annotate(**earned)
        .annotate(**have)
        .filter(wanted)
        .order_by("pk")
        .values("pk", *earned, *have)
    )
    awarded: list[MemberBadge] = []
    batch: list[MemberBadge] = []
    for row in rows.iterator(chunk_size=CHUNK):
        for rule in rules:
            for sequence in range(row[f"h_{rule.pk}"] + 1, row[f"e_{rule.pk}"] + 1):
                batch.append(
                    MemberBadge(
                        member_id=row["pk"],
                        rule=rule,
                        sequence=sequence,
                        awarded_at=now,
                        source=source,
                        created_at=now,
                        updated_at=now,
                    )
                )
        if len(batch) >= CHUNK:
            awarded += _badges_write(batch, notify=notify, settings=settings)
            batch = []
    if batch:
        awarded += _badges_write(batch, notify=notify, settings=settings)
    return awarded


def _badges_write(
    batch: list[MemberBadge], *, notify: bool, settings: EngagementSettings | None
) -> list[MemberBadge]:
    MemberBadge.objects.bulk_create(batch, ignore_conflicts=True)
    if notify:
        milestone_messages_queue(badges=batch, settings=settings)
    return batch


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
    for offset in range(0, len(member_ids), CHUNK):
        ids = member_ids[offset : offset + CHUNK]
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
                result.badges_awarded = len(badges_award(now=now))
            elif step == "counts":
                result.stage_counts = stage_counts_snapshot(day=now.astimezone(zone).date())
            else:
                this_month = now.astimezone(zone).date().replace(day=1)
                last_month = (this_month - timedelta(days=1)).replace(day=1)
                result.vip = vip_of_month_pick(month=last_month, zone=zone)
        result.seconds[step] = clock.perf_counter() - started
    return result
