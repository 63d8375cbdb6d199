"""A plain-Python model of a member's points, checked against the ledger after every step.

tests/ledger/test_properties.py already drives random purchases, returns, redemptions,
adjustments, cancellations and expiry runs and checks the invariants (reconcile, lots, no
negative available). This test adds what that one cannot: a controllable clock (pending points
are released and lots expire as months pass), replays of every kind of request (idempotency),
and an independent model that predicts the exact available, pending and total points, spent
oldest lot first, refunded into the lots a redemption used, expired 12 months after release.

Rewards ride on the same model: redeeming a reward or paying with points spends like a
redemption, cancelling an unused voucher or letting a refundable voucher expire gives the points
back into the lots they came from, a used voucher cannot be cancelled (and changes nothing), and
a replayed redemption returns the first one.

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
from rewards.exceptions import VoucherAlreadyUsed, VoucherNotValid
from rewards.models import Redemption, Voucher
from rewards.services import (
    points_payment_create,
    redemption_cancel,
    redemption_create,
    voucher_consume,
    vouchers_expire_due,
)
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory, RewardsSettingsFactory
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

# Rewards on top of a funded account: every sequence starts with a 400-point purchase (the
# ledger-only test covers the empty account), then spends and refunds through rewards.services.
reward_steps = st.lists(
    st.one_of(
        st.tuples(st.just("reward"), st.sampled_from([0, 1])),  # which of two rewards
        st.tuples(st.just("pay"), st.integers(20, 150)),  # points payment at the till
        st.tuples(st.just("voucher cancel"), st.integers(0, 30)),
        st.tuples(st.just("voucher use"), st.integers(0, 30)),
        st.tuples(st.just("voucher expiry"), st.integers(0, 2)),  # after 0-2 months
        st.tuples(st.just("wait"), st.integers(1, 3)),
        st.tuples(st.just("buy"), st.integers(1000, 20000)),
        st.tuples(st.just("expire")),
        st.tuples(st.just("replay"), st.integers(0, 30)),
    ),
    min_size=3,
    max_size=25,
).map(lambda ops: [("buy", 40000), *ops])


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


@dataclass
class ModelVoucher:
    """A reward voucher as the model sees it: the redemption key and its fate."""

    key: int
    expires_day: int
    refund_on_expiry: bool
    status: str = "issued"  # issued, used, cancelled, expired


def examples(count: int) -> settings:
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@examples(150)
@given(ops=steps, pending_days=st.sampled_from([0, 14]))
def test_the_ledger_agrees_with_a_plain_model_at_every_step(db, monkeypatch, ops, pending_days):
    FIGURES["hypothesis ledger-model sequences"] += 1
    _run_rolled_back(monkeypatch, ops, pending_days)


@examples(100)
@given(ops=reward_steps, pending_days=st.sampled_from([0, 14]))
def test_rewards_spend_and_refund_as_the_model_says(db, monkeypatch, ops, pending_days):
    FIGURES["hypothesis rewards-model sequences"] += 1
    _run_rolled_back(monkeypatch, ops, pending_days)


def _run_rolled_back(monkeypatch, ops, pending_days):
    # Each example starts from an empty ledger. A savepoint, not atomic(): the rewards services
    # are durable atomic blocks, allowed inside the test's own transaction only.
    savepoint = transaction.savepoint()
    try:
        _run(monkeypatch, ops, pending_days)
    finally:
        transaction.savepoint_rollback(savepoint)


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
    RewardsSettingsFactory(points_payment_minimum=20)
    rewards = [
        RewardFactory(code="model-gift", points_cost=60, voucher_valid_days=45),
        RewardFactory(
            code="model-refundable",
            points_cost=30,
            voucher_valid_days=45,
            refund_points_on_expiry=True,
        ),
    ]
    member = MemberFactory()
    model = Model(pending_days=pending_days)
    entries = {}  # model key -> redeem entry
    vouchers: dict[int, tuple[Redemption, ModelVoucher]] = {}  # model key -> reward redemption
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
        elif op[0] == "reward":
            reward = rewards[op[1]]
            expected = model.redeem(step, reward.points_cost)
            try:
                redemption = redemption_create(
                    member=member, reward=reward, idempotency_key=f"rw{step}"
                )
            except InsufficientPoints:
                assert not expected, f"reward refused with {model.available()} available"
            else:
                assert expected, f"reward granted with only {model.available()} available"
                FIGURES["model: rewards redeemed"] += 1
                vouchers[step] = (
                    redemption,
                    ModelVoucher(step, model.day + 45, reward.refund_points_on_expiry),
                )
                replays.append(
                    (
                        lambda s=step, r=reward: (
                            redemption_create(member=member, reward=r, idempotency_key=f"rw{s}").pk
                        ),
                        redemption.pk,
                    )
                )
        elif op[0] == "pay":
            expected = model.redeem(step, op[1])
            try:
                payment = points_payment_create(
                    member=member, order_ref=f"O{step}", points=op[1], idempotency_key=f"pp{step}"
                )
            except InsufficientPoints:
                assert not expected, f"payment refused with {model.available()} available"
            else:
                assert expected, f"payment accepted with only {model.available()} available"
                assert payment.voucher.status == Voucher.Status.USED
                FIGURES["model: points payments"] += 1
        elif op[0] == "voucher cancel" and vouchers:
            key = sorted(vouchers)[op[1] % len(vouchers)]
            redemption, seen = vouchers[key]
            try:
                redemption_cancel(redemption=redemption, reason="model says so")
            except VoucherAlreadyUsed:
                assert seen.status == "used"
            except VoucherNotValid:  # expired and already refunded
                assert seen.status == "expired" and seen.refund_on_expiry
            else:
                assert seen.status in ("issued", "cancelled", "expired"), seen
                if seen.status == "issued" or (
                    seen.status == "expired" and not seen.refund_on_expiry
                ):
                    model.cancel(key)
                    seen.status = "cancelled"
                    FIGURES["model: vouchers cancelled"] += 1
        elif op[0] == "voucher use" and vouchers:
            key = sorted(vouchers)[op[1] % len(vouchers)]
            redemption, seen = vouchers[key]
            usable = seen.status == "issued" and model.day < seen.expires_day
            try:
                voucher_consume(code=redemption.voucher.code, order_ref=f"U{key}")
            except VoucherNotValid:
                assert not usable and seen.status != "used", seen
            else:
                assert usable or seen.status == "used", seen  # same order again replays
                seen.status = "used"
                FIGURES["model: vouchers used"] += 1
        elif op[0] == "voucher expiry":
            clock["now"] = now + timedelta(days=STEP_DAYS * op[1])
            model.day += STEP_DAYS * op[1]
            vouchers_expire_due(as_of=clock["now"])
            for key, (_, seen) in sorted(vouchers.items()):
                if seen.status == "issued" and seen.expires_day <= model.day:
                    seen.status = "expired"
                    FIGURES["model: vouchers expired"] += 1
                    if seen.refund_on_expiry:
                        FIGURES["model: vouchers refunded on expiry"] += 1
                        model.cancel(key)

        balance = account_balance(member=member, as_of=clock["now"])
        assert ledger_reconcile() == []
        assert (balance.available, balance.pending) == (model.available(), model.pending()), (
            step,
            op,
        )
        # lots past their expiry are out of the balance at once; the job posts their entries
        assert balance.balance == model.available() + model.pending()
        assert balance.balance + balance.awaiting_expiry == model.total()
        assert balance.available >= 0 and balance.debt == 0
