"""Member merge, the rewards hook: live vouchers move, history stays on the duplicate."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.ledger.services import points_earn
from members.exceptions import InvalidStatusChange
from members.models import MemberEvent
from members.services import member_merge
from rewards.merge import voucher_member_merge
from rewards.models import Redemption, Voucher
from rewards.services import voucher_consume
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory, redeemed


def _voucher(member, reward, key):
    return Voucher.objects.get(
        redemption=redeemed(member=member, reward=reward, idempotency_key=key)
    )


@pytest.mark.django_db
def test_merge_moves_live_vouchers_and_keeps_history(funded):
    duplicate, survivor = funded, MemberFactory()
    reward = RewardFactory(points_cost=100)
    live = _voucher(duplicate, reward, "r1")
    used = _voucher(duplicate, reward, "r2")
    Voucher.objects.filter(pk=used.pk).update(
        status=Voucher.Status.USED, used_at=timezone.now(), order_ref="ORD-1"
    )
    expired = _voucher(duplicate, reward, "r3")
    Voucher.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))

    member_merge(source=duplicate, target=survivor)

    live.refresh_from_db()
    used.refresh_from_db()
    expired.refresh_from_db()
    assert live.member_id == survivor.pk
    assert (live.status, live.code) == (Voucher.Status.ISSUED, live.code)
    assert used.member_id == duplicate.pk  # a used voucher is history
    assert expired.member_id == duplicate.pk  # past its date: history (the nightly job expires it)
    # redemptions are facts of the past: they stay the duplicate's
    assert Redemption.objects.filter(member=duplicate).count() == 3
    assert not Redemption.objects.filter(member=survivor).exists()
    event = MemberEvent.objects.get(member=survivor, kind=MemberEvent.Kind.MERGED)
    assert event.detail["moved"]["vouchers"] == [live.pk]


@pytest.mark.django_db
def test_merging_twice_changes_nothing(funded):
    duplicate, survivor = funded, MemberFactory()
    live = _voucher(duplicate, RewardFactory(points_cost=100), "r1")
    member_merge(source=duplicate, target=survivor)
    with pytest.raises(InvalidStatusChange):
        member_merge(source=duplicate, target=survivor)
    assert voucher_member_merge(source=duplicate, target=survivor) == {}
    live.refresh_from_db()
    assert live.member_id == survivor.pk
    assert Voucher.objects.filter(member=survivor).count() == 1


@pytest.mark.django_db
def test_member_bound_voucher_moves_and_the_survivor_can_use_it(programme, rules):
    duplicate, survivor = MemberFactory(), MemberFactory()
    points_earn(member=duplicate, points=500, idempotency_key="seed")
    reward = RewardFactory(points_cost=100, vouchers_member_bound=True)
    voucher = _voucher(duplicate, reward, "bound")
    assert voucher.member_bound

    member_merge(source=duplicate, target=survivor)

    voucher.refresh_from_db()
    assert (voucher.member_id, voucher.member_bound) == (survivor.pk, True)
    used = voucher_consume(code=voucher.code, order_ref="ORD-9", member=survivor)
    assert used.status == Voucher.Status.USED
