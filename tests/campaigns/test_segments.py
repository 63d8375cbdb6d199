"""Segments: each condition, AND/OR groups, "as of" evaluation in one query, static lists."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Segment, SegmentCondition
from campaigns.segments import segment_count, segment_members
from campaigns.services import rfm_scores_compute, segment_list_import
from members.services import consent_set
from tests.factories.campaigns import SegmentFactory
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db
F = SegmentCondition.Field
Op = SegmentCondition.Operator
UTC = ZoneInfo("UTC")


def when(y, m, d):
    return datetime(y, m, d, 12, tzinfo=UTC)


def ids(segment, **kw):
    return set(segment_members(segment, **kw).values_list("pk", flat=True))


def cond(segment, field, op, value, group=1, window_days=None):
    c = SegmentCondition(
        segment=segment, field=field, operator=op, value=value, group=group, window_days=window_days
    )
    c.full_clean()
    c.save()
    return c


def test_and_or_groups(programme):
    london, leeds = StoreFactory(code="LON"), StoreFactory(code="LDS")
    a = MemberFactory(home_store=london, birth_date=date(1990, 3, 5))
    b = MemberFactory(home_store=leeds, birth_date=date(1990, 3, 9))
    c = MemberFactory(home_store=leeds, birth_date=date(1990, 7, 1))
    seg = SegmentFactory()
    cond(seg, F.HOME_STORE, Op.IS, "LDS", group=1)
    cond(seg, F.BIRTHDAY_MONTH, Op.IS, "3", group=1)
    assert ids(seg) == {b.pk}  # AND
    cond(seg, F.HOME_STORE, Op.IS, "LON", group=2)
    assert ids(seg) == {a.pk, b.pk}  # OR of the groups
    cond(seg, F.BIRTHDAY_MONTH, Op.IS_NOT, "3", group=3)
    assert ids(seg) == {a.pk, b.pk, c.pk}


def test_purchases_spend_and_last_purchase_as_of(programme):
    old = timezone.now() - timedelta(days=400)
    m1, m2, m3 = (
        MemberFactory(enrolled_at=old),
        MemberFactory(enrolled_at=old),
        MemberFactory(enrolled_at=old),
    )
    now = timezone.now()
    for days in (300, 200, 100):
        earn(m1, "20.00", when=now - timedelta(days=days))
    earn(m2, "500.00", when=now - timedelta(days=10))
    seg = SegmentFactory()
    cond(seg, F.PURCHASE_COUNT, Op.AT_LEAST, "3")
    cond(seg, F.LAST_PURCHASE, Op.NOT_WITHIN_DAYS, "90")
    assert ids(seg) == {m1.pk}
    # as of 150 days ago m1 had 2 purchases only
    assert ids(seg, as_of=now - timedelta(days=150)) == set()
    spend = SegmentFactory()
    cond(spend, F.SPEND, Op.AT_LEAST, "100", window_days=30)
    assert ids(spend) == {m2.pk}
    recent = SegmentFactory()
    cond(recent, F.LAST_PURCHASE, Op.WITHIN_DAYS, "30")
    assert ids(recent) == {m2.pk}
    never = SegmentFactory()
    cond(never, F.PURCHASE_COUNT, Op.IS, "0")
    assert ids(never) == {m3.pk}


def test_balance_consent_referred_enrolment(programme):
    m1 = MemberFactory(enrolled_at=timezone.now() - timedelta(days=10))
    m2 = MemberFactory(referred_by=m1, enrolment_channel="web")
    earn(m1, "250.00")
    consent_set(member=m2, channel="email", granted=True, source="test")
    seg = SegmentFactory()
    cond(seg, F.POINTS_BALANCE, Op.AT_LEAST, "200")
    assert ids(seg) == {m1.pk}
    c = SegmentFactory()
    cond(c, F.CONSENT, Op.IS, "email")
    assert ids(c) == {m2.pk}
    r = SegmentFactory()
    cond(r, F.REFERRED, Op.IS, "yes")
    cond(r, F.ENROLMENT_CHANNEL, Op.IS, "web")
    assert ids(r) == {m2.pk}
    e = SegmentFactory()
    cond(e, F.ENROLLED, Op.WITHIN_DAYS, "5")
    assert ids(e) == {m2.pk}


def test_one_query_for_a_complex_rule(programme):
    seg = SegmentFactory()
    cond(seg, F.PURCHASE_COUNT, Op.AT_LEAST, "3", window_days=365)
    cond(seg, F.SPEND, Op.AT_LEAST, "10")
    cond(seg, F.CONSENT, Op.IS, "email", group=2)
    cond(seg, F.POINTS_BALANCE, Op.AT_MOST, "5", group=2)
    seg = Segment.objects.prefetch_related("conditions").get(pk=seg.pk)
    conditions = list(seg.conditions.all())
    with CaptureQueriesContext(connection) as ctx:
        segment_count(seg)
    assert len(ctx.captured_queries) == 1, [q["sql"] for q in ctx.captured_queries]
    assert conditions


def test_rfm_quintiles(programme):
    members = [MemberFactory(enrolled_at=timezone.now() - timedelta(days=100)) for _ in range(5)]
    for i, m in enumerate(members):
        for k in range(i + 1):
            earn(m, str(10 * (i + 1)), when=timezone.now() - timedelta(days=50 - i * 5 - k))
    assert rfm_scores_compute() == 5
    top = SegmentFactory()
    cond(top, F.RFM_MONETARY, Op.IS, "5")
    assert ids(top) == {members[-1].pk}


@pytest.mark.parametrize(
    ("field", "op", "value", "error_on"),
    [
        (F.BIRTHDAY_MONTH, Op.IS, "13", "value"),
        (F.SPEND, Op.BEFORE, "10", "operator"),
        (F.LAST_PURCHASE, Op.BEFORE, "yesterday", "value"),
        (F.TIER, Op.IS, "nope", "value"),
        (F.CONSENT, Op.IS, "fax", "value"),
        (F.PURCHASE_COUNT, Op.AT_LEAST, "-1", "value"),
    ],
)
def test_bad_conditions_are_field_errors(programme, field, op, value, error_on):
    c = SegmentCondition(segment=SegmentFactory(), field=field, operator=op, value=value)
    with pytest.raises(ValidationError) as exc:
        c.full_clean()
    assert error_on in exc.value.message_dict


def test_static_list_import_row_errors_change_nothing(programme):
    a, b = MemberFactory(), MemberFactory(phone="+447911100200")
    seg = SegmentFactory(kind=Segment.Kind.STATIC)
    bad = f"member_number\n{a.member_number}\n0000000000\n".encode()
    report = segment_list_import(segment=seg, data=bad)
    assert report.errors and report.errors[0][0] == 3
    assert segment_count(seg) == 0
    good = f"member_number,email,phone\n{a.member_number},,\n,,+447911100200\n,{a.email.upper()},\n".encode()
    report = segment_list_import(segment=seg, data=good)
    assert not report.errors and report.added == 2 and report.already == 1
    assert ids(seg) == {a.pk, b.pk}
    inlist = SegmentFactory()
    cond(inlist, F.IN_SEGMENT, Op.IS, seg.name)
    assert ids(inlist) == {a.pk, b.pk}


def test_members_enrolled_after_as_of_are_not_counted(programme):
    MemberFactory(enrolled_at=timezone.now() - timedelta(days=3))
    MemberFactory()
    everyone = SegmentFactory()
    assert segment_count(everyone, as_of=timezone.now() - timedelta(days=1)) == 1
    assert segment_count(everyone) == 2


def test_interest_tags(programme):
    runner = MemberFactory(interests=["running", "coffee"])
    MemberFactory(interests=["trail-running"])
    MemberFactory(interests=[])
    seg = SegmentFactory()
    cond(seg, F.TAG, Op.IS, "Running")
    assert ids(seg) == {runner.pk}
    with pytest.raises(ValidationError):
        cond(SegmentFactory(), F.TAG, Op.IS, 'a"b')


def test_tier_as_it_was_then(programme):
    from loyalty.tiers.models import TierAssignment
    from tests.factories.tiers import TierAssignmentFactory, TierFactory

    silver, gold = TierFactory(code="silver", rank=1), TierFactory(code="gold", rank=2)
    riser, steady = MemberFactory(), MemberFactory()
    enrolled = timezone.now() - timedelta(days=400)
    for member in (riser, steady):
        member.enrolled_at = enrolled
        member.save(update_fields=["enrolled_at"])
    upgraded = timezone.now() - timedelta(days=30)
    TierAssignmentFactory(member=riser, tier=silver, valid_from=enrolled, valid_to=upgraded)
    TierAssignmentFactory(
        member=riser,
        tier=gold,
        previous_tier=silver,
        valid_from=upgraded,
        reason=TierAssignment.Reason.THRESHOLD,
    )
    TierAssignmentFactory(member=steady, tier=silver, valid_from=enrolled)
    seg = SegmentFactory()
    cond(seg, F.TIER, Op.IS, "gold")
    assert ids(seg) == {riser.pk}
    assert ids(seg, as_of=timezone.now() - timedelta(days=60)) == set()  # still silver then
    not_gold = SegmentFactory()
    cond(not_gold, F.TIER, Op.IS_NOT, "gold")
    assert ids(not_gold, as_of=timezone.now() - timedelta(days=60)) == {riser.pk, steady.pk}
    with pytest.raises(ValidationError):
        cond(SegmentFactory(), F.TIER, Op.IS, "diamond")
