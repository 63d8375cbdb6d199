"""One selector per KPI of the programme (the table in the domain brief), each for a Period.

Every figure is one or a few set-based queries through the ORM (aggregates, grouped counts,
correlated subqueries); nothing loops over members in Python. What counts, common to all:

- A *purchase* is a Transaction of kind "purchase" whose `occurred_at` falls in the range (local
  days of the programme's time zone). A *return* (cancellation) is a Transaction of kind
  "return"; it counts in the period in which it happened, never in its purchase's period. It
  does not remove the purchase from purchase counts or average order value; it lowers net
  revenue (lifetime value) in the period it occurred.
- Points are ledger entries by `effective_at`. issued = earn + bonus + opening balance;
  reversed = points taken back by returns (reversal entries); redeemed = redeem entries less
  refunds of redemptions; expired = expire entries; adjusted = staff adjustments (signed).
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.selectors.activity import buyers_and_repeaters
from analytics.selectors.common import (
    Period,
    members_in_scope,
    money,
    rate,
    transactions_in_scope,
)
from analytics.selectors.permember import (
    adapt,
    compiled,
    members_in_scope_sql,
    purchase_stats_exact,
    run,
)
from campaigns.membership.selectors import club_kpis
from loyalty.ledger.models import (
    LedgerEntry,
    LotAllocation,
    MemberPurchaseStats,
    PointsAccount,
    PointsLot,
    Transaction,
)
from loyalty.ledger.policy import programme_settings_get
from loyalty.tiers.models import Tier
from members.models import Member
from rewards.models import Redemption

PURCHASE = Transaction.Kind.PURCHASE
RETURN = Transaction.Kind.RETURN
DEFAULT_ACTIVE_DAYS = 90
DEFAULT_LAPSED_DAYS = 180

NOT_AVAILABLE = "not_available"
STATS_TABLE = MemberPurchaseStats._meta.db_table
TXN_TABLE = Transaction._meta.db_table


def _not_available(reason: str) -> dict[str, Any]:
    return {"available": False, "status": NOT_AVAILABLE, "reason": reason}


def kpi_enrolment_rate(period: Period) -> dict[str, Any]:
    """Enrolment rate = new members in the period / distinct customers who bought in the period.

    New members: enrolled in the range (home store, tier at the end). Customers: distinct members
    plus distinct identified non-members (`customer_ref` of anonymous purchases) with a purchase
    in the range at the store. Anonymous purchases without a customer reference are not
    customers anyone can count. None when nobody bought."""
    new_members = members_in_scope(period).filter(enrolled_at__gte=period.start).count()
    counts = transactions_in_scope(period, kind=PURCHASE).aggregate(
        members=Count("member", distinct=True),
        non_members=Count(
            "customer_ref",
            distinct=True,
            filter=Q(member__isnull=True) & ~Q(customer_ref=""),
        ),
    )
    customers = counts["members"] + counts["non_members"]
    return {
        "new_members": new_members,
        "customers": customers,
        "member_customers": counts["members"],
        "non_member_customers": counts["non_members"],
        "rate": rate(new_members, customers),
    }


def kpi_member_transaction_share(period: Period) -> dict[str, Any]:
    """Member transaction share = purchases by members / all purchases recorded in the period
    (anonymous ones included). None when there was no purchase."""
    counts = transactions_in_scope(period, kind=PURCHASE).aggregate(
        transactions=Count("id"), member_transactions=Count("id", filter=Q(member__isnull=False))
    )
    return {
        **counts,
        "share": rate(counts["member_transactions"], counts["transactions"]),
    }


def kpi_active_members(period: Period, *, days: int = DEFAULT_ACTIVE_DAYS) -> dict[str, Any]:
    """Active members = members with at least one purchase in the `days` days (default 90)
    up to the end of the period (or now, if earlier); share = active / members enrolled by then
    (home store)."""
    as_of = period.as_of
    active = (
        transactions_in_scope(period, kind=PURCHASE, start=as_of - timedelta(days=days))
        .filter(member__isnull=False, occurred_at__lt=as_of)
        .aggregate(n=Count("member", distinct=True))["n"]
    )
    members = members_in_scope(period).filter(enrolled_at__lt=as_of).count()
    return {
        "active_members": active,
        "members": members,
        "days": days,
        "as_of": as_of,
        "share": rate(active, members),
    }


def kpi_monthly_active_members(period: Period) -> list[dict[str, Any]]:
    """Monthly active members = per calendar month of the range (programme time zone), the
    distinct members with at least one purchase in that month (months without any: 0)."""
    rows = (
        transactions_in_scope(period, kind=PURCHASE)
        .filter(member__isnull=False)
        .annotate(month=TruncMonth("occurred_at", tzinfo=period.zone))
        .values("month")
        .annotate(active_members=Count("member", distinct=True))
        .order_by("month")
    )
    found = {row["month"].date().replace(day=1): row["active_members"] for row in rows}
    months = []
    month = period.date_from.replace(day=1)
    while month <= period.date_to:
        months.append({"month": month.strftime("%Y-%m"), "active_members": found.get(month, 0)})
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def kpi_repeat_purchase_rate(period: Period) -> dict[str, Any]:
    """Repeat-purchase rate = members with 2 or more purchases in the period / members with 1 or
    more. Returns do not undo purchases. None when no member bought."""
    buyers, repeaters = buyers_and_repeaters(transactions_in_scope(period, kind=PURCHASE))
    return {"buyers": buyers, "repeat_buyers": repeaters, "rate": rate(repeaters, buyers)}


def kpi_average_order_value(period: Period) -> dict[str, Any]:
    """Average order value = purchase revenue / number of purchases, for members and for
    non-members (anonymous purchases) apart, and all together. Revenue is the purchases' gross
    amount (returns are not subtracted: a return is not an order). None without purchases."""
    figures = transactions_in_scope(period, kind=PURCHASE).aggregate(
        member_purchases=Count("id", filter=Q(member__isnull=False)),
        member_revenue=Sum("amount", filter=Q(member__isnull=False)),
        non_member_purchases=Count("id", filter=Q(member__isnull=True)),
        non_member_revenue=Sum("amount", filter=Q(member__isnull=True)),
    )

    def group(purchases: int, revenue: Decimal | int | None) -> dict[str, Any]:
        aov = rate(revenue, purchases)
        return {
            "purchases": purchases,
            "revenue": money(revenue),
            "aov": money(aov) if aov is not None else None,
        }

    total_purchases = figures["member_purchases"] + figures["non_member_purchases"]
    total_revenue = (figures["member_revenue"] or 0) + (figures["non_member_revenue"] or 0)
    return {
        "members": group(figures["member_purchases"], figures["member_revenue"]),
        "non_members": group(figures["non_member_purchases"], figures["non_member_revenue"]),
        "all": group(total_purchases, total_revenue),
    }


def kpi_tier_distribution(period: Period) -> list[dict[str, Any]]:
    """Tier distribution = members (enrolled by the end of the period, home store) per tier held
    at the end of the period, count and share of those members. Members without any tier
    assignment are listed as tier "" (no tier)."""
    # one pass over the tier assignments joined to the members (not one probe per member)
    members_sql, params, alias = members_in_scope_sql(period)
    rows = run(
        f"SELECT s.tier_key, COUNT(*) FROM ({members_sql}) s GROUP BY s.tier_key", params, alias
    )
    counts = {tier_id: int(n) for tier_id, n in rows}
    total = sum(counts.values())
    tiers = Tier.objects.order_by("rank")
    if period.tier is not None:
        tiers = tiers.filter(pk=period.tier.pk)
    result = [
        {
            "tier": tier.code,
            "name": tier.name,
            "members": counts.get(tier.pk, 0),
            "share": rate(counts.get(tier.pk, 0), total),
        }
        for tier in tiers
    ]
    if counts.get(None):
        result.append(
            {
                "tier": "",
                "name": str(_("No tier")),
                "members": counts[None],
                "share": rate(counts[None], total),
            }
        )
    return result


def _entries(period: Period):  # type: ignore[no-untyped-def]
    entries = LedgerEntry.objects.all()
    if period.store is not None or period.tier is not None:
        entries = entries.filter(account__member__in=members_in_scope(period).values("pk"))
    return entries


POINT_MOVEMENTS = {
    "issued": Q(kind__in=["earn", "bonus", "opening_balance"]),
    "reversed": Q(kind="reversal"),
    "redeemed": Q(kind__in=["redeem", "refund"]),
    "expired": Q(kind="expire"),
    "adjusted": Q(kind="adjust"),
}
# sign that turns the entries' sum into the reported (positive when it is the usual direction)
POINT_SIGNS = {"issued": 1, "reversed": -1, "redeemed": -1, "expired": -1, "adjusted": 1}


def kpi_earn_burn(period: Period) -> dict[str, Any]:
    """Earn vs burn: points issued (earn, bonus, opening balances), reversed by returns,
    redeemed (redemptions less refunded redemptions), expired and adjusted by staff in the
    period (entries' effective time; home store, tier at the end). Redemption rate = redeemed /
    issued; breakage = expired / issued (None when nothing was issued)."""
    sums = (
        _entries(period)
        .filter(effective_at__gte=period.start, effective_at__lt=period.end)
        .aggregate(
            **{
                name: Coalesce(Sum("amount", filter=condition), 0)
                for name, condition in POINT_MOVEMENTS.items()
            }
        )
    )
    figures = {name: int(sums[name]) * POINT_SIGNS[name] for name in POINT_MOVEMENTS}
    return {
        **figures,
        "net_change": sum(int(v) for v in sums.values()),
        "redemption_rate": rate(figures["redeemed"], figures["issued"]),
        "breakage_rate": rate(figures["expired"], figures["issued"]),
    }


def kpi_points_liability(period: Period) -> dict[str, Any]:
    """Points liability = outstanding points (available + pending) x the money value of one
    point (`ProgrammeSettings.point_value`), at the end of the period (or now, if earlier).

    Outstanding = sum of all ledger entries before that instant (debts included, so it equals
    the sum of balances). Pending = what was left then of lots not yet available: the lots'
    amounts less what debits took from them (plus what refunds put back) before that instant;
    available = outstanding - pending."""
    as_of = period.as_of
    outstanding = outstanding_points_at(period, as_of)
    pending = pending_points_at(period, as_of)
    programme = programme_settings_get()
    return {
        "as_of": as_of,
        "outstanding_points": outstanding,
        "available_points": outstanding - pending,
        "pending_points": pending,
        "point_value": programme.point_value,
        "currency": programme.currency,
        "value": money(outstanding * programme.point_value),
        "pending_value": money(pending * programme.point_value),
    }


# Outstanding points at an instant newer than this are read as the accounts' balances less the
# entries since (few); older ones as the sum of the entries before (fewer than those since).
BALANCE_PATH_DAYS = 400
# every kind (the check constraint's list): "kind IN (all)" lets an entry's time be looked up
# in the (kind, effective_at) index, one range per kind, instead of scanning the entries
ALL_KINDS = LedgerEntry.Kind.values


def _accounts(period: Period):  # type: ignore[no-untyped-def]
    accounts = PointsAccount.objects.all()
    if period.store is not None or period.tier is not None:
        accounts = accounts.filter(member__in=members_in_scope(period).values("pk"))
    return accounts


def _balances_and_since_sql(period: Period, moment: Any) -> tuple[str, list[Any], str]:
    """SQL of two scalar columns `balances, since`: the balances of the accounts in scope and the
    sum of their entries effective at or after `moment`. Since balance = sum of the account's
    entries at all times (domain invariant 1), balances - since = the sum of the entries before
    `moment`; read in ONE statement (one snapshot: a posting committed meanwhile is in both
    or in neither)."""
    accounts_sql, accounts_params = compiled(_accounts(period).order_by().values("balance"))
    since = (
        _entries(period)
        .filter(kind__in=ALL_KINDS, effective_at__gte=moment)  # (kind, effective_at) index
        .order_by()
        .values("amount")
    )
    since_sql, since_params = compiled(since)
    sql = (
        f"SELECT (SELECT COALESCE(SUM(a.balance), 0) FROM ({accounts_sql}) a) AS balances, "
        f"(SELECT COALESCE(SUM(e.amount), 0) FROM ({since_sql}) e) AS since"
    )
    return sql, [*accounts_params, *since_params], since.db


def _balance_path(moment: Any) -> bool:
    return bool(moment >= timezone.now() - timedelta(days=BALANCE_PATH_DAYS))


def outstanding_points_at(period: Period, moment: Any) -> int:
    """Sum of the entries (accounts in scope) effective before `moment`: for a recent moment,
    the balances less the entries since (a few days of entries instead of all of them)."""
    if not _balance_path(moment):
        entries = _entries(period).filter(effective_at__lt=moment)
        return int(entries.aggregate(total=Coalesce(Sum("amount"), 0))["total"])
    sql, params, db = _balances_and_since_sql(period, moment)
    ((balances, since),) = run(sql, params, db)
    return int(balances) - int(since)


def pending_points_at(period: Period, as_of: Any) -> int:
    """What was left at `as_of` of the lots not yet available then (accounts in scope): the
    lots' amounts less what debits took from them plus what refunds put back, before `as_of`.
    ONE statement: the pending lots (available after `as_of`, credited before it: not among
    the few entries effective from `as_of` on) are read once, without joining the whole ledger
    to them, then their allocations."""
    future = LedgerEntry.objects.filter(kind__in=ALL_KINDS, effective_at__gte=as_of).values("id")
    lots = PointsLot.objects.filter(available_from__gt=as_of).exclude(entry_id__in=future)
    if period.store is not None or period.tier is not None:
        lots = lots.filter(account__member__in=members_in_scope(period).values("pk"))
    lots_sql, lots_params = compiled(lots.order_by().values("id", "amount"))
    db = lots.db
    sql = (
        f"WITH p AS ({lots_sql}) "
        f"SELECT x.total, y.taken, y.given_back FROM "
        f"(SELECT COALESCE(SUM(p.amount), 0) AS total FROM p) x, "
        f"(SELECT COALESCE(SUM(CASE WHEN e.amount < 0 THEN a.points ELSE 0 END), 0) AS taken, "
        f"COALESCE(SUM(CASE WHEN e.amount > 0 THEN a.points ELSE 0 END), 0) AS given_back "
        f"FROM {LotAllocation._meta.db_table} a JOIN p ON p.id = a.lot_id "
        f"JOIN {LedgerEntry._meta.db_table} e ON e.id = a.entry_id "
        f"WHERE e.effective_at < %s) y"
    )
    ((total, taken, given_back),) = run(sql, [*lots_params, adapt(db, as_of)], db)
    return int(total) - int(taken) + int(given_back)


def _lifetime_value_cells(period: Period) -> list[tuple[Any, str, int, Decimal]]:
    """(tier id at the end, enrolment month "YYYY-MM", members, net revenue) per cell, in ONE
    query: the net revenue per member (MemberPurchaseStats.spend when it is exact for the
    period, i.e. no transaction is recorded at or after its end; else one grouped pass over the
    transactions) joined to the members in scope (their tier at the end from one pass over the
    tier assignments) and grouped by tier and cohort. The cells are few (tiers x months)."""
    columns = Member.objects.annotate(cohort=TruncMonth("enrolled_at", tzinfo=period.zone)).values(
        "id", "cohort"
    )
    members_sql, members_params, db = members_in_scope_sql(period, columns=columns)
    if purchase_stats_exact(period):
        per_sql, per_params = f"SELECT member_id, spend AS net FROM {STATS_TABLE}", list[Any]()
    else:
        per_sql, per_params = compiled(
            Transaction.objects.filter(occurred_at__lt=period.end, member__isnull=False)
            .order_by()
            .values("member_id")
            .annotate(
                net=Coalesce(Sum("amount", filter=Q(kind=PURCHASE)), Decimal("0"))
                - Coalesce(Sum("amount", filter=Q(kind=RETURN)), Decimal("0"))
            )
        )
    sql = (
        f"SELECT m.tier_key, m.cohort, COUNT(*), SUM(COALESCE(p.net, 0)) "
        f"FROM ({members_sql}) m LEFT JOIN ({per_sql}) p ON p.member_id = m.id "
        f"GROUP BY m.tier_key, m.cohort"
    )
    rows = run(sql, [*members_params, *per_params], db)
    # SQLite returns the month as text and the sums as floats: one shape for both databases
    return [
        (tier, str(cohort)[:7], int(n), Decimal(str(net or 0))) for tier, cohort, n, net in rows
    ]


def kpi_customer_lifetime_value(period: Period) -> dict[str, Any]:
    """Customer lifetime value (historical) = net revenue (purchases less returns, all time up
    to the end of the period) per member, over every member enrolled by then (members who never
    bought count as 0). Also averaged by tier held at the end and by enrolment cohort (month of
    enrolment, programme time zone)."""
    cells = _lifetime_value_cells(period)
    total_members = sum(n for _t, _c, n, _net in cells)
    total = sum((net for _t, _c, _n, net in cells), Decimal("0"))
    by_tier_members: dict[Any, int] = {}
    by_tier_revenue: dict[Any, Decimal] = {}
    by_cohort_members: dict[str, int] = {}
    by_cohort_revenue: dict[str, Decimal] = {}
    for tier_id, cohort, n, net in cells:
        by_tier_members[tier_id] = by_tier_members.get(tier_id, 0) + n
        by_tier_revenue[tier_id] = by_tier_revenue.get(tier_id, Decimal("0")) + net
        by_cohort_members[cohort] = by_cohort_members.get(cohort, 0) + n
        by_cohort_revenue[cohort] = by_cohort_revenue.get(cohort, Decimal("0")) + net
    tier_names = {t.pk: (t.code, t.name, t.rank) for t in Tier.objects.all()}
    by_tier = []
    for tier_id, count in sorted(
        by_tier_members.items(), key=lambda item: tier_names.get(item[0], ("", "", 10**6))[2]
    ):
        code, name, _rank = tier_names.get(tier_id, ("", str(_("No tier")), 0))
        revenue = by_tier_revenue.get(tier_id, Decimal("0"))
        by_tier.append(
            {
                "tier": code,
                "name": name,
                "members": count,
                "net_revenue": money(revenue),
                "average": money(rate(revenue, count)),
            }
        )
    by_cohort = [
        {
            "cohort": cohort,
            "members": count,
            "net_revenue": money(by_cohort_revenue[cohort]),
            "average": money(rate(by_cohort_revenue[cohort], count)),
        }
        for cohort, count in sorted(by_cohort_members.items())
    ]
    average = rate(total, total_members)
    return {
        "members": total_members,
        "net_revenue": money(total),
        "average": money(average) if average is not None else None,
        "by_tier": by_tier,
        "by_cohort": by_cohort,
    }


def kpi_lapsed_members(period: Period, *, days: int = DEFAULT_LAPSED_DAYS) -> dict[str, Any]:
    """Lapsed members = members (home store, tier at the end) whose last purchase before the end
    of the period is older than `days` days (default 180); members who never bought are counted
    apart. Win-back rate (without campaigns) = members lapsed at the start of the period who
    bought again during it / members lapsed at the start. The win-back rate *of a campaign*
    needs campaign targeting data and is reported as not available until campaigns exist."""
    if purchase_stats_exact(period):
        counts = _lapsed_counts_from_stats(period, days)
    else:
        counts = _lapsed_counts_live(period, days)
    lapsed, never = counts["lapsed"], counts["never"]
    lapsed_at_start, won_back = counts["lapsed_at_start"], counts["won_back"]
    return {
        "days": days,
        "lapsed_members": lapsed,
        "never_purchased": never,
        "lapsed_at_start": lapsed_at_start,
        "won_back": won_back,
        "win_back_rate": rate(won_back, lapsed_at_start),
        "campaign_win_back": _not_available(
            str(_("Campaign win-back needs campaign targeting data (campaigns app)."))
        ),
    }


def _lapsed_counts_from_stats(period: Period, days: int) -> dict[str, int]:
    """The four counts from MemberPurchaseStats (exact when no transaction is recorded at or
    after the end: the last purchase is then `last_purchase_at`). Lapsed at the start: last
    purchase before start - days and none since; or a purchase in the period whose member's
    first purchase is older than start - days and who bought nothing in [start - days, start)
    (one anti-join over those members only: they are also the ones won back)."""
    members_sql, params, db = members_in_scope_sql(period, with_tier=False)
    start_cut = adapt(db, period.start - timedelta(days=days))
    end_cut = adapt(db, period.end - timedelta(days=days))
    start = adapt(db, period.start)
    lapsed, never, lapsed_before = run(
        f"SELECT COALESCE(SUM(CASE WHEN s.last_purchase_at < %s THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN s.last_purchase_at IS NULL THEN 1 ELSE 0 END), 0), "
        f"COALESCE(SUM(CASE WHEN s.last_purchase_at < %s THEN 1 ELSE 0 END), 0) "
        f"FROM ({members_sql}) m LEFT JOIN {STATS_TABLE} s ON s.member_id = m.id",
        [end_cut, start_cut, *params],
        db,
    )[0]
    ((won_back,),) = run(
        f"SELECT COUNT(*) FROM ({members_sql}) m JOIN {STATS_TABLE} s ON s.member_id = m.id "
        f"WHERE s.last_purchase_at >= %s AND s.first_purchase_at < %s AND NOT EXISTS ("
        f"SELECT 1 FROM {TXN_TABLE} t WHERE t.member_id = m.id AND t.kind = %s "
        f"AND t.occurred_at >= %s AND t.occurred_at < %s)",
        [*params, start, start_cut, PURCHASE, start_cut, start],
        db,
    )
    return {
        "lapsed": int(lapsed),
        "never": int(never),
        "lapsed_at_start": int(lapsed_before) + int(won_back),
        "won_back": int(won_back),
    }


def _lapsed_counts_live(period: Period, days: int) -> dict[str, int]:
    """The four counts from the transactions (any range), in one pass over members x
    transactions."""
    end, start = period.end, period.start
    purchases_before = Q(transactions__kind=PURCHASE, transactions__occurred_at__lt=end)
    members = members_in_scope(period).annotate(
        last_purchase=Max("transactions__occurred_at", filter=purchases_before),
        last_before_start=Max(
            "transactions__occurred_at",
            filter=Q(transactions__kind=PURCHASE, transactions__occurred_at__lt=start),
        ),
        bought_in_period=Count(
            "transactions",
            filter=Q(
                transactions__kind=PURCHASE,
                transactions__occurred_at__gte=start,
                transactions__occurred_at__lt=end,
            ),
        ),
    )
    # the four counts in ONE pass over members x transactions (not four)
    lapsed_start = Q(last_before_start__lt=start - timedelta(days=days))
    counts = members.aggregate(
        lapsed=Count("pk", filter=Q(last_purchase__lt=end - timedelta(days=days))),
        never=Count("pk", filter=Q(last_purchase__isnull=True)),
        lapsed_at_start=Count("pk", filter=lapsed_start),
        won_back=Count("pk", filter=lapsed_start & Q(bought_in_period__gt=0)),
    )
    return {name: int(value) for name, value in counts.items()}


def kpi_net_promoter_score(period: Period) -> dict[str, Any]:
    """Net promoter score = % promoters (answers 9-10) - % detractors (0-6) among survey answers
    in the period. Survey answers are recorded by points-for-action campaigns, which do not
    exist yet: reported as not available."""
    return _not_available(str(_("No survey answers are recorded yet (survey actions).")))


def kpi_referrals(period: Period) -> dict[str, Any]:
    """Referrals = referred enrolments in the period (members with a referrer, enrolled in the
    range; home store, tier at the end), the referred members whose first purchase ever falls in
    the period, and the conversion of the period's referred enrolments (those who bought at
    least once before the end / referred enrolments)."""
    referred = members_in_scope(period).filter(referred_by__isnull=False)
    enrolled = referred.filter(enrolled_at__gte=period.start)
    first = referred.annotate(
        first_purchase=Min("transactions__occurred_at", filter=Q(transactions__kind=PURCHASE))
    )
    first_purchases = first.filter(
        first_purchase__gte=period.start, first_purchase__lt=period.end
    ).count()
    referred_enrolments = enrolled.count()
    converted = (
        enrolled.filter(transactions__kind=PURCHASE, transactions__occurred_at__lt=period.end)
        .distinct()
        .count()
    )
    return {
        "referred_enrolments": referred_enrolments,
        "first_purchases": first_purchases,
        "converted": converted,
        "conversion_rate": rate(converted, referred_enrolments),
        "referrers": enrolled.values("referred_by").distinct().count(),
    }


def kpi_campaign_lift(period: Period) -> dict[str, Any]:
    """Campaign lift = behaviour (purchase rate, spend) of targeted members vs the holdout group
    of each campaign. Campaigns do not exist yet: reported as not available."""
    return _not_available(str(_("No campaign with a holdout group exists yet.")))


def kpi_members_by_country(period: Period) -> list[dict[str, Any]]:
    """Members per country = members enrolled by the end of the period (home store, tier at the
    end) per country of their address (ISO code; "" when unknown), most first."""
    rows = (
        members_in_scope(period)
        .values("country")
        .annotate(members=Count("id"))
        .order_by("-members", "country")
    )
    return [{"country": row["country"], "members": row["members"]} for row in rows]


def kpi_top_rewards(period: Period, *, limit: int = 10) -> list[dict[str, Any]]:
    """Top rewards = the rewards redeemed most in the period (completed redemptions, not
    cancelled; store of the redemption, members of the tier), with the points they took."""
    redemptions = Redemption.objects.filter(
        created_at__gte=period.start, created_at__lt=period.end, reward__isnull=False
    ).exclude(status="cancelled")
    if period.store is not None:
        redemptions = redemptions.filter(store=period.store)
    if period.tier is not None:
        redemptions = redemptions.filter(
            member__in=members_in_scope(period, by_store=False).values("pk")
        )
    rows = (
        redemptions.values("reward__code", "reward__name")
        .annotate(redemptions=Count("id"), points=Coalesce(Sum("points"), 0))
        .order_by("-redemptions", "reward__code")[:limit]
    )
    return [
        {
            "reward": row["reward__code"],
            "name": row["reward__name"],
            "redemptions": row["redemptions"],
            "points": int(row["points"]),
        }
        for row in rows
    ]


def kpi_paid_membership(period: Period) -> dict[str, Any]:
    """Paid club = memberships in force at the end of the period; renewal rate = terms that
    ended in the period and were renewed (a next term paid, on time or in grace) / terms that
    ended in the period and came up for renewal (renewed, or grace over; cancelled before their
    end not counted); fee revenue = fees of the terms paid in the period, refunds = refunds of
    the cancellations in the period. Programme-wide: the store and tier filters do not apply."""
    figures = club_kpis(start=period.date_from, end=period.date_to)
    return {
        "paid_members": figures.paid_members,
        "terms_due": figures.terms_due,
        "terms_renewed": figures.terms_renewed,
        "renewal_rate": figures.renewal_rate,
        "fee_revenue": figures.fee_revenue,
        "refunds": figures.refunds,
        "net_fee_revenue": figures.net_fee_revenue,
    }
