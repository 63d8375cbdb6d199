"""Faults injected on PostgreSQL: a connection killed in the middle of a redemption."""

import threading
import time

import pytest
from django.db import OperationalError, connection, connections

from loyalty.ledger.models import LedgerEntry, PointsAccount
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import ledger_reconcile, points_earn
from rewards.models import Redemption, Reward, Voucher
from rewards.services import redemption_create
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory, RewardsSettingsFactory
from tests.hardening.conftest import FIGURES

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# The voucher is the last row a redemption writes: by then its redemption row, its ledger entry,
# the lot allocations, the account balance and the stock unit are all written (uncommitted).
SLOW_VOUCHER_INSERT = """
CREATE OR REPLACE FUNCTION test_slow_voucher() RETURNS trigger AS $$
BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER test_slow_voucher BEFORE INSERT ON rewards_voucher
FOR EACH ROW EXECUTE FUNCTION test_slow_voucher();
"""
DROP_SLOW_VOUCHER_INSERT = """
DROP TRIGGER IF EXISTS test_slow_voucher ON rewards_voucher;
DROP FUNCTION IF EXISTS test_slow_voucher();
"""


def _backend_inserting_a_voucher(timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE 'INSERT INTO \"rewards_voucher\"%%' AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
            if row:
                return row[0]
            time.sleep(0.05)
    raise AssertionError("the redemption never reached its voucher insert")


def test_a_connection_dropped_mid_redemption_leaves_nothing_half_written():
    ProgrammeSettingsFactory()
    RewardsSettingsFactory()
    member = MemberFactory()
    points_earn(member=member, points=500, idempotency_key="seed")
    reward = RewardFactory(points_cost=200, stock=3)
    entries_before = LedgerEntry.objects.count()
    outcome: dict = {}

    def redeem() -> None:
        try:
            redemption_create(member=member, reward=reward, idempotency_key="till-1")
            outcome["result"] = "committed"
        except Exception as exc:  # asserted below: the dropped connection surfaces as an error
            outcome["result"] = exc
        finally:
            connections.close_all()

    with connection.cursor() as cursor:
        cursor.execute(SLOW_VOUCHER_INSERT)
    try:
        worker = threading.Thread(target=redeem)
        worker.start()
        victim = _backend_inserting_a_voucher()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [victim])
        worker.join(timeout=30)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(DROP_SLOW_VOUCHER_INSERT)

    assert isinstance(outcome.get("result"), OperationalError), outcome
    assert not Redemption.objects.exists()
    assert not Voucher.objects.exists()
    assert LedgerEntry.objects.count() == entries_before
    assert Reward.objects.get(pk=reward.pk).stock == 3
    assert PointsAccount.objects.get(member=member).balance == 500
    assert account_balance(member=member).available == 500
    assert ledger_reconcile() == []
    FIGURES["faults injected (connection killed mid-redemption)"] += 1

    # the till retries with the same key once the connection is back: one redemption, once
    again = redemption_create(member=member, reward=reward, idempotency_key="till-1")
    assert again.voucher.status == Voucher.Status.ISSUED
    assert account_balance(member=member).available == 300
    assert Redemption.objects.count() == 1
