"""Paid club API: plans, status with the free-delivery flag, join / renew / cancel from
payment references, replays and refusals."""

import pytest
from rest_framework.test import APIClient

from campaigns.membership.models import ClubMembership, ClubTerm

pytestmark = pytest.mark.django_db
BASE = "/api/v1/membership/"


@pytest.fixture
def admin_api_client(superuser):
    """Signed in for the whole test although the clock moves by months (tokens would expire)."""
    client = APIClient()
    client.force_authenticate(superuser)
    return client


def test_the_shop_reads_plans_and_a_members_status(admin_api_client, member, plan):
    plans = admin_api_client.get(f"{BASE}plans/")
    assert plans.status_code == 200
    assert plans.json()["results"][0]["code"] == "plus"
    assert plans.json()["results"][0]["free_delivery"] is True

    none = admin_api_client.get(f"{BASE}members/{member.pk}/").json()
    assert (none["state"], none["free_delivery"], none["plan"]) == ("none", False, None)


def test_join_renew_and_cancel(admin_api_client, clock, member, plan):
    payment = {"plan": "plus", "payment_reference": "PSP-1", "amount": "36.50"}
    joined = admin_api_client.post(f"{BASE}members/{member.pk}/join/", payment, format="json")
    assert joined.status_code == 201, joined.json()
    body = joined.json()
    assert body["created"] is True
    assert body["status"]["state"] == "active" and body["status"]["free_delivery"] is True
    assert body["status"]["ends_on"] == "2027-01-09"

    replay = admin_api_client.post(f"{BASE}members/{member.pk}/join/", payment, format="json")
    assert replay.status_code == 200 and replay.json()["created"] is False
    assert ClubTerm.objects.count() == 1

    clock.at(2027, 1, 15, 9, 0)
    renewed = admin_api_client.post(
        f"{BASE}members/{member.pk}/renew/",
        {"payment_reference": "PSP-2", "amount": "36.50", "auto_renew": False},
        format="json",
    )
    assert renewed.status_code == 201, renewed.json()
    assert renewed.json()["status"]["ends_on"] == "2028-01-09"
    assert renewed.json()["status"]["auto_renew"] is False

    cancelled = admin_api_client.post(
        f"{BASE}members/{member.pk}/cancel/", {"reason": "moving"}, format="json"
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["free_delivery"] is False
    assert cancelled.json()["refund"] == "35.90"  # 359 unused days of 365 at 36.50


def test_refusals_are_clear_and_change_nothing(admin_api_client, clock, member, plan):
    url = f"{BASE}members/{member.pk}/join/"
    wrong_fee = admin_api_client.post(
        url, {"plan": "plus", "payment_reference": "A", "amount": "1.00"}, format="json"
    )
    assert wrong_fee.status_code == 422 and wrong_fee.json()["code"] == "club_fee_mismatch"
    no_plan = admin_api_client.post(
        url, {"plan": "gold", "payment_reference": "A", "amount": "1.00"}, format="json"
    )
    assert no_plan.status_code == 404 and no_plan.json()["code"] == "club_plan_not_found"
    card = admin_api_client.post(
        url,
        {"plan": "plus", "payment_reference": "A", "amount": "36.50", "card_number": "4111"},
        format="json",
    )
    assert card.status_code == 400  # no card data, nor any other unknown field
    no_membership = admin_api_client.post(
        f"{BASE}members/{member.pk}/renew/",
        {"payment_reference": "B", "amount": "36.50"},
        format="json",
    )
    assert no_membership.status_code == 404
    assert no_membership.json()["code"] == "club_membership_not_found"
    assert not ClubMembership.objects.exists()


def test_renewing_after_grace_is_a_conflict(admin_api_client, clock, member, plan):
    admin_api_client.post(
        f"{BASE}members/{member.pk}/join/",
        {"plan": "plus", "payment_reference": "A", "amount": "36.50"},
        format="json",
    )
    clock.at(2027, 2, 1, 9, 0)
    late = admin_api_client.post(
        f"{BASE}members/{member.pk}/renew/",
        {"payment_reference": "B", "amount": "36.50"},
        format="json",
    )
    assert late.status_code == 409 and late.json()["code"] == "club_membership_lapsed"
    assert admin_api_client.get(f"{BASE}members/{member.pk}/").json()["state"] == "lapsed"
