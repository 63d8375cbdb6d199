"""The club's KPIs: paid members, renewal rate, fee revenue (analytics' paid_membership)."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from analytics.selectors import kpi_paid_membership, period_resolve
from campaigns.membership.services import club_membership_cancel, club_membership_renew
from tests.factories.members import MemberFactory
from tests.factories.membership import joined

pytestmark = pytest.mark.django_db


@pytest.fixture
def club(clock, plan):
    """Joined 10 Jan 2026 (36.50 each): A renews in grace, B lets it lapse, C cancels in March."""
    a, b, c = (joined(MemberFactory(), plan) for _ in range(3))
    clock.at(2026, 3, 1, 12, 0)
    club_membership_cancel(membership=c, reason="asked")  # 36.50 x 314/365 = 31.40
    clock.at(2027, 1, 15, 12, 0)
    club_membership_renew(membership=a, payment_reference="A2", amount=plan.fee)
    clock.at(2027, 3, 1, 12, 0)
    return a, b, c


def test_renewal_rate_counts_terms_that_came_up_for_renewal(club):
    figures = kpi_paid_membership(
        period_resolve(date_from=date(2027, 1, 1), date_to=date(2027, 1, 31))
    )
    assert figures["terms_due"] == 2  # A and B; C was cancelled before its end
    assert figures["terms_renewed"] == 1
    assert figures["renewal_rate"] == Decimal("0.5000")
    assert figures["fee_revenue"] == Decimal("36.50")  # A's renewal
    assert figures["paid_members"] == 1  # A (B's grace ended 23 Jan)


def test_fee_revenue_and_refunds_of_the_joining_year(club):
    figures = kpi_paid_membership(
        period_resolve(date_from=date(2026, 1, 1), date_to=date(2026, 12, 31))
    )
    assert figures["fee_revenue"] == Decimal("109.50")
    assert figures["refunds"] == Decimal("31.40")
    assert figures["net_fee_revenue"] == Decimal("78.10")
    assert figures["paid_members"] == 2
    assert figures["terms_due"] == 0


def test_the_kpi_is_in_the_api_and_the_command(club, superuser, capsys):
    client = APIClient()
    client.force_authenticate(superuser)
    response = client.get(
        "/api/v1/analytics/paid-membership/", {"from": "2027-01-01", "to": "2027-01-31"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"]["renewal_rate"] == "0.5000"
    call_command("kpis", "--from", "2027-01-01", "--to", "2027-01-31")
    assert "paid_membership:" in capsys.readouterr().out
