"""Issue #16 through the API: promo codes, capped points, rules applied, who made an entry."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from loyalty.ledger.models import EarningRule, LedgerEntry, PromoCode, Transaction
from tests.factories.integrations import ApiClientFactory
from tests.factories.ledger import EarningRuleFactory

pytestmark = pytest.mark.django_db
PURCHASE = reverse("ledger:purchase-create")


def buy(client, member, amount="25.00", external_id="TILL-1", **extra):
    body = {
        "member_id": member.pk,
        "channel": "store",
        "external_id": external_id,
        "amount": amount,
        **extra,
    }
    return client.post(PURCHASE, body, format="json")


@pytest.fixture
def spring(programme):
    rule = EarningRuleFactory(
        name="Spring",
        kind=EarningRule.Kind.FIXED_BONUS,
        multiplier=None,
        points=100,
        requires_promo_code=True,
    )
    return PromoCode.objects.create(code="SPRING", rule=rule, max_uses=1)


def test_a_purchase_with_a_promo_code_earns_its_rule(staff_client, spring, member):
    response = buy(staff_client, member, promo_code="spring")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["points_earned"] == 125
    assert {"source": f"rule:{spring.rule_id}", "name": "Spring"} in body["rules"]
    assert Transaction.objects.get().promo_code == spring


@pytest.mark.parametrize("code", ["NOPE", "SPRING"])
def test_an_unknown_or_used_up_code_is_a_field_error_and_changes_nothing(
    staff_client, spring, member, code
):
    buy(staff_client, member, promo_code="SPRING", external_id="FIRST")
    before = (Transaction.objects.count(), LedgerEntry.objects.count())

    response = buy(staff_client, member, promo_code=code, external_id="SECOND")

    assert response.status_code == 422  # well-formed, refused by a rule (docs/api.md)
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["extra"]["fields"]) == ["promo_code"]
    assert (Transaction.objects.count(), LedgerEntry.objects.count()) == before


def test_capped_points_are_answered(staff_client, programme, member):
    EarningRuleFactory(kind=EarningRule.Kind.CAP_TRANSACTION, multiplier=None, points=100)

    response = buy(staff_client, member, amount="250.00")
    replay = buy(staff_client, member, amount="250.00")

    assert response.status_code == 201
    assert response.json()["points_earned"] == 100
    assert response.json()["points_uncollected"] == 150
    assert replay.status_code == 200 and replay.json()["points_uncollected"] == 150
    assert any(r.get("capped_from") == 250 for r in response.json()["rules"])


def test_the_statement_says_who_made_each_entry(staff_client, staff_user, programme, member):
    staff_user.user_permissions.add(Permission.objects.get(codename="adjust_points"))
    adjusted = staff_client.post(
        reverse("ledger:adjustment-create"),
        {"member_id": member.pk, "points": 5, "reason": "goodwill"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="adj-1",
    )
    till = ApiClientFactory(name="Till 7")
    pos = APIClient()
    pos.credentials(HTTP_AUTHORIZATION=f"Api-Key {till.raw_key}")
    bought = buy(pos, member, amount="10.00", external_id="POS-1")

    statement = staff_client.get(reverse("ledger:statement", args=[member.pk])).json()

    assert adjusted.status_code == 201 and bought.status_code == 201, bought.json()
    by_kind = {row["kind"]: row["created_by"] for row in statement["results"]}
    assert by_kind["adjust"] == {
        "kind": "staff",
        "id": staff_user.pk,
        "name": staff_user.get_username(),
    }
    assert by_kind["earn"] == {"kind": "api_client", "id": till.pk, "name": "Till 7"}


def test_the_quote_and_the_purchase_agree_on_conditions(staff_client, programme, member):
    EarningRuleFactory(multiplier=Decimal("2"), categories=["shoes"], min_quantity=Decimal("2"))
    lines = [{"sku": "SH", "category": "shoes", "quantity": "2", "unit_price": "10.00"}]

    quote = staff_client.post(
        reverse("ledger:quote"),
        {"member_id": member.pk, "channel": "store", "amount": "20.00", "lines": lines},
        format="json",
    )
    bought = buy(staff_client, member, amount="20.00", lines=lines)

    assert quote.json()["total"] == bought.json()["points_earned"] == 40
