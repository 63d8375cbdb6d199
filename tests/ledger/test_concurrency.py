"""Races on PostgreSQL: row locks keep balances exact and effects single."""

from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.ledger.exceptions import InsufficientPoints
from loyalty.ledger.models import LedgerEntry, PointsAccount, PointsLot, Transaction
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import (
    ledger_reconcile,
    points_earn,
    points_expire_due,
    points_redeem,
    purchase_record,
)
from tests.concurrency import run_threads
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_threads_redeeming_and_earning_keep_the_ledger_exact():
    ProgrammeSettingsFactory()
    member = MemberFactory()
    points_earn(member=member, points=100, idempotency_key="seed")

    def work(index):
        if index % 2:
            return points_earn(member=member, points=3, idempotency_key=f"earn-{index}").amount
        return points_redeem(
            member=member,
            points=15,
            source_type="t",
            source_id=str(index),
            idempotency_key=f"r-{index}",
        ).amount

    outcomes = run_threads(20, work)

    errors = [value for kind, value in outcomes if kind == "error"]
    assert all(isinstance(e, InsufficientPoints) for e in errors), errors
    account = PointsAccount.objects.get(member=member)
    total = sum(LedgerEntry.objects.filter(account=account).values_list("amount", flat=True))
    assert account.balance == total >= 0
    assert account_balance(member=member).available >= 0
    assert not PointsLot.objects.filter(remaining__lt=0).exists()
    assert ledger_reconcile() == []
    redeemed = LedgerEntry.objects.filter(account=account, kind="redeem").count()
    assert redeemed == 10 - len(errors)


def test_two_redemptions_racing_for_the_last_points_one_fails_cleanly():
    ProgrammeSettingsFactory()
    member = MemberFactory()
    points_earn(member=member, points=50, idempotency_key="seed")

    outcomes = run_threads(
        2,
        lambda i: points_redeem(
            member=member, points=40, source_type="t", source_id=str(i), idempotency_key=f"r{i}"
        ),
    )

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"]
    assert isinstance(next(v for k, v in outcomes if k == "error"), InsufficientPoints)
    assert PointsAccount.objects.get(member=member).balance == 10


def test_the_same_purchase_posted_ten_times_at_once_earns_once():
    ProgrammeSettingsFactory()
    member = MemberFactory()
    when = timezone.now()

    outcomes = run_threads(
        10,
        lambda i: (
            purchase_record(
                member=member,
                channel="web",
                external_id="ORDER-1",
                occurred_at=when,
                amount=Decimal("42.00"),
            ).created
        ),
    )

    assert [kind for kind, _ in outcomes] == ["ok"] * 10
    assert sorted(value for _, value in outcomes) == [False] * 9 + [True]
    assert Transaction.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="earn").count() == 1
    assert PointsAccount.objects.get(member=member).balance == 42


def test_the_same_anonymous_purchase_posted_at_once_is_recorded_once():
    ProgrammeSettingsFactory()
    when = timezone.now()

    outcomes = run_threads(
        6,
        lambda i: (
            purchase_record(
                member=None,
                channel="store",
                external_id="TILL-9",
                occurred_at=when,
                amount=Decimal("5"),
            ).created
        ),
    )

    assert [kind for kind, _ in outcomes] == ["ok"] * 6
    assert Transaction.objects.count() == 1


def test_expiry_run_twice_at_once_expires_each_lot_once():
    from datetime import UTC, datetime

    ProgrammeSettingsFactory()
    members = MemberFactory.create_batch(5)
    for m in members:
        points_earn(
            member=m, points=10, idempotency_key="a", occurred_at=datetime(2025, 1, 10, tzinfo=UTC)
        )

    outcomes = run_threads(
        2, lambda i: points_expire_due(as_of=datetime(2026, 2, 1, tzinfo=UTC), batch=2)
    )

    assert [kind for kind, _ in outcomes] == ["ok", "ok"]
    assert sum(value for _, value in outcomes) == 50  # however the two runs shared the batches
    assert LedgerEntry.objects.filter(kind="expire").count() == 5
    assert ledger_reconcile() == []


def test_ten_partial_returns_at_once_never_reverse_more_than_the_purchase_earned():
    from loyalty.ledger.exceptions import ReturnExceedsPurchase
    from loyalty.ledger.services import return_record

    ProgrammeSettingsFactory()
    member = MemberFactory()
    purchase = purchase_record(
        member=member,
        channel="store",
        external_id="BIG",
        occurred_at=timezone.now(),
        amount=Decimal("100.00"),
    ).transaction

    outcomes = run_threads(
        10,
        lambda i: (
            return_record(
                channel="store",
                external_id=f"RET-{i}",
                occurred_at=timezone.now(),
                amount=Decimal("25.00"),
                original=purchase,
            ).points_reversed
        ),
    )

    done = [value for kind, value in outcomes if kind == "ok"]
    errors = [value for kind, value in outcomes if kind == "error"]
    assert done == [25, 25, 25, 25]
    assert len(errors) == 6 and all(isinstance(e, ReturnExceedsPurchase) for e in errors)
    assert PointsAccount.objects.get(member=member).balance == 0
    assert ledger_reconcile() == []


def test_expiry_racing_redemptions_never_spends_or_expires_a_point_twice():
    from datetime import timedelta

    ProgrammeSettingsFactory()
    member = MemberFactory()
    now = timezone.now()
    points_earn(member=member, points=30, idempotency_key="stale", occurred_at=now - timedelta(500))
    points_earn(member=member, points=30, idempotency_key="fresh")

    def work(index):
        if index < 2:
            return points_expire_due(as_of=now)
        return points_redeem(
            member=member,
            points=10,
            source_type="t",
            source_id=str(index),
            idempotency_key=f"r{index}",
        ).amount

    outcomes = run_threads(5, work)

    # the 30 stale points are expired once and never spent; the 30 fresh ones are spent
    assert [kind for kind, _ in outcomes] == ["ok"] * 5, outcomes
    assert sorted(value for _, value in outcomes[:2]) == [0, 30]
    assert PointsAccount.objects.get(member=member).balance == 0
    assert LedgerEntry.objects.filter(kind="expire").count() == 1
    assert ledger_reconcile() == []
