"""Races on PostgreSQL: a prize never goes out more often than its stock; a spin id counts once."""

import pytest
from django.db.models import Sum

from campaigns.games.models import WheelPrize, WheelSpin
from campaigns.games.services import wheel_spin
from loyalty.ledger.models import LedgerEntry
from tests.concurrency import run_threads
from tests.factories.games import PrizeWheelFactory, WheelPrizeFactory
from tests.games.conftest import funded_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_fifty_racing_spins_award_a_stock_of_five_exactly_five_times(programme):
    wheel = PrizeWheelFactory(spin_cost=10)
    prize = WheelPrizeFactory(wheel=wheel, points=100, stock=5, weight=1)
    members = [funded_member(10) for _ in range(50)]

    outcomes = run_threads(
        50, lambda i: wheel_spin(wheel=wheel, member=members[i], spin_id=f"race-{i}").pk
    )

    errors = [value for kind, value in outcomes if kind == "error"]
    assert len(errors) == 45, outcomes
    assert {type(error).__name__ for error in errors} == {"WheelSoldOut"}
    prize.refresh_from_db()
    assert prize.awarded == 5
    assert WheelSpin.objects.filter(prize=prize).count() == 5
    won = LedgerEntry.objects.filter(source_type="wheel_prize").aggregate(total=Sum("amount"))
    spent = LedgerEntry.objects.filter(source_type="wheel_spin").aggregate(total=Sum("amount"))
    assert (won["total"], spent["total"]) == (500, -50)  # the 45 refused paid nothing


def test_the_same_spin_id_from_many_threads_spins_once(programme):
    member = funded_member(100)
    prize = WheelPrizeFactory(wheel=PrizeWheelFactory(spin_cost=10), points=1)

    outcomes = run_threads(
        8, lambda i: wheel_spin(wheel=prize.wheel, member=member, spin_id="one").pk
    )

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert len({value for _, value in outcomes}) == 1
    assert WheelPrize.objects.get(pk=prize.pk).awarded == 1
    assert LedgerEntry.objects.filter(source_type="wheel_spin").count() == 1
