"""Rewards API: status codes, error codes, replays, and the shapes the schema promises."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.ledger.services import points_earn
from members.models import Member
from rewards.models import Redemption, Reward, Voucher
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/rewards/"


def redeem(client, member, reward, **headers):
    return client.post(
        f"{BASE}redemptions/",
        {"member_id": member.pk, "reward": reward.code},
        format="json",
        **headers,
    )


def test_anonymous_callers_are_refused(api_client, funded):
    assert api_client.get(BASE).status_code == 401
    assert api_client.post(f"{BASE}redemptions/", {}, format="json").status_code == 401


def test_redeem_returns_the_voucher_and_the_new_balance(admin_api_client, funded):
    reward = RewardFactory(code="coffee", points_cost=250, stock=3)

    response = redeem(admin_api_client, funded, reward)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True
    assert body["redemption"]["reward"] == "coffee"
    assert body["redemption"]["voucher"]["status"] == "issued"
    assert len(body["redemption"]["voucher"]["code"]) == 14  # XXXX-XXXX-XXXX
    assert body["balance"]["available"] == 750


def test_replay_with_the_same_idempotency_key_is_a_200_with_the_same_voucher(
    admin_api_client, funded
):
    reward = RewardFactory()
    first = redeem(admin_api_client, funded, reward, HTTP_IDEMPOTENCY_KEY="till-7-42")
    again = redeem(admin_api_client, funded, reward, HTTP_IDEMPOTENCY_KEY="till-7-42")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created"] is False
    assert (
        first.json()["redemption"]["voucher"]["code"]
        == again.json()["redemption"]["voucher"]["code"]
    )
    assert Redemption.objects.count() == 1


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        ("suspended", 409, "member_not_active"),
        ("inactive_reward", 409, "reward_not_available"),
        ("no_stock", 409, "reward_out_of_stock"),
        ("limit", 409, "reward_limit_reached"),
        ("expensive", 409, "insufficient_points"),
        ("hidden", 403, "reward_not_eligible"),
        ("unknown_reward", 404, "reward_not_found"),
    ],
)
def test_every_refusal_has_its_status_and_code_and_changes_nothing(
    admin_api_client, funded, setup, status, code
):
    reward = RewardFactory(code="r1", points_cost=100)
    if setup == "suspended":
        Member.objects.filter(pk=funded.pk).update(status=Member.Status.SUSPENDED)
    elif setup == "inactive_reward":
        Reward.objects.filter(pk=reward.pk).update(active=False)
    elif setup == "no_stock":
        Reward.objects.filter(pk=reward.pk).update(stock=0)
    elif setup == "limit":
        Reward.objects.filter(pk=reward.pk).update(limit_per_member=0)
    elif setup == "expensive":
        Reward.objects.filter(pk=reward.pk).update(points_cost=5000)
    elif setup == "hidden":
        Reward.objects.filter(pk=reward.pk).update(visibility=Reward.Visibility.HIDDEN)
    elif setup == "unknown_reward":
        reward.code = "nope"

    response = redeem(admin_api_client, funded, reward)

    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert not Redemption.objects.exists()


def test_bad_input_is_a_400_with_field_errors(admin_api_client, funded):
    response = admin_api_client.post(f"{BASE}redemptions/", {"reward": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "reward" in response.json()["extra"]["fields"]
    response = admin_api_client.post(
        f"{BASE}points-payments/",
        {"member_id": funded.pk, "order_ref": "R", "points": 100, "amount": "1.00"},
        format="json",
    )
    assert response.status_code == 400


def test_catalogue_puts_what_the_member_can_redeem_first_then_the_closest(admin_api_client, funded):
    RewardFactory(code="far", points_cost=5000)
    RewardFactory(code="near", points_cost=1200)
    RewardFactory(code="cheap", points_cost=100)
    RewardFactory(code="best", points_cost=900)
    RewardFactory(code="secret", points_cost=1, visibility=Reward.Visibility.HIDDEN)
    RewardFactory(code="gone", points_cost=10, stock=0)

    response = admin_api_client.get(f"{BASE}members/{funded.pk}/catalogue/")

    assert response.status_code == 200
    items = response.json()
    assert [i["reward"]["code"] for i in items] == ["best", "cheap", "near", "far", "gone"]
    near = items[2]
    assert near["can_redeem"] is False and near["points_short"] == 200
    assert near["reason_code"] == "insufficient_points"
    assert items[-1]["reason_code"] == "reward_out_of_stock"


def test_catalogue_of_an_unknown_member_is_a_404(admin_api_client, programme):
    assert admin_api_client.get(f"{BASE}members/999999/catalogue/").status_code == 404


def test_check_consume_and_undo_a_voucher(admin_api_client, funded):
    reward = RewardFactory(kind=Reward.Kind.AMOUNT_OFF, amount_off=Decimal("5.00"))
    code = redeem(admin_api_client, funded, reward).json()["redemption"]["voucher"]["code"]

    check = admin_api_client.get(f"{BASE}vouchers/{code.lower()}/")
    assert check.status_code == 200
    assert check.json()["valid"] is True
    assert check.json()["member_number"] == funded.member_number
    assert check.json()["benefit"] == "5.00 off"

    used = admin_api_client.post(
        f"{BASE}vouchers/{code}/consume/", {"order_ref": "WEB-1"}, format="json"
    )
    assert used.status_code == 200 and used.json()["status"] == "used"
    replay = admin_api_client.post(
        f"{BASE}vouchers/{code}/consume/", {"order_ref": "WEB-1"}, format="json"
    )
    assert replay.status_code == 200
    other = admin_api_client.post(
        f"{BASE}vouchers/{code}/consume/", {"order_ref": "WEB-2"}, format="json"
    )
    assert other.status_code == 409
    assert other.json()["code"] == "voucher_used_for_other_order"

    undone = admin_api_client.post(
        f"{BASE}vouchers/{code}/undo/", {"order_ref": "WEB-1", "reason": "refund"}, format="json"
    )
    assert undone.status_code == 200 and undone.json()["status"] == "issued"


def test_unknown_and_malformed_codes_are_404_with_a_clear_message(admin_api_client, programme):
    for code in ("ABCD-EFGH-JKLM", "not a code", "x" * 300):
        response = admin_api_client.get(f"{BASE}vouchers/{code}/")
        assert response.status_code == 404
        assert response.json()["code"] == "voucher_not_found"
        assert "Check the code" in response.json()["message"]


def test_cancel_gives_the_points_back(admin_api_client, funded):
    body = redeem(admin_api_client, funded, RewardFactory(points_cost=400)).json()
    redemption_id = body["redemption"]["id"]

    response = admin_api_client.post(
        f"{BASE}redemptions/{redemption_id}/cancel/", {"reason": "wrong reward"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["redemption"]["status"] == "cancelled"
    assert response.json()["redemption"]["voucher"]["status"] == "cancelled"
    assert response.json()["balance"]["available"] == 1000
    missing = admin_api_client.post(
        f"{BASE}redemptions/99999/cancel/", {"reason": "x"}, format="json"
    )
    assert missing.status_code == 404 and missing.json()["code"] == "redemption_not_found"


def test_points_payment_by_amount(admin_api_client, funded):
    response = admin_api_client.post(
        f"{BASE}points-payments/",
        {"member_number": funded.member_number, "order_ref": "TILL-1", "amount": "3.00"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["redemption"]["points"] == 300
    assert body["redemption"]["value"] == "3.00"
    assert body["redemption"]["voucher"]["status"] == "used"
    assert body["balance"]["available"] == 700


def test_member_vouchers_are_paged_and_filtered(admin_api_client, funded):
    reward = RewardFactory(points_cost=10)
    for _ in range(3):
        redeem(admin_api_client, funded, reward)
    Voucher.objects.filter(pk=Voucher.objects.first().pk).update(
        expires_at=timezone.now() - timedelta(days=1), status=Voucher.Status.EXPIRED
    )
    other = MemberFactory()
    points_earn(member=other, points=100, idempotency_key="o")
    redeem(admin_api_client, other, reward)

    everything = admin_api_client.get(f"{BASE}members/{funded.pk}/vouchers/").json()
    issued = admin_api_client.get(f"{BASE}members/{funded.pk}/vouchers/?status=issued").json()

    assert everything["count"] == 3 and issued["count"] == 2
    bad = admin_api_client.get(f"{BASE}members/{funded.pk}/vouchers/?status=nonsense")
    assert bad.status_code == 400


def test_the_public_catalogue_lists_live_rewards_featured_first(admin_api_client, programme):
    RewardFactory(code="live", points_cost=10)
    RewardFactory(code="star", points_cost=500, visibility=Reward.Visibility.FEATURED)
    RewardFactory(code="off", active=False)
    RewardFactory(code="hidden", visibility=Reward.Visibility.HIDDEN)
    codes = [r["code"] for r in admin_api_client.get(BASE).json()["results"]]
    assert codes == ["star", "live"]


def test_catalogue_query_count_does_not_grow_with_the_catalogue(
    admin_api_client, funded, django_assert_max_num_queries
):
    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert admin_api_client.get(f"{BASE}members/{funded.pk}/catalogue/").status_code == 200
        return len(ctx.captured_queries)

    RewardFactory(limit_per_period=1, limit_period=Reward.LimitPeriod.MONTH)
    few = count_queries()
    for n in range(20):
        RewardFactory(points_cost=10 * (n + 1), kind=Reward.Kind.PARTNER_CODE if n % 2 else "gift")
    assert count_queries() == few
    with django_assert_max_num_queries(15):
        admin_api_client.get(f"{BASE}members/{funded.pk}/catalogue/")


def test_an_overlong_idempotency_key_is_refused_not_truncated(admin_api_client, funded):
    response = redeem(admin_api_client, funded, RewardFactory(), HTTP_IDEMPOTENCY_KEY="k" * 65)
    assert response.status_code == 400
    assert not Redemption.objects.exists()


def test_an_unknown_store_is_refused_and_nothing_is_redeemed(admin_api_client, funded):
    response = admin_api_client.post(
        f"{BASE}redemptions/",
        {"member_id": funded.pk, "reward": RewardFactory().code, "store": "NOPE"},
        format="json",
    )
    assert response.status_code == 422
    assert "store" in response.json()["extra"]["fields"]
    assert not Redemption.objects.exists()
