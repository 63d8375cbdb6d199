"""What the KPI dashboard shows: cards with the change against the previous period, chart data,
the cohort heat map, the CSV tables. Mostly read from the daily snapshots (analytics/models.py);
repeat rate, active members and the tier, cohort and reward charts are live set-based queries."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from analytics.selectors import (
    cohort_retention,
    kpi_active_members,
    kpi_monthly_active_members,
    kpi_repeat_purchase_rate,
    kpi_tier_distribution,
    kpi_top_rewards,
)
from analytics.selectors.common import Period, rate
from analytics.selectors.snapshots import snapshot_series, snapshot_totals
from analytics.services import kpi_snapshot_missing_build
from loyalty.ledger.policy import programme_settings_get

# The CSV tables offered on the dashboard (API names, analytics/api/views.py).
CSV_TABLES = (
    ("daily", _("Daily figures")),
    ("enrolment_rate", _("Enrolment rate")),
    ("member_transaction_share", _("Member transaction share")),
    ("active_members", _("Active members")),
    ("monthly_active_members", _("Monthly active members")),
    ("repeat_purchase_rate", _("Repeat-purchase rate")),
    ("average_order_value", _("Average order value")),
    ("tier_distribution", _("Tier distribution")),
    ("earn_burn", _("Earn vs burn")),
    ("points_liability", _("Points liability")),
    ("liability", _("Liability by month (finance)")),
    ("customer_lifetime_value", _("Customer lifetime value")),
    ("lapsed_members", _("Lapsed members and win-back")),
    ("referrals", _("Referrals")),
    ("members_by_country", _("Members by country")),
    ("top_rewards", _("Top rewards")),
    ("paid_membership", _("Paid club: members, renewal rate, fee revenue")),
    ("cohorts", _("Cohort retention")),
    ("rfm", _("RFM segments")),
    ("net_promoter_score", _("Net promoter score")),
    ("campaign_lift", _("Campaign lift")),
)


def _card_values(period: Period, series: list[dict[str, Any]]) -> dict[str, Any]:
    totals = snapshot_totals(period, series=series)
    programme = programme_settings_get()
    return {
        "new_members": totals["new_members"],
        "member_share": rate(totals["member_purchases"], totals["purchases"]),
        "member_aov": rate(totals["member_revenue"], totals["member_purchases"]),
        "repeat_rate": kpi_repeat_purchase_rate(period)["rate"],
        "active_members": kpi_active_members(period)["active_members"],
        "points_issued": totals["points_issued"],
        "points_redeemed": totals["points_redeemed"],
        "liability": (Decimal(totals["outstanding_points"]) * programme.point_value).quantize(
            Decimal("0.01")
        ),
    }


CARDS = (
    ("new_members", _("New members"), "int"),
    ("member_share", _("Member share of purchases"), "percent"),
    ("member_aov", _("Average order value (members)"), "money"),
    ("repeat_rate", _("Repeat-purchase rate"), "percent"),
    ("active_members", _("Active members (90 days)"), "int"),
    ("points_issued", _("Points issued"), "int"),
    ("points_redeemed", _("Points redeemed"), "int"),
    ("liability", _("Points liability"), "money"),
)


def _change(now: Any, before: Any) -> str | None:
    if now is None or before in (None, 0):
        return None
    return str(((Decimal(now) - Decimal(before)) / Decimal(before) * 100).quantize(Decimal("0.1")))


def _json(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def dashboard_data(period: Period) -> dict[str, Any]:
    """Cards and series read the daily snapshots for closed days (today, the live delta): the
    closed days of the range and of the previous period that have none yet are built and
    stored first, once, so the next call reads them."""
    before = period.previous()
    kpi_snapshot_missing_build(date_from=before.date_from, date_to=period.date_to)
    series = snapshot_series(period)
    current = _card_values(period, series)
    previous = _card_values(before, snapshot_series(before))
    cards = [
        {
            "key": key,
            "label": str(label),
            "format": kind,
            "value": _json(current[key]),
            "previous": _json(previous[key]),
            "change_percent": _change(current[key], previous[key]),
        }
        for key, label, kind in CARDS
    ]
    tiers = kpi_tier_distribution(period)
    active = kpi_monthly_active_members(period)
    rewards = kpi_top_rewards(period)
    cohorts = cohort_retention(_cohort_period(period))
    return {
        "filters": period.filters(),
        "currency": programme_settings_get().currency,
        "cards": cards,
        "tiers": {"labels": [t["name"] for t in tiers], "values": [t["members"] for t in tiers]},
        "earn_burn": {
            "labels": [row["day"] for row in series],
            "issued": [row["points_issued"] for row in series],
            "redeemed": [row["points_redeemed"] for row in series],
            "expired": [row["points_expired"] for row in series],
        },
        "active": {
            "labels": [row["month"] for row in active],
            "values": [row["active_members"] for row in active],
        },
        "top_rewards": {
            "labels": [row["name"] for row in rewards],
            "values": [row["redemptions"] for row in rewards],
        },
        "cohorts": [
            {
                "cohort": row["cohort"],
                "members": row["members"],
                "retention": [_json(cell["share"]) for cell in row["retention"]],
            }
            for row in cohorts
        ],
        "campaigns": {
            "available": False,
            "reason": str(_("Campaign results arrive with campaigns.")),
        },
    }


def _cohort_period(period: Period) -> Period:
    """Cohorts of the twelve months up to the end of the range (a heat map needs history)."""
    start = (period.date_to.replace(day=1) - timedelta(days=330)).replace(day=1)
    return Period(
        date_from=min(start, period.date_from.replace(day=1)),
        date_to=period.date_to,
        zone=period.zone,
        store=period.store,
        tier=period.tier,
    )


def default_range(today: date) -> tuple[date, date]:
    return today - timedelta(days=29), today
