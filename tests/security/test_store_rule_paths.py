"""The store rule on every path: a clerk restricted to store A gets 404 for a member of store B
(exactly what a member that does not exist gets), through the API with a session and with a
token, on the clerk screen, and in the admin lists and exports. The rule itself is
members.selectors.member_list_for_staff; these tests check that every door uses it."""

from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from loyalty.core.scopes import SCOPES
from loyalty.integrations.services import api_client_create
from tests.factories.ledger import earn
from tests.factories.rewards import RewardFactory, redeemed

pytestmark = pytest.mark.django_db

MISSING = 987654321


@pytest.fixture(params=["session", "token"])
def clerk_api(request: Any, clerk: Any, programme: Any) -> APIClient:
    client = APIClient()
    if request.param == "session":
        client.force_login(clerk)
    else:
        token = Token.objects.create(user=clerk)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


MEMBER_GETS = [
    "/api/v1/members/{id}/",
    "/api/v1/ledger/members/{id}/balance/",
    "/api/v1/ledger/members/{id}/statement/",
    "/api/v1/rewards/members/{id}/catalogue/",
    "/api/v1/rewards/members/{id}/vouchers/",
    "/api/v1/tiers/members/{id}/progress/",
    "/api/v1/tiers/members/{id}/history/",
]


@pytest.mark.parametrize("url", MEMBER_GETS)
def test_another_stores_member_is_not_found_like_a_missing_one(
    clerk_api, url, my_member, their_member
):
    # their own store's member is found (tier progress answers 409 without a tier policy)
    assert clerk_api.get(url.format(id=my_member.pk)).status_code in (200, 409)
    theirs = clerk_api.get(url.format(id=their_member.pk))
    missing = clerk_api.get(url.format(id=MISSING))
    assert theirs.status_code == 404, theirs.content
    assert theirs.json() == missing.json()


def test_privacy_export_of_another_stores_member_is_not_found(clerk_api, their_member):
    response = clerk_api.post(f"/api/v1/members/{their_member.pk}/privacy-export/")
    assert response.status_code == 404


def test_member_list_pages_only_through_the_clerks_store(clerk_api, my_member, their_member):
    body = clerk_api.get("/api/v1/members/?limit=50").json()
    assert [row["id"] for row in body["results"]] == [my_member.pk]
    assert body["count"] == 1
    other = clerk_api.get("/api/v1/members/?store=AWAY").json()
    assert other["results"] == [] and other["count"] == 0
    searched = clerk_api.get("/api/v1/members/", {"q": their_member.member_number}).json()
    assert searched["results"] == []


def test_lookup_finds_nothing_of_another_store(clerk_api, my_member, their_member):
    mine = clerk_api.get("/api/v1/members/lookup/", {"q": my_member.member_number})
    assert [row["id"] for row in mine.json()] == [my_member.pk]
    theirs = clerk_api.get("/api/v1/members/lookup/", {"q": their_member.member_number})
    assert theirs.status_code == 200 and theirs.json() == []
    by_name = clerk_api.get("/api/v1/members/lookup/", {"q": "Theirs"})
    assert by_name.json() == []


@pytest.mark.parametrize("ref", ["member_id", "member_number"])
def test_purchase_for_another_stores_member_is_not_found(clerk_api, ref, their_member):
    value = their_member.pk if ref == "member_id" else their_member.member_number
    response = clerk_api.post(
        "/api/v1/ledger/purchases/",
        {"channel": "store", "external_id": "T-1", "amount": "10.00", ref: value},
        format="json",
    )
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "member_not_found"
    from loyalty.ledger.models import Transaction

    assert not Transaction.objects.exists()


def test_return_against_another_stores_purchase_is_not_found(clerk_api, their_member):
    earn(their_member, "20.00", external_id="THEIRS-1")
    response = clerk_api.post(
        "/api/v1/ledger/returns/",
        {
            "channel": "store",
            "external_id": "R-1",
            "original_external_id": "THEIRS-1",
            "amount": "5.00",
        },
        format="json",
    )
    assert response.status_code == 404, response.content


def test_redemption_for_another_stores_member_is_not_found(clerk_api, their_member):
    earn(their_member, "500.00")
    reward = RewardFactory(points_cost=10)
    response = clerk_api.post(
        "/api/v1/rewards/redemptions/",
        {"member_id": their_member.pk, "reward": str(reward.pk)},
        format="json",
    )
    assert response.status_code == 404, response.content


def test_cancelling_another_stores_redemption_is_not_found(clerk_api, their_member):
    earn(their_member, "500.00")
    redemption = redeemed(member=their_member, reward=RewardFactory(points_cost=10))
    response = clerk_api.post(
        f"/api/v1/rewards/redemptions/{redemption.pk}/cancel/", {"reason": "x"}, format="json"
    )
    assert response.status_code == 404, response.content
    redemption.refresh_from_db()
    assert redemption.status != "cancelled"


def test_an_api_key_serves_members_of_every_store(home_store, my_member, their_member):
    key = api_client_create(name="Till", scopes=list(SCOPES), store=home_store).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    for member in (my_member, their_member):
        assert client.get(f"/api/v1/members/{member.pk}/").status_code == 200


def test_unrestricted_staff_see_every_store(client, marketer, programme, my_member, their_member):
    client.force_login(marketer)
    for member in (my_member, their_member):
        assert client.get(f"/api/v1/members/{member.pk}/").status_code == 200
        assert client.get(f"/api/v1/ledger/members/{member.pk}/balance/").status_code == 200


# --- the clerk screen ---------------------------------------------------------------------


def test_clerk_screen_refuses_another_stores_member(client, clerk, programme, their_member):
    client.force_login(clerk)
    assert client.get(f"/clerk/members/{their_member.pk}/").status_code == 404
    page = client.get("/clerk/search/", {"q": their_member.member_number})
    assert their_member.last_name.encode() not in page.content


# --- the admin ------------------------------------------------------------------------------


def test_admin_member_page_of_another_store_is_like_a_missing_one(client, clerk, their_member):
    client.force_login(clerk)
    theirs = client.get(f"/admin/members/member/{their_member.pk}/change/", follow=True)
    missing = client.get(f"/admin/members/member/{MISSING}/change/", follow=True)
    assert theirs.redirect_chain == [("/admin/", 302)] == missing.redirect_chain
    listing = client.get("/admin/members/member/")
    assert b"Theirs" not in listing.content


def test_admin_voucher_list_shows_only_the_clerks_store(
    client, clerk, programme, my_member, their_member
):
    earn(my_member, "500.00")
    earn(their_member, "500.00")
    reward = RewardFactory(points_cost=10)
    mine = redeemed(member=my_member, reward=reward).voucher
    theirs = redeemed(member=their_member, reward=reward).voucher
    client.force_login(clerk)
    listing = client.get("/admin/rewards/voucher/")
    assert listing.status_code == 200
    shown = {row.pk for row in listing.context["cl"].result_list}
    assert shown == {mine.pk}
    page = client.get(f"/admin/rewards/voucher/{theirs.pk}/change/")
    assert page.status_code == 302  # "not found": back to the index, like a missing object


def test_admin_ledger_export_holds_only_the_users_store(
    client, django_user_model, programme, home_store, my_member, their_member
):
    from django.contrib.auth.models import Group

    from members.models import StaffProfile

    user = django_user_model.objects.create_user(
        username="storefinance", password="a-long-enough-pass-123", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Finance"))
    StaffProfile.objects.create(user=user, store=home_store, restricted_to_store=True)
    earn(my_member, "30.00")
    earn(their_member, "40.00")
    client.force_login(user)
    listing = client.get("/admin/ledger/ledgerentry/")
    members = {row.account.member_id for row in listing.context["cl"].result_list}
    assert members == {my_member.pk}
    from loyalty.ledger.models import LedgerEntry

    response = client.post(
        "/admin/ledger/ledgerentry/",
        {
            "action": "export_csv",
            "_selected_action": [
                str(pk) for pk in LedgerEntry.objects.values_list("pk", flat=True)
            ],
        },
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert my_member.member_number.encode() in body
    assert their_member.member_number.encode() not in body
    transactions = client.get("/admin/ledger/transaction/")
    assert {t.member_id for t in transactions.context["cl"].result_list} == {my_member.pk}
