"""#16.15: redeem N of a reward in one call. Stock, per-member limits and points are checked for
all N at once; N vouchers are issued or none (service, API, clerk screen)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from loyalty.ledger.exceptions import InsufficientPoints
from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import ledger_reconcile
from rewards.exceptions import IdempotencyConflict, RewardLimitReached, RewardOutOfStock
from rewards.models import Redemption, Reward, RewardCode, Voucher
from rewards.selectors import redemption_batch
from rewards.services import redemption_cancel, redemption_create
from tests.factories.rewards import RewardCodeFactory, RewardFactory

pytestmark = pytest.mark.django_db


def available(member) -> int:
    return account_balance(member=member).available


def test_three_at_once_issue_three_vouchers_and_take_three_units(funded):
    reward = RewardFactory(points_cost=200, stock=5)

    first = redemption_create(member=funded, reward=reward, quantity=3)

    batch = redemption_batch(redemption=first)
    assert batch[0].pk == first.pk and len(batch) == 3
    assert {r.batch_quantity for r in batch} == {3}
    assert len({r.voucher.code for r in batch}) == 3
    assert Reward.objects.get(pk=reward.pk).stock == 2
    assert available(funded) == 400
    assert LedgerEntry.objects.filter(kind="redeem").count() == 3
    assert ledger_reconcile() == []


def test_stock_for_fewer_than_n_refuses_all_and_takes_nothing(funded):
    reward = RewardFactory(points_cost=100, stock=2)

    with pytest.raises(RewardOutOfStock) as caught:
        redemption_create(member=funded, reward=reward, quantity=3)

    assert caught.value.extra == {"reward": reward.code, "left": 2, "requested": 3}
    assert "Only 2" in caught.value.message
    assert Reward.objects.get(pk=reward.pk).stock == 2
    assert not Redemption.objects.exists() and not Voucher.objects.exists()
    assert available(funded) == 1000


def test_points_for_fewer_than_n_refuses_all(funded):
    reward = RewardFactory(points_cost=300, stock=10)

    with pytest.raises(InsufficientPoints) as caught:
        redemption_create(member=funded, reward=reward, quantity=4)

    assert caught.value.extra == {"available": 1000, "requested": 1200, "quantity": 4}
    assert Reward.objects.get(pk=reward.pk).stock == 10
    assert not Redemption.objects.exists()
    assert available(funded) == 1000


def test_a_per_member_limit_counts_all_n(funded):
    reward = RewardFactory(points_cost=10, limit_per_member=3)
    redemption_create(member=funded, reward=reward)

    with pytest.raises(RewardLimitReached) as caught:
        redemption_create(member=funded, reward=reward, quantity=3)
    assert caught.value.extra["left"] == 2
    assert Redemption.objects.count() == 1

    redemption_create(member=funded, reward=reward, quantity=2)
    assert Redemption.objects.count() == 3


def test_a_per_period_limit_counts_all_n(funded):
    reward = RewardFactory(points_cost=10, limit_per_period=2, limit_period="day")
    with pytest.raises(RewardLimitReached):
        redemption_create(member=funded, reward=reward, quantity=3)
    assert not Redemption.objects.exists()


def test_n_partner_codes_or_none(funded):
    reward = RewardFactory(kind=Reward.Kind.PARTNER_CODE, points_cost=10)
    for n in range(2):
        RewardCodeFactory(reward=reward, code=f"P-{n}")

    with pytest.raises(RewardOutOfStock):
        redemption_create(member=funded, reward=reward, quantity=3)
    assert RewardCode.objects.filter(voucher__isnull=True).count() == 2

    first = redemption_create(member=funded, reward=reward, quantity=2)
    codes = sorted(r.voucher.partner_code for r in redemption_batch(redemption=first))
    assert codes == ["P-0", "P-1"]


@pytest.mark.parametrize("quantity", [0, -1, 101])
def test_a_quantity_out_of_range_is_a_field_error(funded, quantity):
    with pytest.raises(ValidationError) as caught:
        redemption_create(member=funded, reward=RewardFactory(), quantity=quantity)
    assert "quantity" in caught.value.message_dict
    assert not Redemption.objects.exists()


def test_a_replay_returns_the_same_n_and_another_quantity_is_a_conflict(funded):
    reward = RewardFactory(points_cost=100)
    first = redemption_create(member=funded, reward=reward, quantity=2, idempotency_key="k1")
    again = redemption_create(member=funded, reward=reward, quantity=2, idempotency_key="k1")
    assert again.pk == first.pk and Redemption.objects.count() == 2
    with pytest.raises(IdempotencyConflict):
        redemption_create(member=funded, reward=reward, quantity=3, idempotency_key="k1")
    assert Redemption.objects.count() == 2


def test_each_voucher_of_a_batch_cancels_on_its_own(funded):
    reward = RewardFactory(points_cost=100, stock=5)
    batch = redemption_batch(redemption=redemption_create(member=funded, reward=reward, quantity=2))

    redemption_cancel(redemption=batch[1], reason="changed mind")

    assert available(funded) == 900
    assert Reward.objects.get(pk=reward.pk).stock == 4
    assert Redemption.objects.get(pk=batch[0].pk).status == "completed"


def test_api_redeems_n_and_lists_every_voucher(admin_api_client, funded):
    RewardFactory(code="coffee", points_cost=100, stock=5)

    response = admin_api_client.post(
        "/api/v1/rewards/redemptions/",
        {"member_id": funded.pk, "reward": "coffee", "quantity": 3},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["quantity"] == 3 and len(body["redemptions"]) == 3
    assert len({r["voucher"]["code"] for r in body["redemptions"]}) == 3
    assert body["balance"]["available"] == 700


def test_api_refusal_for_n_changes_nothing(admin_api_client, funded):
    RewardFactory(code="coffee", points_cost=100, stock=2)
    response = admin_api_client.post(
        "/api/v1/rewards/redemptions/",
        {"member_id": funded.pk, "reward": "coffee", "quantity": 3},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "reward_out_of_stock"
    assert not Voucher.objects.exists()


def test_api_quantity_zero_is_a_field_error(admin_api_client, funded):
    RewardFactory(code="coffee")
    response = admin_api_client.post(
        "/api/v1/rewards/redemptions/",
        {"member_id": funded.pk, "reward": "coffee", "quantity": 0},
        format="json",
    )
    assert response.status_code == 400
    assert "quantity" in response.json()["extra"]["fields"]


def test_clerk_redeems_two_and_sees_both_codes(client, django_user_model, funded):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username="till2", password="till-pass-123")
    user.groups.add(Group.objects.get(name="Store clerk"))
    client.force_login(user)
    reward = RewardFactory(name="Free coffee", points_cost=100)

    response = client.post(
        reverse("clerk:redeem", args=[funded.pk]),
        {"reward": reward.pk, "quantity": 2, "token": "0123456789abcdef0123456789abcdef"},
    )

    assert response.status_code == 303
    page = client.get(response["Location"]).content.decode()
    codes = [v.display_code for v in Voucher.objects.all()]
    assert len(codes) == 2 and all(code in page for code in codes)
    assert "Redeemed 2 of “Free coffee”" in page
    assert available(funded) == 800
