"""Every database constraint of the ledger, hit through full_clean() and through a raw save()."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from loyalty.ledger.models import (
    EarningRule,
    LedgerEntry,
    LotAllocation,
    NotificationOutbox,
    PointsAccount,
    PointsLot,
    ProgrammeSettings,
    Transaction,
    TransactionLine,
)
from loyalty.ledger.services import ledger_entry_reverse, points_earn, points_redeem
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def world(programme, member, staff_user):
    credit = points_earn(member=member, points=10, idempotency_key="credit")
    debit = points_redeem(
        member=member, points=4, source_type="t", source_id="1", idempotency_key="debit"
    )
    return {
        "member": member,
        "account": credit.account,
        "credit": credit,
        "debit": debit,
        "lot": PointsLot.objects.get(entry=credit),
        "user": staff_user,
        "purchase": Transaction.objects.create(
            kind="purchase",
            channel="store",
            external_id="P1",
            occurred_at=NOW,
            amount=Decimal("10"),
            currency="GBP",
        ),
    }


def txn(w, **kw):
    fields = {
        "kind": "purchase",
        "channel": "store",
        "external_id": "X1",
        "occurred_at": NOW,
        "amount": Decimal("10"),
        "currency": "GBP",
    }
    return Transaction(**(fields | kw))


def entry(w, **kw):
    fields = {
        "account": w["account"],
        "kind": "earn",
        "amount": 5,
        "balance_after": 11,
        "idempotency_key": "new",
    }
    return LedgerEntry(**(fields | kw))


def lot(w, **kw):
    fields = {
        "account": w["account"],
        "entry": entry(w),
        "amount": 5,
        "remaining": 5,
        "available_from": NOW,
        "expires_at": NOW + timedelta(days=1),
    }
    return PointsLot(**(fields | kw))


def rule(w, **kw):
    return EarningRule(**({"name": "r", "kind": "multiplier", "multiplier": Decimal("2")} | kw))


def programme(w, **kw):
    current = ProgrammeSettings.objects.get(pk=1)
    ProgrammeSettings.objects.filter(pk=1).delete()
    current.pk = 1
    for name, value in kw.items():
        setattr(current, name, value)
    return current


CASES = [
    (
        "ledger_account_debt_non_negative",
        lambda w: PointsAccount(member=MemberFactory(), balance=5, debt=-1),
    ),
    (
        "ledger_account_balance_covers_debt",
        lambda w: PointsAccount(member=MemberFactory(), balance=-5, debt=2),
    ),
    (
        "ledger_account_lifetime_non_negative",
        lambda w: PointsAccount(member=MemberFactory(), lifetime_earned=-1),
    ),
    ("ledger_entry_adjust_has_reason", lambda w: entry(w, kind="adjust", created_by=w["user"])),
    (
        "ledger_entry_single_reversal",
        lambda w: (
            ledger_entry_reverse(entry=w["debit"], reason="cancelled"),
            entry(w, kind="refund", reverses=w["debit"], amount=4),
        )[1],
    ),
    ("ledger_lot_amount_positive", lambda w: lot(w, amount=0, remaining=0)),
    ("ledger_lot_remaining_in_range", lambda w: lot(w, remaining=6)),
    ("ledger_lot_remaining_in_range", lambda w: lot(w, remaining=-1)),
    ("ledger_lot_expires_after_available", lambda w: lot(w, expires_at=NOW)),
    (
        "ledger_allocation_positive",
        lambda w: LotAllocation(entry=w["debit"], lot=w["lot"], points=0),
    ),
    (
        "ledger_allocation_once_per_lot",
        lambda w: LotAllocation(entry=w["debit"], lot=w["lot"], points=1),
    ),
    ("ledger_transaction_kind_valid", lambda w: txn(w, kind="exchange")),
    ("ledger_transaction_channel_valid", lambda w: txn(w, channel="fax")),
    ("ledger_transaction_amount_positive", lambda w: txn(w, amount=Decimal("0"))),
    (
        "ledger_transaction_only_returns_have_original",
        lambda w: txn(w, original=w["purchase"]),
    ),
    (
        "ledger_transaction_points_part_in_range",
        lambda w: txn(w, amount_paid_with_points=Decimal("10.01")),
    ),
    ("ledger_transaction_points_non_negative", lambda w: txn(w, points_earned=-1)),
    ("ledger_transaction_uncollected_non_negative", lambda w: txn(w, points_uncollected=-1)),
    (
        "ledger_transaction_unique_external_id",
        lambda w: txn(w, external_id="P1"),
    ),
    (
        "ledger_line_quantity_positive",
        lambda w: TransactionLine(
            transaction=w["purchase"], sku="A", quantity=0, unit_price=1, amount=0
        ),
    ),
    (
        "ledger_line_price_non_negative",
        lambda w: TransactionLine(
            transaction=w["purchase"], sku="A", quantity=1, unit_price=-1, amount=0
        ),
    ),
    ("ledger_earningrule_kind_valid", lambda w: rule(w, kind="lottery")),
    ("ledger_earningrule_multiplier_given", lambda w: rule(w, multiplier=None)),
    ("ledger_earningrule_points_given", lambda w: rule(w, kind="cap_day", points=None)),
    ("ledger_earningrule_amount_given", lambda w: rule(w, kind="minimum_spend", amount=None)),
    (
        "ledger_earningrule_window_valid",
        lambda w: rule(w, starts_at=NOW, ends_at=NOW - timedelta(hours=1)),
    ),
    ("ledger_programmesettings_single_row", lambda w: ProgrammeSettings(pk=2)),
    ("ledger_programmesettings_rounding_valid", lambda w: programme(w, rounding="ceil")),
    ("ledger_programmesettings_expiry_valid", lambda w: programme(w, expiry_policy="sometimes")),
    ("ledger_programmesettings_return_policy_valid", lambda w: programme(w, return_policy="x")),
    (
        "ledger_programmesettings_rates_non_negative",
        lambda w: programme(w, points_per_unit=Decimal("-1")),
    ),
    (
        "ledger_outbox_status_valid",
        lambda w: NotificationOutbox(member=w["member"], kind="k", dedupe_key="d", status="lost"),
    ),
]


UNIQUE = {
    "ledger_entry_single_reversal",
    "ledger_allocation_once_per_lot",
    "ledger_transaction_unique_external_id",
}


@pytest.mark.parametrize(("constraint", "build"), CASES, ids=[c[0] for c in CASES])
def test_constraint_refuses_in_full_clean_and_in_the_database(world, constraint, build):
    obj = build(world)
    for related in ("entry", "member"):  # unsaved parents built by the case
        parent = getattr(obj, related, None) if hasattr(obj, f"{related}_id") else None
        if parent is not None and parent.pk is None:
            parent.save()
            setattr(obj, related, parent)

    with pytest.raises(ValidationError):
        obj.full_clean()
    # SQLite names check constraints in its message but not unique ones; PostgreSQL names both
    named = connection.vendor == "postgresql" or constraint not in UNIQUE
    with pytest.raises(IntegrityError, match=constraint if named else None), transaction.atomic():
        obj.save()
