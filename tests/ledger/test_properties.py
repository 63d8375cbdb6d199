"""Property test: any sequence of ledger operations keeps the invariants of domain.md.

After every step: balance = sum of entries = lots remaining - debt (reconcile finds nothing), the
available balance is never negative, a redemption fails exactly when the available points do not
cover it, and no purchase has more points reversed than it earned.
"""

import tempfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from loyalty.ledger.exceptions import (
    InsufficientPoints,
    ReturnExceedsPurchase,
)
from loyalty.ledger.models import LedgerEntry, ProgrammeSettings, Transaction
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import (
    ledger_entry_reverse,
    ledger_reconcile,
    points_adjust,
    points_expire_due,
    points_redeem,
    purchase_record,
    return_record,
)
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db
# keep hypothesis' cache out of the repository (pytest's norecursedirs would warn about it)
set_hypothesis_home_dir(f"{tempfile.gettempdir()}/loyalty-hypothesis")

operations = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.integers(1, 30000), st.integers(0, 500), st.integers(0, 100)),
        st.tuples(st.just("redeem"), st.integers(1, 400)),
        st.tuples(st.just("return"), st.integers(0, 20), st.integers(1, 100)),
        st.tuples(st.just("adjust"), st.integers(-200, 200).filter(bool)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("expire")),
    ),
    min_size=1,
    max_size=25,
)


class Rollback(Exception):
    pass


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=operations,
    pending_days=st.sampled_from([0, 14]),
    policy=st.sampled_from(["debt", "cap"]),
)
def test_any_sequence_of_operations_keeps_the_ledger_exact(
    db, staff_user, ops, pending_days, policy
):
    try:
        with transaction.atomic():  # each example starts from an empty ledger
            _run(ops, pending_days, policy, staff_user)
            raise Rollback
    except Rollback:
        pass


def _run(ops, pending_days, policy, staff_user):
    ProgrammeSettings.objects.update_or_create(
        pk=1,
        defaults={
            "pending_days": pending_days,
            "return_policy": policy,
            "expiry_months": 12,
            "points_per_unit": Decimal("1"),
        },
    )
    member = MemberFactory()
    now = timezone.now()
    purchases: list[Transaction] = []
    redemptions: list[LedgerEntry] = []
    for step, op in enumerate(ops):
        before = account_balance(member=member)
        if op[0] == "buy":
            _, cents, days_ago, paid_share = op
            amount = Decimal(cents) / 100
            points_spent = min(before.available, int(amount * paid_share)) if paid_share > 80 else 0
            result = purchase_record(
                member=member,
                channel="store",
                external_id=f"P{step}",
                occurred_at=now - timedelta(days=days_ago),
                amount=amount,
                points_spent=points_spent,
            )
            purchases.append(result.transaction)
        elif op[0] == "redeem":
            try:
                redemptions.append(
                    points_redeem(
                        member=member,
                        points=op[1],
                        source_type="test",
                        source_id=str(step),
                        idempotency_key=f"r{step}",
                    )
                )
            except InsufficientPoints:
                assert op[1] > before.available
            else:
                assert op[1] <= before.available
        elif op[0] == "return" and purchases:
            purchase = purchases[op[1] % len(purchases)]
            amount = max((purchase.amount * op[2] / 100).quantize(Decimal("0.01")), Decimal("0.01"))
            try:
                return_record(
                    channel="store",
                    external_id=f"R{step}",
                    occurred_at=now,
                    amount=amount,
                    original=purchase,
                )
            except ReturnExceedsPurchase:
                returned = purchase.returns.aggregate(t=Sum("amount"))["t"] or 0
                assert returned + amount > purchase.amount
        elif op[0] == "adjust":
            try:
                points_adjust(
                    member=member,
                    points=op[1],
                    reason="property test",
                    actor=staff_user,
                    idempotency_key=f"a{step}",
                )
            except InsufficientPoints:
                assert -op[1] > before.available + before.pending
        elif op[0] == "cancel" and redemptions:
            # a second cancel of the same redemption replays the first (same default key)
            refund = ledger_entry_reverse(
                entry=redemptions[op[1] % len(redemptions)], reason="cancelled"
            )
            assert refund.kind == LedgerEntry.Kind.REFUND
        elif op[0] == "expire":
            points_expire_due(as_of=timezone.now())

        after = account_balance(member=member)
        assert ledger_reconcile() == []
        assert after.available >= 0 and after.pending >= 0
        assert after.balance == after.available + after.pending - after.debt
        for purchase in purchases:
            taken = purchase.returns.aggregate(
                r=Sum("points_reversed"), u=Sum("points_uncollected"), f=Sum("points_refunded")
            )
            purchase.refresh_from_db()
            assert (taken["r"] or 0) + (taken["u"] or 0) <= purchase.points_earned
            assert (taken["f"] or 0) <= purchase.points_spent
