"""Terms, renewal across a period end with grace, lapsing, and the written pro-rata rule."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from campaigns.membership.exceptions import (
    AlreadyClubMember,
    ClubFeeMismatch,
    ClubMembershipLapsed,
    PaymentReferenceReused,
)
from campaigns.membership.models import ClubMembership, ClubTerm
from campaigns.membership.selectors import add_months, club_status, term_end
from campaigns.membership.services import (
    club_membership_cancel,
    club_membership_join,
    club_membership_renew,
    club_memberships_lapse_due,
    pro_rata_refund,
)
from tests.factories.members import MemberFactory
from tests.factories.membership import ClubPlanFactory, joined

pytestmark = pytest.mark.django_db


def test_a_term_ends_the_day_before_the_same_date_next_period():
    assert term_end(date(2026, 1, 10), 12) == date(2027, 1, 9)
    assert term_end(date(2026, 3, 3), 1) == date(2026, 4, 2)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_join_starts_the_first_term_today(clock, member, plan):
    membership = joined(member, plan, payment_reference="PAY-1")
    assert (membership.started_on, membership.ends_on) == (date(2026, 1, 10), date(2027, 1, 9))
    term = ClubTerm.objects.get()
    assert (term.number, term.kind, term.fee) == (1, "join", Decimal("36.50"))
    # the same payment again changes nothing
    assert joined(member, plan, payment_reference="PAY-1").pk == membership.pk
    assert ClubTerm.objects.count() == 1
    with pytest.raises(AlreadyClubMember):
        joined(member, plan, payment_reference="PAY-2")
    with pytest.raises(PaymentReferenceReused):
        joined(MemberFactory(), plan, payment_reference="PAY-1")
    with pytest.raises(ClubFeeMismatch):
        joined(MemberFactory(), plan, amount=Decimal("30.00"))


def test_a_term_reads_its_days_in_the_staff_language(clock, member, plan):
    joined(member, plan, payment_reference="PAY-1")
    term = ClubTerm.objects.get()
    with translation.override("en-gb"):
        assert str(term) == "10 Jan 2026 to 9 Jan 2027: 36.50"
    with translation.override("zh-hans"):
        assert str(term) == "2026年1月10日至2027年1月9日：36.50"


def test_renewal_in_the_grace_period_continues_without_a_gap(clock, member, plan):
    membership = joined(member, plan)
    clock.at(2027, 1, 9, 23, 59)  # last minute of the paid term
    assert club_status(member_id=member.pk, now=clock.now).state == "active"
    clock.at(2027, 1, 20, 12, 0)  # term over, grace (14 days) until 23 Jan
    status = club_status(member_id=member.pk, now=clock.now)
    assert (status.state, status.in_force, status.free_delivery) == ("grace", True, True)

    renewed = club_membership_renew(
        membership=membership, payment_reference="PAY-R1", amount=plan.fee
    )

    assert renewed.ends_on == date(2028, 1, 9)
    second = ClubTerm.objects.get(number=2)
    assert (second.starts_on, second.ends_on, second.kind) == (
        date(2027, 1, 10),
        date(2028, 1, 9),
        "renewal",
    )
    assert club_status(member_id=member.pk, now=clock.now).state == "active"
    # replaying the renewal's payment changes nothing
    club_membership_renew(membership=membership, payment_reference="PAY-R1", amount=plan.fee)
    assert ClubTerm.objects.count() == 2


def test_early_renewal_adds_the_next_term_after_the_current_one(clock, member, plan):
    membership = joined(member, plan)
    clock.at(2026, 12, 1, 9, 0)
    club_membership_renew(membership=membership, payment_reference="EARLY", amount=plan.fee)
    assert ClubMembership.objects.get().ends_on == date(2028, 1, 9)


def test_after_the_grace_period_the_membership_lapses(clock, member, plan):
    membership = joined(member, plan)
    clock.at(2027, 1, 23, 23, 0)  # last day of grace
    assert club_status(member_id=member.pk, now=clock.now).in_force
    clock.at(2027, 1, 24, 0, 0)  # first day after grace
    status = club_status(member_id=member.pk, now=clock.now)
    assert (status.state, status.in_force, status.free_delivery) == ("lapsed", False, False)
    with pytest.raises(ClubMembershipLapsed):
        club_membership_renew(membership=membership, payment_reference="LATE", amount=plan.fee)
    # the refused renewal changed nothing; the nightly job records the lapse
    assert club_memberships_lapse_due() == 1
    assert ClubMembership.objects.get().status == "lapsed"
    # joining again starts a new membership
    again = joined(member, plan, payment_reference="AGAIN")
    assert again.pk != membership.pk and again.started_on == date(2027, 1, 24)


def test_the_nightly_job_lapses_memberships_past_grace(clock, member, plan):
    joined(member, plan)
    clock.at(2027, 1, 23, 12, 0)
    assert club_memberships_lapse_due() == 0
    clock.at(2027, 1, 24, 1, 20)
    assert club_memberships_lapse_due() == 1
    assert ClubMembership.objects.get().lapsed_on == date(2027, 1, 24)


def test_cancellation_refunds_the_unused_days_rounded_down(clock, member, plan):
    membership = joined(member, plan)  # 36.50 for 365 days = 0.10 a day
    clock.at(2026, 4, 20, 15, 0)  # day 101 of the term: 264 days after it unused

    cancelled = club_membership_cancel(membership=membership, reason="moving abroad")

    assert cancelled.refund == Decimal("26.40")
    assert ClubTerm.objects.get().refund == Decimal("26.40")
    status = club_status(member_id=member.pk, now=clock.now)
    assert (status.state, status.in_force, status.free_delivery) == ("cancelled", False, False)
    # idempotent
    assert club_membership_cancel(membership=membership, reason="again").refund == Decimal("26.40")


def test_pro_rata_rounds_down_to_the_cent_and_counts_the_cancellation_day(clock, member):
    plan = ClubPlanFactory(code="odd", fee=Decimal("10.00"), term_months=1)
    membership = joined(member, plan)  # 10 Jan to 9 Feb: 31 days
    term = ClubTerm.objects.get(membership=membership)
    assert pro_rata_refund(term=term, cancelled_on=date(2026, 1, 10)) == Decimal("9.67")  # 30/31
    assert pro_rata_refund(term=term, cancelled_on=date(2026, 2, 9)) == Decimal("0.00")
    assert pro_rata_refund(term=term, cancelled_on=date(2026, 1, 9)) == Decimal("10.00")


def test_a_term_paid_in_advance_is_refunded_in_full_and_grace_refunds_nothing(clock, member, plan):
    membership = joined(member, plan)
    clock.at(2027, 1, 5, 10, 0)  # 5 days left of term 1; term 2 paid early
    club_membership_renew(membership=membership, payment_reference="EARLY", amount=plan.fee)
    cancelled = club_membership_cancel(membership=membership, reason="no longer wanted")
    # 4 unused days of 365 in term 1 (0.40) + all of term 2 (36.50)
    assert cancelled.refund == Decimal("36.90")

    other = joined(MemberFactory(), plan, payment_reference="OTHER")
    clock.at(2028, 1, 15, 10, 0)
    # in grace of its first term (ended 4 Jan 2028): nothing left to refund
    assert club_membership_cancel(membership=other, reason="grace").refund == Decimal("0.00")


def test_cancellation_needs_a_reason(clock, member, plan):
    membership = joined(member, plan)
    with pytest.raises(ValidationError):
        club_membership_cancel(membership=membership, reason=" ")
    assert ClubMembership.objects.get().status == "active"


def test_one_open_membership_per_member_in_the_database(clock, member, plan):
    from django.db import IntegrityError, transaction

    joined(member, plan)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClubMembership.objects.create(
            member=member, plan=plan, started_on=date(2026, 1, 1), ends_on=date(2026, 2, 1)
        )


def test_join_refuses_an_inactive_member(clock, plan):
    from members.exceptions import MemberNotActive

    closed = MemberFactory(status="suspended")
    with pytest.raises(MemberNotActive):
        club_membership_join(member=closed, plan=plan, payment_reference="X", amount=plan.fee)


def test_the_privacy_export_lists_memberships_and_payments(clock, member, plan):
    from members.hooks import PRIVACY_SECTIONS

    joined(member, plan, payment_reference="PAY-9")
    section = PRIVACY_SECTIONS["paid_club"](member)
    (membership,) = section["memberships"]
    assert membership["plan"] == "plus"
    assert membership["terms"][0]["payment_reference"] == "PAY-9"
