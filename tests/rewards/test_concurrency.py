"""Races on PostgreSQL: stock never oversold, points never double-spent, a voucher used once."""

import pytest

from loyalty.ledger.exceptions import InsufficientPoints
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import ledger_reconcile, points_earn
from rewards.exceptions import RewardLimitReached, RewardOutOfStock, VoucherUsedForOtherOrder
from rewards.models import Redemption, Reward, RewardCode, Voucher
from rewards.services import redemption_cancel, redemption_create, voucher_consume
from tests.concurrency import run_threads
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardCodeFactory, RewardFactory, RewardsSettingsFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup_programme():
    ProgrammeSettingsFactory()
    RewardsSettingsFactory()


def _funded(points: int):
    member = MemberFactory()
    points_earn(member=member, points=points, idempotency_key="seed")
    return member


def test_fifty_concurrent_redemptions_of_ten_in_stock_issue_exactly_ten(setup_programme):
    reward = RewardFactory(points_cost=100, stock=10)
    members = [_funded(100) for _ in range(50)]

    outcomes = run_threads(50, lambda i: redemption_create(member=members[i], reward=reward).pk)

    oks = [value for kind, value in outcomes if kind == "ok"]
    errors = [value for kind, value in outcomes if kind == "error"]
    assert len(oks) == 10
    assert len(errors) == 40 and all(isinstance(e, RewardOutOfStock) for e in errors), errors
    assert Voucher.objects.count() == 10 == Redemption.objects.count()
    assert Reward.objects.get(pk=reward.pk).stock == 0
    spent = [m for m in members if account_balance(member=m).available == 0]
    assert len(spent) == 10  # exactly the winners paid; the losers kept their points
    assert ledger_reconcile() == []


def test_fifty_concurrent_redemptions_of_a_ten_code_partner_pool_hand_out_each_code_once(
    setup_programme,
):
    reward = RewardFactory(kind=Reward.Kind.PARTNER_CODE, points_cost=10)
    for n in range(10):
        RewardCodeFactory(reward=reward, code=f"P-{n}")
    members = [_funded(10) for _ in range(50)]

    outcomes = run_threads(50, lambda i: redemption_create(member=members[i], reward=reward).pk)

    assert sum(kind == "ok" for kind, _ in outcomes) == 10
    assert RewardCode.objects.filter(voucher__isnull=True).count() == 0
    partner_codes = list(Voucher.objects.values_list("partner_code", flat=True))
    assert sorted(partner_codes) == sorted(f"P-{n}" for n in range(10))


def test_two_concurrent_redemptions_beyond_the_balance_give_one_voucher_and_one_409(
    setup_programme,
):
    member = _funded(150)
    rewards = [RewardFactory(points_cost=100), RewardFactory(points_cost=100)]

    outcomes = run_threads(2, lambda i: redemption_create(member=member, reward=rewards[i]).pk)

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"]
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, InsufficientPoints) and error.http_status == 409
    assert Voucher.objects.count() == 1
    assert account_balance(member=member).available == 50
    assert ledger_reconcile() == []


def test_a_voucher_consumed_from_two_tills_at_once_is_consumed_once(setup_programme):
    member = _funded(100)
    code = redemption_create(member=member, reward=RewardFactory()).voucher.code

    outcomes = run_threads(2, lambda i: voucher_consume(code=code, order_ref=f"TILL-{i}").order_ref)

    oks = [value for kind, value in outcomes if kind == "ok"]
    errors = [value for kind, value in outcomes if kind == "error"]
    assert len(oks) == 1 and len(errors) == 1
    assert isinstance(errors[0], VoucherUsedForOtherOrder)
    assert Voucher.objects.get(code=code).order_ref == oks[0]


def test_cancel_racing_consume_never_gives_points_back_for_a_used_voucher(setup_programme):
    member = _funded(100)
    redemption = redemption_create(member=member, reward=RewardFactory(points_cost=100))
    code = redemption.voucher.code

    def work(i):
        if i == 0:
            return voucher_consume(code=code, order_ref="ORDER").status
        return redemption_cancel(redemption=redemption, reason="race").status

    run_threads(2, work)

    voucher = Voucher.objects.get(code=code)
    available = account_balance(member=member).available
    # exactly one of the two won: used and no refund, or cancelled and refunded
    assert (voucher.status, available) in {("used", 0), ("cancelled", 100)}
    assert ledger_reconcile() == []


# --- #16.15: N at once -----------------------------------------------------------------------


def test_concurrent_requests_for_three_each_never_oversell_or_split(setup_programme):
    """Stock 10, eight members each asking for 3 at once: three requests win (9 units), every
    winner has 3 vouchers and paid for 3, every loser has none and kept every point."""
    reward = RewardFactory(points_cost=100, stock=10)
    members = [_funded(300) for _ in range(8)]

    outcomes = run_threads(
        8, lambda i: redemption_create(member=members[i], reward=reward, quantity=3).pk
    )

    oks = [value for kind, value in outcomes if kind == "ok"]
    errors = [value for kind, value in outcomes if kind == "error"]
    assert len(oks) == 3, outcomes
    assert all(isinstance(e, RewardOutOfStock) for e in errors), errors
    assert Reward.objects.get(pk=reward.pk).stock == 1
    assert Voucher.objects.count() == 9 == Redemption.objects.count()
    for member in members:
        vouchers = Voucher.objects.filter(member=member).count()
        assert (vouchers, account_balance(member=member).available) in {(3, 0), (0, 300)}
    assert ledger_reconcile() == []


def test_two_concurrent_requests_of_one_member_for_n_beyond_the_balance(setup_programme):
    member = _funded(500)
    reward = RewardFactory(points_cost=100)

    outcomes = run_threads(
        2, lambda i: redemption_create(member=member, reward=reward, quantity=3).pk
    )

    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, InsufficientPoints)
    assert Voucher.objects.count() == 3
    assert account_balance(member=member).available == 200
    assert ledger_reconcile() == []


def test_two_concurrent_requests_cannot_pass_a_per_member_limit_together(setup_programme):
    member = _funded(1000)
    reward = RewardFactory(points_cost=10, limit_per_member=3)

    outcomes = run_threads(
        2, lambda i: redemption_create(member=member, reward=reward, quantity=2).pk
    )

    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, RewardLimitReached)
    assert Redemption.objects.filter(member=member).count() == 2
