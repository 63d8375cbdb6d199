"""Gift vouchers (rewards.services.voucher_gift, used by birthday and win-back campaigns): no
points charged, stock and partner codes taken, one voucher per gift key, refused cleanly."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.ledger.models import LedgerEntry
from members.exceptions import MemberNotActive
from rewards.exceptions import IdempotencyConflict, RewardNotAvailable, RewardOutOfStock
from rewards.models import Reward, Voucher
from rewards.selectors import voucher_check
from rewards.services import voucher_consume, voucher_gift, voucher_void
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardCodeFactory, RewardFactory

pytestmark = pytest.mark.django_db


def test_a_gift_costs_no_points_takes_stock_and_is_given_once(member):
    reward = RewardFactory(name="Free coffee", stock=2, visibility=Reward.Visibility.HIDDEN)
    voucher, created = voucher_gift(member=member, reward=reward, gift_key="campaign:1:b:2027:1")
    again, created_again = voucher_gift(
        member=member, reward=reward, gift_key="campaign:1:b:2027:1"
    )
    assert created and not created_again and again == voucher
    reward.refresh_from_db()
    assert reward.stock == 1
    assert not LedgerEntry.objects.filter(account__member=member).exists()
    check = voucher_check(code=voucher.code)
    assert check.valid and check.points == 0 and check.reward_name == "Free coffee"
    assert voucher.member_bound and voucher.expires_at > timezone.now() + timedelta(days=29)
    used = voucher_consume(code=voucher.code, order_ref="O-1", member=member)
    assert used.status == Voucher.Status.USED


def test_the_same_key_for_another_member_is_a_conflict(member):
    reward = RewardFactory()
    voucher_gift(member=member, reward=reward, gift_key="k1")
    with pytest.raises(IdempotencyConflict):
        voucher_gift(member=MemberFactory(), reward=reward, gift_key="k1")


def test_refusals_change_nothing(member):
    empty = RewardFactory(stock=0)
    with pytest.raises(RewardOutOfStock):
        voucher_gift(member=member, reward=empty, gift_key="k-empty")
    retired = RewardFactory(active=False)
    with pytest.raises(RewardNotAvailable):
        voucher_gift(member=member, reward=retired, gift_key="k-retired")
    suspended = MemberFactory(status="suspended")
    with pytest.raises(MemberNotActive):
        voucher_gift(member=suspended, reward=RewardFactory(), gift_key="k-suspended")
    assert not Voucher.objects.exists()


def test_partner_code_and_void_gives_the_stock_back(member):
    code = RewardCodeFactory(reward__stock=5)
    voucher, _ = voucher_gift(member=member, reward=code.reward, gift_key="k-partner")
    code.refresh_from_db()
    assert code.voucher == voucher and voucher.partner_code == code.code
    voucher_void(voucher=voucher, reason="given by mistake")
    code.reward.refresh_from_db()
    assert code.reward.stock == 5
