"""Analytics reads: one selector per KPI (kpis.py), finance and marketing reports (reports.py),
the daily snapshots (snapshots.py). Every selector takes a Period (common.py)."""

from collections.abc import Callable
from typing import Any

from analytics.selectors.common import Period, period_resolve
from analytics.selectors.kpis import (
    kpi_active_members,
    kpi_average_order_value,
    kpi_campaign_lift,
    kpi_customer_lifetime_value,
    kpi_earn_burn,
    kpi_enrolment_rate,
    kpi_lapsed_members,
    kpi_member_transaction_share,
    kpi_members_by_country,
    kpi_monthly_active_members,
    kpi_net_promoter_score,
    kpi_paid_membership,
    kpi_points_liability,
    kpi_referrals,
    kpi_repeat_purchase_rate,
    kpi_tier_distribution,
    kpi_top_rewards,
)
from analytics.selectors.reports import cohort_retention, liability_report, rfm_segments

# The KPIs by the name the command's JSON, the API paths and the CSV files use.
KPIS: dict[str, Callable[[Period], Any]] = {
    "enrolment_rate": kpi_enrolment_rate,
    "member_transaction_share": kpi_member_transaction_share,
    "active_members": kpi_active_members,
    "monthly_active_members": kpi_monthly_active_members,
    "repeat_purchase_rate": kpi_repeat_purchase_rate,
    "average_order_value": kpi_average_order_value,
    "tier_distribution": kpi_tier_distribution,
    "earn_burn": kpi_earn_burn,
    "points_liability": kpi_points_liability,
    "customer_lifetime_value": kpi_customer_lifetime_value,
    "lapsed_members": kpi_lapsed_members,
    "net_promoter_score": kpi_net_promoter_score,
    "referrals": kpi_referrals,
    "campaign_lift": kpi_campaign_lift,
    "members_by_country": kpi_members_by_country,
    "top_rewards": kpi_top_rewards,
    "paid_membership": kpi_paid_membership,
}
REPORTS: dict[str, Callable[[Period], Any]] = {
    "liability": liability_report,
    "cohorts": cohort_retention,
    "rfm": rfm_segments,
}


def kpis_all(period: Period) -> dict[str, Any]:
    """Every KPI for the period, keyed by KPI name, with the filters it was computed for."""
    return {"filters": period.filters(), **{name: kpi(period) for name, kpi in KPIS.items()}}


__all__ = [
    "KPIS",
    "REPORTS",
    "Period",
    "cohort_retention",
    "kpis_all",
    "liability_report",
    "period_resolve",
    "rfm_segments",
    *[kpi.__name__ for kpi in KPIS.values()],
]
