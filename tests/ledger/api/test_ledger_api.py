import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from loyalty.ledger.models import LedgerEntry, Transaction
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db
PURCHASE = reverse("ledger:purchase-create")
RETURN = reverse("ledger:return-create")


def buy(client, member, amount="25.00", **extra):
    body = {
        "member_id": member.pk,
        "channel": "store",
        "external_id": "TILL-1",
        "amount": amount,
        **extra,
    }
    return client.post(PURCHASE, body, format="json")


def test_purchase_returns_points_rules_and_balance(staff_client, programme, member):
    StoreFactory(code="LDN01")

    response = buy(staff_client, member, store="ldn01", occurred_at="2026-11-22T10:00:00+00:00")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True and body["points_earned"] == 25 and body["points_pending"] == 0
    assert body["balance"]["available"] == 25
    assert body["rules"][0]["step"] == "base_rate"
    assert Transaction.objects.get().store.code == "LDN01"


def test_replayed_purchase_is_200_with_the_first_result(staff_client, programme, member):
    first = buy(staff_client, member)
    again = buy(staff_client, member)
    different = buy(staff_client, member, amount="26.00")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["transaction_id"] == first.json()["transaction_id"]
    assert again.json()["points_earned"] == 25
    assert different.status_code == 409 and different.json()["code"] == "transaction_conflict"
    assert LedgerEntry.objects.count() == 1


def test_idempotency_key_header_stands_for_the_external_id(staff_client, programme, member):
    body = {"member_number": member.member_number, "channel": "web", "amount": "10"}

    first = staff_client.post(PURCHASE, body, format="json", HTTP_IDEMPOTENCY_KEY="order-77")
    again = staff_client.post(PURCHASE, body, format="json", HTTP_IDEMPOTENCY_KEY="order-77")
    missing = staff_client.post(PURCHASE, body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert missing.status_code == 422 and "external_id" in missing.json()["extra"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "1e12"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"occurred_at": "2026-11-23T10:00:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"channel": "fax"}, "channel"),
        ({"points_spent": -1}, "points_spent"),
        ({"lines": [{"sku": "A", "quantity": "0", "unit_price": "1"}]}, "lines"),
    ],
)
def test_bad_purchase_input_is_a_400_naming_the_field_and_writes_nothing(
    staff_client, programme, member, body, field
):
    response = buy(staff_client, member, **body)

    assert response.status_code == 400, response.json()
    assert field in response.json()["extra"]["fields"]
    assert Transaction.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"occurred_at": "2999-01-01T00:00:00+00:00"}, "occurred_at"),
        ({"store": "NOPE"}, "store"),
    ],
)
def test_well_formed_but_refused_purchase_is_a_422_naming_the_field_and_writes_nothing(
    staff_client, programme, member, body, field
):
    response = buy(staff_client, member, **body)

    assert response.status_code == 422, response.json()
    assert field in response.json()["extra"]["fields"]
    assert Transaction.objects.count() == 0


def test_unknown_member_404_and_inactive_member_409(staff_client, programme):
    suspended = MemberFactory(status="suspended")

    unknown = staff_client.post(
        PURCHASE,
        {"member_id": 10**9, "channel": "store", "external_id": "X", "amount": "5"},
        format="json",
    )
    inactive = buy(staff_client, suspended)

    assert unknown.status_code == 404 and unknown.json()["code"] == "member_not_found"
    assert inactive.status_code == 409 and inactive.json()["code"] == "member_not_active"


def test_anonymous_purchase(staff_client, programme):
    response = staff_client.post(
        PURCHASE,
        {
            "channel": "store",
            "external_id": "ANON-1",
            "amount": "5",
            "customer_ref": "loyal-non-member",
        },
        format="json",
    )

    assert response.status_code == 201 and response.json()["points_earned"] == 0
    assert Transaction.objects.get().member is None


def test_return_against_the_purchase_and_exceeding_it(staff_client, programme, member):
    buy(staff_client, member, amount="40.00")

    partial = staff_client.post(
        RETURN,
        {
            "channel": "store",
            "external_id": "RET-1",
            "original_external_id": "TILL-1",
            "amount": "10.00",
        },
        format="json",
    )
    too_much = staff_client.post(
        RETURN,
        {
            "channel": "store",
            "external_id": "RET-2",
            "original_external_id": "TILL-1",
            "amount": "30.01",
        },
        format="json",
    )
    unknown = staff_client.post(
        RETURN,
        {"channel": "store", "external_id": "RET-3", "original_external_id": "NOPE", "amount": "1"},
        format="json",
    )

    assert partial.status_code == 201 and partial.json()["points_reversed"] == 10
    assert partial.json()["balance"]["balance"] == 30
    assert too_much.status_code == 409 and too_much.json()["code"] == "return_exceeds_purchase"
    assert unknown.status_code == 404


def test_balance_and_statement(staff_client, programme, member):
    buy(staff_client, member, amount="30")
    buy(staff_client, member, amount="5", external_id="TILL-2")

    balance = staff_client.get(reverse("ledger:balance", args=[member.pk])).json()
    statement = staff_client.get(
        reverse("ledger:statement", args=[member.pk]), {"kind": "earn", "limit": 1}
    ).json()
    bad = staff_client.get(reverse("ledger:statement", args=[member.pk]), {"kind": "gift"})

    assert balance["available"] == 35 and balance["lifetime_earned"] == 35
    assert balance["next_expiry_date"] is not None and balance["next_expiry_points"] == 35
    assert statement["count"] == 2 and len(statement["results"]) == 1
    assert statement["results"][0]["amount"] == 5  # newest first
    assert bad.status_code == 400


def test_quote_writes_nothing(staff_client, programme, member):
    response = staff_client.post(
        reverse("ledger:quote"),
        {"member_id": member.pk, "channel": "web", "amount": "19.99"},
        format="json",
    )

    assert response.status_code == 200 and response.json()["total"] == 19
    assert Transaction.objects.count() == 0


def test_adjustment_needs_the_permission(staff_client, staff_user, programme, member):
    body = {"member_id": member.pk, "points": 50, "reason": "goodwill for a late delivery"}

    refused = staff_client.post(
        reverse("ledger:adjustment-create"), body, format="json", HTTP_IDEMPOTENCY_KEY="adj-1"
    )
    staff_user.user_permissions.add(Permission.objects.get(codename="adjust_points"))
    done = staff_client.post(
        reverse("ledger:adjustment-create"), body, format="json", HTTP_IDEMPOTENCY_KEY="adj-1"
    )
    replay = staff_client.post(
        reverse("ledger:adjustment-create"), body, format="json", HTTP_IDEMPOTENCY_KEY="adj-1"
    )
    too_big = staff_client.post(
        reverse("ledger:adjustment-create"),
        {**body, "points": -500},
        format="json",
        HTTP_IDEMPOTENCY_KEY="adj-2",
    )

    assert refused.status_code == 403
    assert done.status_code == 201 and done.json()["amount"] == 50
    assert replay.json()["id"] == done.json()["id"]
    assert too_big.status_code == 409 and too_big.json()["code"] == "insufficient_points"
    entry = LedgerEntry.objects.get(kind="adjust")
    assert entry.created_by == staff_user and entry.reason == "goodwill for a late delivery"
