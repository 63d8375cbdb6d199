"""A plain-Python model of a member's points, checked against the ledger after every step.

tests/ledger/test_properties.py already drives random purchases, returns, redemptions,
adjustments, cancellations and expiry runs and checks the invariants (reconcile, lots, no
negative available). This test adds what that one cannot: a controllable clock (pending points
are released and lots expire as months pass), replays of every kind of request (idempotency),
and an independent model that predicts the exact available, pending and total points, spent
oldest lot first, refunded into the lots a redemption used, expired 12 months after release.

The clock moves in 30-day steps so no lot is ever within a day of its release or expiry, which
keeps the model free of the end-of-day rounding the services apply (tests/ledger/test_expiry.py
covers that to the second).
"""

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from loyalty.ledger.exceptions import InsufficientPoints
from loyalty.ledger.models import ProgrammeSettings
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import (
    ledger_entry_reverse,
    ledger_reconcile,
    points_expire_due,
    points_redeem,
    purchase_record,
)
from tests.factories.members import MemberFactory
from tests.hardening.conftest import FIGURES

pytestmark = pytest.mark.django_db
set_hypothesis_home_dir(f"{tempfile.gettempdir()}/loyalty-hypothesis")

STEP_DAYS = 30
START = datetime(2023, 1, 10, 12, tzinfo=UTC)

steps = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.integers(100, 20000)),  # cents
        st.tuples(st.just("redeem"), st.integers(1, 300)),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
        st.tuples(st.just("replay"), st.integers(0, 30)),
        st.tuples(st.just("wait"), st.integers(1, 6)),  # 30-day steps
        st.tuples(st.just("expire")),
    ),
    min_size=1,
    max_size=30,
)


@dataclass
class Lot:
    points: int
    remaining: int
    released_day: int  # available from this day on
    expired: bool = False


@dataclass
class Model:
    pending_days: int
    day: int = 0
    lots: list[Lot] = field(default_factory=list)
    redemptions: dict[int, list[tuple[Lot, int]]] = field(default_factory=dict)
    cancelled: set[int] = field(default_factory=set)

    def buy(self, points: int) -> None:
        if points:
            self.lots.append(Lot(points, points, self.day + self.pending_days))

    def available(self) -> int:
        return sum(lot.remaining for lot in self._spendable())

    def pending(self) -> int:
        return sum(lot.remaining for lot in self.lots if lot.released_day > self.day)

    def total(self) -> int:
        return sum(lot.remaining for lot in self.lots if not lot.expired)

    def redeem(self, key: int, points: int) -> bool:
        if points > self.available():
            return False
        used, left = [], points
        for lot in self._spendable():  # oldest release first: every lot lives 12 months
            take = min(lot.remaining, left)
            if take:
                lot.remaining -= take
                used.append((lot, take))
                left -= take
        self.redemptions[key] = used
        return True

    def cancel(self, key: int) -> None:
        if key in self.cancelled:
            return
        self.cancelled.add(key)
        for lot, taken in self.redemptions[key]:
            if lot.expired or self._past_expiry(lot):
                # the lot it came from is gone: the points come back spendable from today
                self.lots.append(Lot(taken, taken, self.day))
            else:
                lot.remaining += taken

    def expire(self) -> None:
        for lot in self.lots:
            if not lot.expired and self._past_expiry(lot):
                lot.expired = True
                lot.remaining = 0

    def _past_expiry(self, lot: Lot) -> bool:
        # 12 months after release; with 30-day steps the age is 360 (not yet) or >= 376 (due)
        return self.day - lot.released_day > 366

    def _spendable(self) -> list[Lot]:
        return sorted(
            (
                lot
                for lot in self.lots
                if lot.released_day <= self.day and not lot.expired and not self._past_expiry(lot)
            ),
            key=lambda lot: lot.released_day,
        )


class Rollback(Exception):
    pass


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=steps, pending_days=st.sampled_from([0, 14]))
def test_the_ledger_agrees_with_a_plain_model_at_every_step(db, monkeypatch, ops, pending_days):
    FIGURES["hypothesis ledger-model sequences"] += 1
    try:
        with transaction.atomic():  # each example starts from an empty ledger
            _run(monkeypatch, ops, pending_days)
            raise Rollback
    except Rollback:
        pass


def _run(monkeypatch, ops, pending_days):
    clock = {"now": START}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])
    ProgrammeSettings.objects.update_or_create(
        pk=1,
        defaults={
            "pending_days": pending_days,
            "return_policy": "debt",
            "expiry_policy": ProgrammeSettings.ExpiryPolicy.MONTHS_AFTER,
            "expiry_months": 12,
            "points_per_unit": Decimal("1"),
        },
    )
    member = MemberFactory()
    model = Model(pending_days=pending_days)
    entries = {}  # model key -> redeem entry
    replays = []  # (callable, expected result id)
    for step, op in enumerate(ops):
        now = clock["now"]
        if op[0] == "buy":
            amount = Decimal(op[1]) / 100
            result = purchase_record(
                member=member,
                channel="store",
                external_id=f"P{step}",
                occurred_at=now,
                amount=amount,
            )
            assert result.points_earned == int(amount)  # floored, on the whole amount
            assert result.points_pending == (int(amount) if pending_days else 0)
            model.buy(int(amount))
            replays.append(
                (
                    lambda s=step, a=amount, t=now: (
                        purchase_record(
                            member=member,
                            channel="store",
                            external_id=f"P{s}",
                            occurred_at=t,
                            amount=a,
                        ).transaction.pk
                    ),
                    result.transaction.pk,
                )
            )
        elif op[0] == "redeem":
            expected = model.redeem(step, op[1])
            try:
                entry = points_redeem(
                    member=member,
                    points=op[1],
                    source_type="test",
                    source_id=str(step),
                    idempotency_key=f"r{step}",
                )
            except InsufficientPoints:
                assert not expected, f"refused {op[1]} with {model.available()} available"
            else:
                assert expected, f"accepted {op[1]} with only {model.available()} available"
                entries[step] = entry
                replays.append(
                    (
                        lambda s=step, p=op[1]: (
                            points_redeem(
                                member=member,
                                points=p,
                                source_type="test",
                                source_id=str(s),
                                idempotency_key=f"r{s}",
                            ).pk
                        ),
                        entry.pk,
                    )
                )
        elif op[0] == "cancel" and entries:
            key = sorted(entries)[op[1] % len(entries)]
            # a second cancel of the same redemption replays the first (same default key)
            ledger_entry_reverse(entry=entries[key], reason="cancelled")
            model.cancel(key)
        elif op[0] == "replay" and replays:
            again, first_id = replays[op[1] % len(replays)]
            assert again() == first_id  # the first result, and (checked below) no effect
        elif op[0] == "wait":
            clock["now"] = now + timedelta(days=STEP_DAYS * op[1])
            model.day += STEP_DAYS * op[1]
        elif op[0] == "expire":
            points_expire_due(as_of=clock["now"])
            points_expire_due(as_of=clock["now"])  # a second run finds nothing more
            model.expire()

        balance = account_balance(member=member, as_of=clock["now"])
        assert ledger_reconcile() == []
        assert (balance.available, balance.pending) == (model.available(), model.pending()), (
            step,
            op,
        )
        assert balance.balance == model.total()
        assert balance.available >= 0 and balance.debt == 0
