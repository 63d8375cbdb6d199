"""Prize wheel services: paying, drawing by weight, stock, free spins, idempotency."""

import random

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from campaigns.games.exceptions import NoSpinLeft, SpinConflict, WheelNotActive, WheelSoldOut
from campaigns.games.models import WheelPrize, WheelSpin
from campaigns.games.selectors import wheel_odds
from campaigns.games.services import wheel_spin, wheel_spins_grant
from loyalty.ledger.exceptions import InsufficientPoints
from loyalty.ledger.models import LedgerEntry, PointsAccount
from tests.factories.games import PrizeWheelFactory, WheelPrizeFactory, WheelSpinGrantFactory
from tests.factories.members import MemberFactory
from tests.games.conftest import funded_member

pytestmark = pytest.mark.django_db


def balance(member) -> int:
    return PointsAccount.objects.get(member=member).balance


def test_a_paid_spin_takes_the_cost_and_credits_the_prize(member):
    prize = WheelPrizeFactory(points=30, stock=3)
    spin = wheel_spin(wheel=prize.wheel, member=member, spin_id="s-1")
    assert (spin.prize, spin.points_spent, spin.points_won) == (prize, 10, 30)
    assert balance(member) == 100 - 10 + 30
    prize.refresh_from_db()
    assert prize.awarded == 1 and prize.left == 2
    kinds = set(LedgerEntry.objects.filter(source_id="s-1").values_list("source_type", "amount"))
    assert kinds == {("wheel_spin", -10), ("wheel_prize", 30)}


def test_the_same_spin_id_twice_spins_once(member):
    prize = WheelPrizeFactory(points=30)
    first = wheel_spin(wheel=prize.wheel, member=member, spin_id="again")
    second = wheel_spin(wheel=prize.wheel, member=member, spin_id="again")
    assert first.pk == second.pk
    assert WheelSpin.objects.count() == 1
    assert balance(member) == 120
    prize.refresh_from_db()
    assert prize.awarded == 1


def test_a_spin_id_of_another_member_is_refused(member, programme):
    prize = WheelPrizeFactory()
    wheel_spin(wheel=prize.wheel, member=member, spin_id="mine")
    with pytest.raises(SpinConflict):
        wheel_spin(wheel=prize.wheel, member=funded_member(), spin_id="mine")


def test_too_few_points_changes_nothing(programme):
    poor = funded_member(5)
    prize = WheelPrizeFactory(stock=1)
    with pytest.raises(InsufficientPoints):
        wheel_spin(wheel=prize.wheel, member=poor, spin_id="poor")
    prize.refresh_from_db()
    assert prize.awarded == 0 and not WheelSpin.objects.exists() and balance(poor) == 5


def test_prizes_are_drawn_by_weight_and_out_of_stock_ones_drop_out(member):
    wheel = PrizeWheelFactory(spin_cost=1)
    big = WheelPrizeFactory(wheel=wheel, weight=1, stock=1, points=1)
    small = WheelPrizeFactory(wheel=wheel, weight=3, kind=WheelPrize.Kind.NOTHING, points=0)
    odds = {o.prize.pk: str(o.chance_percent) for o in wheel_odds(wheel=wheel)}
    assert odds == {big.pk: "25.00", small.pk: "75.00"}
    rng = random.Random(7)
    won = [
        wheel_spin(wheel=wheel, member=member, spin_id=f"w{i}", rng=rng).prize for i in range(20)
    ]
    assert won.count(big) == 1  # stock 1: never again once gone
    odds = {o.prize.pk: str(o.chance_percent) for o in wheel_odds(wheel=wheel)}
    assert odds == {big.pk: "0.00", small.pk: "100.00"}


def test_a_sold_out_or_closed_wheel_refuses_and_charges_nothing(member):
    prize = WheelPrizeFactory(stock=1)
    wheel_spin(wheel=prize.wheel, member=member, spin_id="last")
    with pytest.raises(WheelSoldOut):
        wheel_spin(wheel=prize.wheel, member=member, spin_id="none-left")
    closed = WheelPrizeFactory(wheel=PrizeWheelFactory(is_active=False))
    with pytest.raises(WheelNotActive):
        wheel_spin(wheel=closed.wheel, member=member, spin_id="closed")
    assert balance(member) == 100 - 10 + 50


def test_free_spins_are_used_before_points_and_only_once(member):
    wheel = PrizeWheelFactory(spin_cost=0)
    WheelPrizeFactory(wheel=wheel, points=5)
    with pytest.raises(NoSpinLeft):
        wheel_spin(wheel=wheel, member=member, spin_id="no-grant")
    grant = wheel_spins_grant(
        wheel=wheel, member=member, spins=1, reason="Launch", idempotency_key="c1:m"
    )
    again = wheel_spins_grant(
        wheel=wheel, member=member, spins=1, reason="Launch", idempotency_key="c1:m"
    )
    assert again.pk == grant.pk
    spin = wheel_spin(wheel=wheel, member=member, spin_id="free")
    assert spin.grant == grant and spin.points_spent == 0
    with pytest.raises(NoSpinLeft):
        wheel_spin(wheel=wheel, member=member, spin_id="free-2")
    grant.refresh_from_db()
    assert grant.used == 1
    assert balance(member) == 105


def test_an_empty_spin_id_is_a_field_error(member):
    prize = WheelPrizeFactory()
    with pytest.raises(ValidationError) as err:
        wheel_spin(wheel=prize.wheel, member=member, spin_id="  ")
    assert "spin_id" in err.value.message_dict


def test_constraints_refuse_awarded_over_stock_and_bad_kinds(db):
    prize = WheelPrizeFactory(stock=1, awarded=0)
    prize.awarded = 2
    with pytest.raises(ValidationError):
        prize.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        WheelPrize.objects.filter(pk=prize.pk).update(awarded=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        WheelPrizeFactory(kind="jackpot")
    with pytest.raises(ValidationError):
        WheelPrizeFactory.build(wheel=prize.wheel, points=0).full_clean()
    grant = WheelSpinGrantFactory(member=MemberFactory(), spins=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(grant).objects.filter(pk=grant.pk).update(used=2)
