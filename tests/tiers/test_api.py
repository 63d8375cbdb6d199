from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from loyalty.ledger.models import LedgerEntry
from loyalty.tiers.models import TierAssignment
from loyalty.tiers.selectors import tier_current_assignment
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.tiers.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def tier_staff(django_user_model):
    user = django_user_model.objects.create_user(username="tiers", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="set_tier"))
    # reading a member's tier history is the members:read scope (members.view_member)
    user.user_permissions.add(Permission.objects.get(codename="view_member"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    client.user = user
    return client


def test_tier_list_is_ordered_with_benefits(ladder, staff_client):
    response = staff_client.get("/api/v1/tiers/")

    assert response.status_code == 200
    body = response.json()
    assert [t["code"] for t in body] == ["member", "silver", "gold", "platinum"]
    assert body[2]["threshold"] == "500.00"
    assert body[2]["earn_multiplier"] == "1.50"
    assert body[2]["free_shipping"] is True and body[2]["exclusive_rewards"] is False


def test_tier_list_needs_authentication(ladder, api_client):
    assert api_client.get("/api/v1/tiers/").status_code in (401, 403)


def test_member_progress(ladder, enrolled, clock, staff_client):
    clock.set(at(date(2025, 3, 1)))
    earn(enrolled, "150.00", when=clock.now)

    response = staff_client.get(f"/api/v1/tiers/members/{enrolled.pk}/progress/")

    assert response.status_code == 200
    body = response.json()
    assert body["tier"]["code"] == "silver"
    assert body["assigned"] is True
    assert body["qualifying_value"] == "150.00"
    assert body["next_tier"]["code"] == "gold"
    assert body["needed_for_next"] == "350.00"
    assert body["needed_to_keep"] == "0.00"
    assert (body["window_start"], body["window_end"]) == ("2025-01-01", "2026-01-01")
    assert body["period_end"] == "2026-01-01"


def test_progress_of_an_unknown_member_is_404(ladder, staff_client):
    response = staff_client.get("/api/v1/tiers/members/999999/progress/")
    assert response.status_code == 404


def test_progress_without_tiers_is_a_clear_409(programme, staff_client):
    member = MemberFactory()
    response = staff_client.get(f"/api/v1/tiers/members/{member.pk}/progress/")
    assert response.status_code == 409
    assert response.json()["code"] == "no_tiers_defined"


def test_staff_set_a_tier_with_reason_and_end_date(ladder, enrolled, clock, tier_staff):
    clock.set(at(date(2025, 3, 1)))
    until = date(2025, 12, 31)

    response = tier_staff.post(
        f"/api/v1/tiers/members/{enrolled.pk}/tier/",
        {"tier": "gold", "reason": "complaint goodwill", "manual_until": until.isoformat()},
        format="json",
    )

    assert response.status_code == 201, response.json()
    row = tier_current_assignment(member_id=enrolled.pk)
    assert (row.tier.code, row.reason, row.note, row.manual_until, row.actor) == (
        "gold",
        TierAssignment.Reason.MANUAL,
        "complaint goodwill",
        until,
        tier_staff.user,
    )
    assert not LedgerEntry.objects.filter(source_type="tier_gift").exists()  # no gift unasked
    history = tier_staff.get(f"/api/v1/tiers/members/{enrolled.pk}/history/").json()
    assert history["results"][0]["tier"] == "gold"
    assert history["results"][0]["actor"] == "tiers"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"tier": "gold"}, "reason"),
        ({"tier": "gold", "reason": "   "}, "reason"),
        ({"tier": "gold", "reason": "x", "manual_until": "soon"}, "manual_until"),
    ],
)
def test_bad_manual_set_is_a_field_error_and_changes_nothing(
    ladder, enrolled, tier_staff, payload, field
):
    response = tier_staff.post(f"/api/v1/tiers/members/{enrolled.pk}/tier/", payload, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["extra"]["fields"]
    assert not TierAssignment.objects.filter(member=enrolled).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"tier": "diamond", "reason": "x"}, "tier"),
        ({"tier": "gold", "reason": "x", "manual_until": "2020-01-01"}, "manual_until"),
    ],
)
def test_well_formed_but_refused_manual_set_is_a_422_and_changes_nothing(
    ladder, enrolled, tier_staff, payload, field
):
    """An unknown tier code or a past end date: the schema cannot say it, so 422 not 400."""
    response = tier_staff.post(f"/api/v1/tiers/members/{enrolled.pk}/tier/", payload, format="json")

    assert response.status_code == 422, response.json()
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["extra"]["fields"]
    assert not TierAssignment.objects.filter(member=enrolled).exists()


def test_manual_set_needs_the_permission(ladder, enrolled, staff_client):
    response = staff_client.post(
        f"/api/v1/tiers/members/{enrolled.pk}/tier/",
        {"tier": "gold", "reason": "x"},
        format="json",
    )
    assert response.status_code == 403
    assert not TierAssignment.objects.exists()


def test_manual_set_for_unknown_member_is_404(ladder, tier_staff):
    response = tier_staff.post(
        "/api/v1/tiers/members/999999/tier/", {"tier": "gold", "reason": "x"}, format="json"
    )
    assert response.status_code == 404


def test_manual_set_with_gift_gives_it_once(ladder, enrolled, clock, tier_staff):
    clock.set(at(date(2025, 3, 1)))
    url = f"/api/v1/tiers/members/{enrolled.pk}/tier/"
    tomorrow = (clock.now.date() + timedelta(days=1)).isoformat()
    body = {"tier": "gold", "reason": "x", "give_gift": True, "manual_until": tomorrow}

    assert tier_staff.post(url, body, format="json").status_code == 201
    assert tier_staff.post(url, body, format="json").status_code == 201

    gifts = LedgerEntry.objects.filter(source_type="tier_gift")
    assert [g.amount for g in gifts] == [200]
    assert TierAssignment.objects.filter(member=enrolled).count() == 2
    assert tier_current_assignment(member_id=enrolled.pk).qualifying_value == Decimal("0")
