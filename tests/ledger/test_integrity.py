"""Constraints, append-only guards and reconciliation."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from loyalty.ledger.models import LedgerEntry, PointsAccount, PointsLot, Transaction
from loyalty.ledger.services import ledger_reconcile, points_earn
from tests.factories.ledger import earn

pytestmark = pytest.mark.django_db


def entry_for(account, **overrides):
    fields = {
        "account": account,
        "kind": "earn",
        "amount": 5,
        "balance_after": 5,
        "idempotency_key": "k",
    }
    fields.update(overrides)
    return LedgerEntry(**fields)


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"amount": 0}, "ledger_entry_amount_non_zero"),
        ({"kind": "gift"}, "ledger_entry_kind_valid"),
        ({"kind": "earn", "amount": -5}, "ledger_entry_sign_matches_kind"),
        ({"kind": "redeem", "amount": 5}, "ledger_entry_sign_matches_kind"),
        ({"kind": "adjust", "amount": 5, "reason": "x"}, "ledger_entry_adjust_has_actor"),
    ],
)
def test_entry_constraints_in_full_clean_and_database(programme, member, overrides, constraint):
    account = PointsAccount.objects.create(member=member)

    with pytest.raises(ValidationError):
        entry_for(account, **overrides).full_clean()
    with (
        pytest.raises(IntegrityError, match=constraint),
        transaction.atomic(),
    ):
        entry_for(account, **overrides).save()


def test_idempotency_key_unique_per_account(programme, member):
    account = PointsAccount.objects.create(member=member)
    entry_for(account).save()

    with pytest.raises(ValidationError):
        entry_for(account).full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        entry_for(account).save()


def test_negative_debt_and_lot_overflow_refused_by_database(programme, member):
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsAccount.objects.create(member=member, debt=-1)
    entry = points_earn(member=member, points=5, idempotency_key="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsLot.objects.filter(entry=entry).update(remaining=6)


def test_transaction_external_id_unique_per_channel(programme, member):
    earn(member, "5", external_id="DUP")
    txn = Transaction.objects.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        Transaction.objects.create(
            kind="purchase",
            channel=txn.channel,
            external_id="DUP",
            occurred_at=txn.occurred_at,
            amount=txn.amount,
            currency="GBP",
        )


def test_entries_cannot_be_updated_deleted_or_saved_again(programme, member):
    entry = points_earn(member=member, points=5, idempotency_key="a")

    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=50)
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(TypeError):
        entry.delete()
    entry.reason = "tampered"
    with pytest.raises(TypeError):
        entry.save()


@pytest.mark.postgres
def test_database_trigger_refuses_raw_update_and_delete(programme, member):
    entry = points_earn(member=member, points=5, idempotency_key="a")

    for sql in (
        "UPDATE ledger_ledgerentry SET amount = 500 WHERE id = %s",
        "DELETE FROM ledger_ledgerentry WHERE id = %s",
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 5


def test_reconcile_reports_seeded_drift(programme, member):
    earn(member, "20")
    assert ledger_reconcile() == []

    with connection.cursor() as cursor:  # a bug or a hand edit changes the cached balance
        cursor.execute("UPDATE ledger_pointsaccount SET balance = balance + 7")

    (mismatch,) = ledger_reconcile()
    assert mismatch.member_id == member.pk
    assert (mismatch.cached_balance, mismatch.entries_sum, mismatch.lots_minus_debt) == (27, 20, 20)


def test_reconcile_command_exit_code(programme, member):
    from django.core.management import call_command

    earn(member, "20")
    call_command("reconcile_ledger")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_pointslot SET remaining = remaining - 1")
    with pytest.raises(SystemExit) as excinfo:
        call_command("reconcile_ledger")
    assert excinfo.value.code == 1


def test_reconcile_walks_accounts_in_chunks_and_finds_each_drift(programme):
    from tests.factories.members import MemberFactory

    members = MemberFactory.create_batch(7)
    for m in members:
        earn(m, "10")
    drifted = [members[1], members[5]]
    with connection.cursor() as cursor:  # one cached balance, one lot: two kinds of drift
        cursor.execute(
            "UPDATE ledger_pointsaccount SET balance = balance - 1 WHERE member_id = %s",
            [drifted[0].pk],
        )
        cursor.execute(
            "UPDATE ledger_pointslot SET remaining = remaining - 2 WHERE account_id IN "
            "(SELECT id FROM ledger_pointsaccount WHERE member_id = %s)",
            [drifted[1].pk],
        )

    mismatches = ledger_reconcile(chunk=3)

    assert [(m.member_id, m.cached_balance, m.lots_minus_debt) for m in mismatches] == [
        (drifted[0].pk, 9, 10),
        (drifted[1].pk, 10, 8),
    ]
