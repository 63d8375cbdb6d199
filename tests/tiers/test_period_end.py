"""Downgrades only at period end (with and without grace, at most one tier), manual tiers,
returns counted at period end, every window kind across year ends and leap days."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.ledger.services import points_earn, return_record
from loyalty.tiers.models import TierAssignment
from loyalty.tiers.selectors import tier_current_assignment
from loyalty.tiers.services import tier_assign, tier_period_end_evaluate
from loyalty.tiers.windows import WindowKind
from members.models import Member
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierAssignmentFactory
from tests.tiers.conftest import at

pytestmark = pytest.mark.django_db
Reason = TierAssignment.Reason


def buy(clock, member, amount, day):
    clock.set(at(day))
    return earn(member, amount, when=clock.now)


def tier_of(member):
    return tier_current_assignment(member_id=member.pk).tier.code


def run(clock, day):
    clock.set(at(day, 1))
    return tier_period_end_evaluate(as_of=day)


def rows(member):
    return TierAssignment.objects.filter(member=member).count()


def test_downgrade_only_at_period_end_and_the_job_is_idempotent(ladder, enrolled, clock):
    buy(clock, enrolled, "600.00", date(2025, 3, 1))
    assert tier_of(enrolled) == "gold"

    assert run(clock, date(2025, 6, 30)).judged == 0  # mid-period: nothing happens
    kept = run(clock, date(2026, 1, 1))  # 2025 closed with 600: kept
    assert (kept.judged, kept.kept, kept.downgraded) == (1, 1, 0)
    assert run(clock, date(2026, 1, 1)).judged == 0  # same day again: already judged
    assert run(clock, date(2026, 12, 31)).judged == 0  # 2026 nearly over: still Gold
    assert tier_of(enrolled) == "gold"

    first = run(clock, date(2027, 1, 1))  # 2026 closed with nothing
    assert first.downgraded == 1
    assert first.moves == {("gold", "silver"): 1}  # one tier down per period
    row = tier_current_assignment(member_id=enrolled.pk)
    assert (row.reason, row.previous_tier.code, row.qualifying_value) == (
        Reason.PERIOD_END,
        "gold",
        Decimal("0"),
    )
    count = rows(enrolled)
    again = run(clock, date(2027, 1, 1))
    assert (again.judged, again.downgraded, rows(enrolled)) == (0, 0, count)

    run(clock, date(2028, 1, 1))
    assert tier_of(enrolled) == "member"
    assert run(clock, date(2029, 1, 1)).judged == 0  # the entry tier is never judged


def test_without_one_tier_down_the_member_drops_to_the_tier_reached(
    ladder, policy, enrolled, clock
):
    policy.one_tier_down = False
    policy.save()
    TierAssignmentFactory(member=enrolled, tier=ladder["platinum"], valid_from=at(date(2025, 2, 1)))
    buy(clock, enrolled, "150.00", date(2025, 3, 1))

    result = run(clock, date(2026, 1, 1))

    assert result.moves == {("platinum", "silver"): 1}
    assert tier_of(enrolled) == "silver"


def test_platinum_at_gold_level_drops_to_gold(ladder, policy, enrolled, clock):
    policy.one_tier_down = False
    policy.save()
    TierAssignmentFactory(member=enrolled, tier=ladder["platinum"], valid_from=at(date(2025, 2, 1)))
    buy(clock, enrolled, "300.00", date(2025, 3, 1))  # x2 at Platinum: 600 points, Gold level

    result = run(clock, date(2026, 1, 1))

    assert result.moves == {("platinum", "gold"): 1}


def test_grace_period_delays_the_downgrade(ladder, policy, enrolled, clock):
    policy.grace_days = 30
    policy.save()
    buy(clock, enrolled, "600.00", date(2025, 3, 1))

    started = run(clock, date(2026, 1, 1))

    assert (started.grace_started, started.downgraded) == (0, 0)  # 2025 was good
    started = run(clock, date(2027, 1, 1))
    row = tier_current_assignment(member_id=enrolled.pk)
    assert started.grace_started == 1
    assert (row.tier.code, row.downgrade_due_on, row.downgrade_to.code) == (
        "gold",
        date(2027, 1, 31),
        "silver",
    )
    assert run(clock, date(2027, 1, 2)).downgraded == 0
    assert run(clock, date(2027, 1, 30)).downgraded == 0
    assert tier_of(enrolled) == "gold"

    done = run(clock, date(2027, 1, 31))

    assert done.downgraded == 1
    row = tier_current_assignment(member_id=enrolled.pk)
    assert (row.tier.code, row.reason, row.downgrade_due_on) == ("silver", Reason.PERIOD_END, None)
    assert run(clock, date(2027, 2, 1)).downgraded == 0


def test_requalifying_by_purchase_during_grace_cancels_the_downgrade(
    ladder, policy, enrolled, clock
):
    policy.grace_days = 30
    policy.save()
    TierAssignmentFactory(member=enrolled, tier=ladder["gold"], valid_from=at(date(2025, 2, 1)))
    run(clock, date(2026, 1, 1))
    assert tier_current_assignment(member_id=enrolled.pk).downgrade_due_on == date(2026, 1, 31)

    buy(clock, enrolled, "500.00", date(2026, 1, 10))  # Gold again in the new window

    assert tier_current_assignment(member_id=enrolled.pk).downgrade_due_on is None
    assert run(clock, date(2026, 1, 31)).downgraded == 0
    assert tier_of(enrolled) == "gold"


def test_requalifying_without_a_purchase_is_seen_when_the_grace_ends(
    ladder, policy, enrolled, clock
):
    policy.grace_days = 10
    policy.save()
    TierAssignmentFactory(member=enrolled, tier=ladder["gold"], valid_from=at(date(2025, 2, 1)))
    run(clock, date(2026, 1, 1))
    clock.set(at(date(2026, 1, 5)))
    points_earn(member=enrolled, points=500, idempotency_key="campaign-bonus")  # no hook

    result = run(clock, date(2026, 1, 11))

    assert (result.grace_cancelled, result.downgraded) == (1, 0)
    assert tier_of(enrolled) == "gold"


def test_return_below_threshold_does_not_downgrade_at_once_but_counts_at_period_end(
    ladder, enrolled, clock
):
    purchase = buy(clock, enrolled, "520.00", date(2025, 3, 1)).transaction
    assert tier_of(enrolled) == "gold"
    clock.set(at(date(2025, 3, 5)))

    result = return_record(
        channel="store",
        external_id="R-1",
        occurred_at=clock.now,
        amount=Decimal("100.00"),
        original=purchase,
    )

    assert result.points_reversed == 100
    assert tier_of(enrolled) == "gold"  # no immediate downgrade
    assert run(clock, date(2025, 12, 31)).judged == 0
    judged = run(clock, date(2026, 1, 1))
    assert judged.moves == {("gold", "silver"): 1}  # 420 qualifying points in 2025
    assert tier_current_assignment(member_id=enrolled.pk).qualifying_value == Decimal("420")


def test_spend_basis_counts_purchases_minus_returns(ladder, policy, enrolled, clock):
    policy.basis = "spend"
    policy.save()
    purchase = buy(clock, enrolled, "510.00", date(2025, 3, 1)).transaction
    assert tier_of(enrolled) == "gold"
    clock.set(at(date(2025, 4, 1)))
    return_record(
        channel="store",
        external_id="R-2",
        occurred_at=clock.now,
        amount=Decimal("10.01"),
        original=purchase,
    )

    assert tier_of(enrolled) == "gold"
    run(clock, date(2026, 1, 1))
    row = tier_current_assignment(member_id=enrolled.pk)
    assert (row.tier.code, row.qualifying_value) == ("silver", Decimal("499.99"))


def test_manual_tier_with_end_date_is_not_downgraded_before_it(ladder, policy, enrolled, clock):
    policy.window = WindowKind.ROLLING_12_MONTHS
    policy.save()
    clock.set(at(date(2025, 3, 1)))
    row = tier_assign(
        member=enrolled,
        tier=ladder["gold"],
        reason="status match from a partner airline",
        actor=None,
        kind=Reason.IMPORT,
        manual_until=date(2025, 9, 1),
    )
    row.reason = Reason.MANUAL  # as staff would have set it
    row.save()

    for month in (4, 5, 6, 7, 8):
        assert run(clock, date(2025, month, 1)).judged == 0
    assert tier_of(enrolled) == "gold"

    result = run(clock, date(2025, 9, 1))  # the first period end on the end date

    assert result.moves == {("gold", "silver"): 1}


def test_manual_tier_without_end_date_is_kept_but_upgrades_still_apply(
    ladder, enrolled, clock, staff_user
):
    clock.set(at(date(2025, 3, 1)))
    tier_assign(member=enrolled, tier=ladder["silver"], reason="employee", actor=staff_user)

    for year in (2026, 2027, 2028):
        assert run(clock, date(year, 1, 1)).judged == 0
    assert tier_of(enrolled) == "silver"
    row = tier_current_assignment(member_id=enrolled.pk)
    assert (row.reason, row.actor, row.note) == (Reason.MANUAL, staff_user, "employee")

    buy(clock, enrolled, "500.00", date(2028, 2, 1))

    assert tier_of(enrolled) == "gold"


def test_members_without_a_tier_get_the_entry_tier(ladder, clock):
    active = MemberFactory()
    closed = MemberFactory(status=Member.Status.CLOSED)

    result = run(clock, date(2025, 3, 2))

    assert result.entry_assigned == 1
    assert tier_of(active) == "member"
    assert tier_current_assignment(member_id=closed.pk) is None
    assert run(clock, date(2025, 3, 3)).entry_assigned == 0


def test_anniversary_window_for_a_leap_day_member(ladder, policy, clock):
    policy.window = WindowKind.ANNIVERSARY_YEAR
    policy.save()
    member = MemberFactory(enrolled_at=datetime(2024, 2, 29, 10, tzinfo=UTC))
    buy(clock, member, "600.00", date(2024, 3, 10))  # window 29 Feb 2024 - 27 Feb 2025
    buy(clock, member, "100.00", date(2025, 3, 1))  # window 28 Feb 2025 - 27 Feb 2026
    assert tier_of(member) == "gold"

    assert run(clock, date(2025, 2, 27)).judged == 0
    assert run(clock, date(2025, 2, 28)).kept == 1  # anniversary falls back to 28 Feb
    assert run(clock, date(2026, 2, 27)).judged == 0
    result = run(clock, date(2026, 2, 28))

    assert result.moves == {("gold", "silver"): 1}


def test_rolling_window_across_the_year_end(ladder, policy, enrolled, clock):
    policy.window = WindowKind.ROLLING_12_MONTHS
    policy.save()
    buy(clock, enrolled, "600.00", date(2025, 1, 20))

    assert run(clock, date(2025, 12, 1)).kept == 1
    assert run(clock, date(2026, 1, 1)).kept == 1  # 2025-01-01..2025-12-31 still holds it
    result = run(clock, date(2026, 2, 1))  # 2025-02-01..2026-01-31: the purchase fell out

    assert result.moves == {("gold", "silver"): 1}


def test_calendar_year_boundary_is_the_programme_time_zone(ladder, programme, enrolled, clock):
    programme.time_zone = "America/New_York"
    programme.save()
    TierAssignmentFactory(member=enrolled, tier=ladder["gold"], valid_from=at(date(2025, 2, 1)))
    # 03:00 UTC on 1 January is still 31 December in New York: it counts for 2025
    clock.set(datetime(2026, 1, 1, 3, tzinfo=UTC))
    earn(enrolled, "500.00", when=clock.now)

    result = tier_period_end_evaluate(as_of=date(2026, 1, 1))

    assert (result.kept, result.downgraded) == (1, 0)


def test_lifetime_window_never_downgrades(ladder, policy, enrolled, clock):
    policy.window = WindowKind.LIFETIME
    policy.save()
    buy(clock, enrolled, "600.00", date(2025, 3, 1))

    assert run(clock, date(2030, 1, 1)).judged == 0
    assert tier_of(enrolled) == "gold"


def test_period_end_job_is_set_based(ladder, clock):
    def setup(n):
        members = MemberFactory.create_batch(n, enrolled_at=datetime(2024, 1, 5, tzinfo=UTC))
        for index, member in enumerate(members):
            tier = ladder["gold"] if index % 2 else ladder["silver"]
            TierAssignmentFactory(member=member, tier=tier, valid_from=at(date(2024, 2, 1)))
        clock.set(at(date(2024, 3, 1)))
        for member in members[::3]:
            earn(member, "600.00", when=clock.now)
        return members

    def queries(as_of):
        clock.set(at(as_of, 1))
        with CaptureQueriesContext(connection) as ctx:
            tier_period_end_evaluate(as_of=as_of)
        return len(ctx.captured_queries)

    setup(4)
    few = queries(date(2025, 1, 1))
    setup(40)
    many = queries(date(2026, 1, 1))

    assert many <= few + 2  # the query count does not grow with the number of members
