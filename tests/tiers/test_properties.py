"""Property test: any sequence of purchases, returns, redemptions and period-end runs keeps the
tier rules: one current row, upgrades at once, no downgrade outside the period-end job, at most
one tier down per judged period, redemptions never change the qualifying value."""

import contextlib
import tempfile
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from loyalty.ledger.exceptions import InsufficientPoints, ReturnExceedsPurchase
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import points_redeem, return_record
from loyalty.tiers.models import TierAssignment
from loyalty.tiers.qualifying import qualifying_values
from loyalty.tiers.selectors import tier_current_assignment, tier_policy_get
from loyalty.tiers.services import tier_for_value, tier_ladder_checked, tier_period_end_evaluate
from tests.factories.ledger import ProgrammeSettingsFactory, earn
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder
from tests.tiers.conftest import at

pytestmark = pytest.mark.django_db
set_hypothesis_home_dir(f"{tempfile.gettempdir()}/loyalty-hypothesis")

operations = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.integers(1, 700)),
        st.tuples(st.just("return"), st.integers(0, 10), st.integers(1, 100)),
        st.tuples(st.just("redeem"), st.integers(1, 500)),
        st.tuples(st.just("wait"), st.integers(1, 400)),
        st.tuples(st.just("wait"), st.integers(1, 400)),
    ),
    min_size=1,
    max_size=20,
)


class Rollback(Exception):
    pass


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=operations,
    window=st.sampled_from(["calendar_year", "rolling_12_months", "anniversary_year"]),
    grace=st.sampled_from([0, 20]),
    one_down=st.booleans(),
)
def test_any_sequence_keeps_the_tier_rules(db, clock, ops, window, grace, one_down):
    try:
        with transaction.atomic():
            _run(clock, ops, window, grace, one_down)
            raise Rollback
    except Rollback:
        pass


def _rank(member):
    row = tier_current_assignment(member_id=member.pk)
    return row.tier.rank if row else 0


def _run(clock, ops, window, grace, one_down):
    ProgrammeSettingsFactory(pending_days=0)
    policy = TierPolicyFactory()
    policy.window, policy.grace_days, policy.one_tier_down = window, grace, one_down
    policy.save()
    standard_ladder()
    ladder = tier_ladder_checked()
    day = date(2024, 2, 20)
    clock.set(at(day))
    member = MemberFactory(enrolled_at=clock.now)
    purchases = []
    for step, op in enumerate(ops):
        rank_before = _rank(member)
        value_before = qualifying_values(members=[member], policy=tier_policy_get())[member.pk]
        if op[0] == "buy":
            result = earn(member, f"{op[1]}.00", when=clock.now)
            purchases.append(result.transaction)
            value = qualifying_values(members=[member], policy=tier_policy_get())[member.pk]
            assert _rank(member) >= tier_for_value(ladder, value).rank  # upgraded at once
        elif op[0] == "return" and purchases:
            original = purchases[op[1] % len(purchases)]
            amount = (original.amount * op[2] / 100).quantize(Decimal("0.01"))
            if amount > 0:
                with contextlib.suppress(ReturnExceedsPurchase):
                    return_record(
                        channel="store",
                        external_id=f"R{step}",
                        occurred_at=clock.now,
                        amount=amount,
                        original=original,
                    )
            assert _rank(member) == rank_before  # a return never downgrades at once
        elif op[0] == "redeem":
            available = account_balance(member=member).available
            try:
                points_redeem(
                    member=member,
                    points=op[1],
                    source_type="t",
                    source_id=str(step),
                    idempotency_key=f"r{step}",
                )
            except InsufficientPoints:
                assert op[1] > available
            value = qualifying_values(members=[member], policy=tier_policy_get())[member.pk]
            assert value == value_before  # spending never counts
            assert _rank(member) == rank_before
        elif op[0] == "wait":  # days pass; the nightly job catches up in one run
            day += timedelta(days=op[1])
            clock.set(at(day, 1))
            result = tier_period_end_evaluate(as_of=day)
            if one_down and not grace:
                assert _rank(member) >= rank_before - 1
            assert _rank(member) <= rank_before  # the job never upgrades
            again = tier_period_end_evaluate(as_of=day)
            assert (again.judged, again.grace_started, again.downgraded) == (0, 0, 0)
            clock.set(at(day))
        current = TierAssignment.objects.filter(member=member, valid_to__isnull=True)
        assert current.count() <= 1
