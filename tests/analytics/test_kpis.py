"""Every KPI selector against the hand-computed history of conftest.py."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from analytics.selectors import (
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
    kpi_points_liability,
    kpi_referrals,
    kpi_repeat_purchase_rate,
    kpi_tier_distribution,
    kpis_all,
    period_resolve,
)
from loyalty.ledger.services import purchase_record

JUNE = {"date_from": date(2026, 6, 1), "date_to": date(2026, 6, 30)}
JULY = {"date_from": date(2026, 7, 1), "date_to": date(2026, 7, 31)}


def june(**filters):
    return period_resolve(**JUNE, **filters)


def test_purchases_fall_on_local_days(history):
    # B's 2026-05-31 23:30 UTC purchase is 1 June in London (in); the 2026-06-30 23:30 UTC one
    # is 1 July (out): June has A x2, B x1 and two anonymous purchases.
    assert kpi_member_transaction_share(june()) == {
        "transactions": 5,
        "member_transactions": 3,
        "share": Decimal("0.6000"),
    }
    may = period_resolve(date_from=date(2026, 5, 1), date_to=date(2026, 5, 31))
    assert kpi_member_transaction_share(may)["transactions"] == 0


def test_enrolment_rate(history):
    # new in June: B, C; customers: A, B (members) + X1 (identified non-member) = 3
    assert kpi_enrolment_rate(june()) == {
        "new_members": 2,
        "customers": 3,
        "member_customers": 2,
        "non_member_customers": 1,
        "rate": Decimal("0.6667"),
    }
    # store S1: new members whose home is S1: B; customers at S1: A and X1
    assert kpi_enrolment_rate(june(store="S1"))["rate"] == Decimal("0.5000")


def test_repeat_purchase_rate(history):
    assert kpi_repeat_purchase_rate(june()) == {
        "buyers": 2,
        "repeat_buyers": 1,
        "rate": Decimal("0.5000"),
    }
    assert kpi_repeat_purchase_rate(june(store="S2")) == {
        "buyers": 1,
        "repeat_buyers": 0,
        "rate": Decimal("0.0000"),
    }


def test_average_order_value_members_vs_non_members(history):
    assert kpi_average_order_value(june()) == {
        "members": {"purchases": 3, "revenue": Decimal("180.00"), "aov": Decimal("60.00")},
        "non_members": {"purchases": 2, "revenue": Decimal("50.00"), "aov": Decimal("25.00")},
        "all": {"purchases": 5, "revenue": Decimal("230.00"), "aov": Decimal("46.00")},
    }


def test_return_counts_in_the_period_it_happened(history):
    # A's July return of 25.00 leaves June's purchases and AOV alone ...
    assert kpi_average_order_value(june())["members"]["revenue"] == Decimal("180.00")
    # ... lowers lifetime value only from July ...
    assert kpi_customer_lifetime_value(june())["net_revenue"] == Decimal("240.00")  # 180 + D 60
    july = period_resolve(**JULY)
    assert kpi_customer_lifetime_value(july)["net_revenue"] == Decimal("235.00")  # +20 -25
    # ... and its points come back in July's earn/burn, not June's
    assert kpi_earn_burn(june())["reversed"] == 0
    assert kpi_earn_burn(july)["reversed"] == 25
    assert kpi_earn_burn(july)["issued"] == 20


def test_active_members(history):
    result = kpi_active_members(june())
    # purchases in the 90 days before 1 July: A, B; D bought in 2025
    assert (result["active_members"], result["members"], result["share"]) == (
        2,
        4,
        Decimal("0.5000"),
    )


def test_monthly_active_members(history):
    period = period_resolve(date_from=date(2026, 5, 1), date_to=date(2026, 7, 31))
    assert kpi_monthly_active_members(period) == [
        {"month": "2026-05", "active_members": 0},
        {"month": "2026-06", "active_members": 2},
        {"month": "2026-07", "active_members": 1},
    ]


def test_tier_distribution_uses_the_tier_held_at_the_end(history):
    rows = {row["tier"]: row for row in kpi_tier_distribution(june())}
    assert rows["gold"]["members"] == 1  # A moved from silver to gold on 15 June
    assert rows["silver"]["members"] == 1  # B
    assert rows[""]["members"] == 2  # C and D have no tier
    assert rows["gold"]["share"] == Decimal("0.2500")
    may = period_resolve(date_from=date(2026, 5, 1), date_to=date(2026, 5, 31))
    rows = {row["tier"]: row["members"] for row in kpi_tier_distribution(may)}
    assert rows == {"silver": 1, "gold": 0, "": 1}  # A silver; D none; B, C not enrolled yet


def test_member_who_changes_tier_mid_period_counts_in_the_end_tier(history):
    # A held silver until 15 June and gold after: with all of June's purchases, in gold
    assert kpi_repeat_purchase_rate(june(tier="gold")) == {
        "buyers": 1,
        "repeat_buyers": 1,
        "rate": Decimal("1.0000"),
    }
    assert kpi_average_order_value(june(tier="silver"))["members"] == {
        "purchases": 1,
        "revenue": Decimal("30.00"),
        "aov": Decimal("30.00"),
    }
    # anonymous customers have no tier
    assert kpi_average_order_value(june(tier="silver"))["non_members"]["purchases"] == 0


def test_earn_burn(history):
    assert kpi_earn_burn(june()) == {
        "issued": 180,
        "reversed": 0,
        "redeemed": 0,
        "expired": 0,
        "adjusted": 0,
        "net_change": 180,
        "redemption_rate": Decimal("0.0000"),
        "breakage_rate": Decimal("0.0000"),
    }


def test_points_liability(history):
    result = kpi_points_liability(june())
    assert result["outstanding_points"] == 240  # D 60 + A 150 + B 30
    assert result["pending_points"] == 0
    assert result["value"] == Decimal("2.40")


def test_customer_lifetime_value_by_tier_and_cohort(history):
    july = period_resolve(**JULY)
    result = kpi_customer_lifetime_value(july)
    # A 150 - 25 = 125, B 50, C 0, D 60: 235 over 4 members
    assert result["average"] == Decimal("58.75")
    by_tier = {row["tier"]: row for row in result["by_tier"]}
    assert by_tier["gold"]["average"] == Decimal("125.00")
    assert by_tier["silver"]["average"] == Decimal("50.00")
    assert by_tier[""]["average"] == Decimal("30.00")  # C 0 and D 60
    by_cohort = {row["cohort"]: row for row in result["by_cohort"]}
    assert by_cohort["2026-06"] == {
        "cohort": "2026-06",
        "members": 2,
        "net_revenue": Decimal("50.00"),
        "average": Decimal("25.00"),
    }


def test_customer_lifetime_value_filters_and_cutoff(history):
    """The one-query shape (net revenue per member, joined to the members' tier at the end and
    cohort) gives the same cells as summing per transaction: June (before A's return and B's
    1 July purchase), by home store and by tier held at the end (A changed tier mid-June)."""
    result = kpi_customer_lifetime_value(june())
    # by 30 June: A 150, B 30 (the 1 July purchase is out), C 0, D 60 -> 240 over 4
    assert (result["members"], result["net_revenue"]) == (4, Decimal("240.00"))
    by_tier = {row["tier"]: (row["members"], row["net_revenue"]) for row in result["by_tier"]}
    assert by_tier == {
        "silver": (1, Decimal("30.00")),  # B
        "gold": (1, Decimal("150.00")),  # A: gold at the end of June, silver before 15 June
        "": (2, Decimal("60.00")),  # C and D
    }
    assert [row["tier"] for row in result["by_tier"]] == ["silver", "gold", ""]  # by rank
    by_cohort = {row["cohort"]: (row["members"], row["net_revenue"]) for row in result["by_cohort"]}
    assert by_cohort == {
        "2025-01": (1, Decimal("60.00")),
        "2026-03": (1, Decimal("150.00")),
        "2026-06": (2, Decimal("30.00")),
    }
    s1 = kpi_customer_lifetime_value(june(store="S1"))  # home store: A and B
    assert (s1["members"], s1["net_revenue"], s1["average"]) == (
        2,
        Decimal("180.00"),
        Decimal("90.00"),
    )
    gold = kpi_customer_lifetime_value(june(tier="gold"))
    assert (gold["members"], gold["net_revenue"]) == (1, Decimal("150.00"))
    assert [row["tier"] for row in gold["by_tier"]] == ["gold"]
    before = period_resolve(date_from=date(2024, 1, 1), date_to=date(2024, 1, 31))
    assert kpi_customer_lifetime_value(before) == {
        "members": 0,
        "net_revenue": Decimal("0.00"),
        "average": None,
        "by_tier": [],
        "by_cohort": [],
    }


def test_lapsed_members_and_win_back(history):
    result = kpi_lapsed_members(june())
    assert result["lapsed_members"] == 1  # D: last purchase June 2025
    assert result["never_purchased"] == 1  # C
    assert result["lapsed_at_start"] == 1 and result["won_back"] == 0
    assert result["campaign_win_back"]["available"] is False


def test_lapsed_members_won_back(history):
    """D (last purchase June 2025, lapsed on 1 June 2026) buys again in June: won back, no
    longer lapsed at the end; the four counts come from one query."""
    purchase_record(
        member=history.d,
        channel="store",
        external_id="P-D-back",
        occurred_at=datetime(2026, 6, 15, 12, tzinfo=UTC),
        amount=Decimal("5.00"),
        store=history.s2,
    )
    result = kpi_lapsed_members(june())
    assert (result["lapsed_members"], result["never_purchased"]) == (0, 1)
    assert (result["lapsed_at_start"], result["won_back"]) == (1, 1)
    assert result["win_back_rate"] == Decimal("1.0000")
    assert kpi_lapsed_members(june(store="S1"))["lapsed_at_start"] == 0  # D's home is S2


def test_referrals(history):
    history.c.referred_by = history.a
    history.c.save()
    history.b.referred_by = history.a
    history.b.save()
    assert kpi_referrals(june()) == {
        "referred_enrolments": 2,
        "first_purchases": 1,  # B's first purchase is in June; C never bought
        "converted": 1,
        "conversion_rate": Decimal("0.5000"),
        "referrers": 1,
    }


def test_members_by_country(history):
    assert kpi_members_by_country(june()) == [
        {"country": "GB", "members": 3},
        {"country": "FR", "members": 1},
    ]


def test_not_available_kpis_say_so(history):
    assert kpi_net_promoter_score(june())["available"] is False
    assert kpi_campaign_lift(june())["status"] == "not_available"


def test_no_data_in_range(programme):
    period = period_resolve(date_from=date(2020, 1, 1), date_to=date(2020, 1, 31))
    result = kpis_all(period)
    assert result["enrolment_rate"]["rate"] is None
    assert result["member_transaction_share"]["share"] is None
    assert result["repeat_purchase_rate"] == {"buyers": 0, "repeat_buyers": 0, "rate": None}
    assert result["average_order_value"]["all"]["aov"] is None
    assert result["earn_burn"]["redemption_rate"] is None
    assert result["points_liability"]["outstanding_points"] == 0
    assert result["customer_lifetime_value"]["average"] is None
    assert result["tier_distribution"] == []


def test_members_without_purchases_count_in_member_kpis(history):
    # C never bought: counted among members (active share, lifetime value) with 0 revenue
    july = period_resolve(**JULY, store="S2")
    result = kpi_customer_lifetime_value(july)
    assert result["members"] == 2  # C, D
    assert result["average"] == Decimal("30.00")


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"date_from": date(2026, 6, 2), "date_to": date(2026, 6, 1)}, "to"),
        ({**JUNE, "store": "NOPE"}, "store"),
        ({**JUNE, "tier": "nope"}, "tier"),
    ],
)
def test_bad_filters_are_refused_by_field(programme, filters, field):
    with pytest.raises(ValidationError) as error:
        period_resolve(**filters)
    assert field in error.value.message_dict
