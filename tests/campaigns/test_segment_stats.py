"""Segments evaluated as of now read the members' purchase statistics (loyalty.ledger.stats);
they must find exactly the members the exact subqueries over the transactions find: returns,
window edges (a purchase exactly N days before), dates at midnight in the programme's time zone,
members without purchases, AND/OR groups. Historical "as of" moments keep the exact path."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Segment, SegmentCondition
from campaigns.segments import segment_members
from loyalty.core import config_cache
from loyalty.ledger.models import ProgrammeSettings
from loyalty.ledger.services import return_record
from tests.factories.campaigns import SegmentFactory
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db
F = SegmentCondition.Field
Op = SegmentCondition.Operator
ZONE = "Asia/Shanghai"  # UTC+8: local midnight is 16:00 UTC the day before


def ids(segment, **kw):
    return set(segment_members(segment, **kw).values_list("pk", flat=True))


@pytest.fixture
def shop(programme):
    """Members with purchases and returns around the edges; returns (moment, members, day)."""
    ProgrammeSettings.objects.update(time_zone=ZONE)
    config_cache.stamp_bump()  # an UPDATE sends no signal: tell the caches
    zone = ZoneInfo(ZONE)
    now = timezone.now()
    day = (now - timedelta(days=20)).astimezone(zone).date()
    midnight = datetime.combine(day, time.min, tzinfo=zone)
    old = now - timedelta(days=1000)
    members = [MemberFactory(enrolled_at=old) for _ in range(12)]
    plan = {
        0: [400, 300, 200],  # 3 purchases, none in 90 days
        1: [400, 300, 90],  # the third exactly 90 days before: "within 90" (see below)
        2: [400, 300, 200, 10],
        3: [5],
        4: [],  # never bought
        5: [500, 100],
        6: [30, 30, 30],
        8: [1, 2],
    }
    moment_offsets = {}
    for index, days in plan.items():
        for n, d in enumerate(days):
            txn = earn(members[index], f"{20 + 7 * n}.50", when=now - timedelta(days=d)).transaction
            moment_offsets[(index, n)] = txn
    # around local midnight of `day`: one second before and exactly at it
    earn(members[7], "60.00", when=midnight - timedelta(seconds=1))
    earn(members[9], "60.00", when=midnight)
    # returns: member 5's spend drops under 100, member 6's to exactly 0 of one purchase
    big = earn(members[10], "150.00", when=now - timedelta(days=40)).transaction
    for n, amount in enumerate(("30.00", "25.00")):
        return_record(
            channel="store",
            external_id=f"RET-{n}",
            occurred_at=now - timedelta(days=39 - n),
            amount=Decimal(amount),
            original=big,
        )
    return_record(
        channel="store",
        external_id="RET-6",
        occurred_at=now - timedelta(days=20),
        amount=Decimal("20.50"),
        original=moment_offsets[(6, 0)],
    )
    earn(members[11], "100.00", when=now - timedelta(days=3))
    # the window edge is measured from the moment the segment is evaluated
    edge = earn(members[1], "1.00", when=now - timedelta(days=90), external_id="EDGE").transaction
    return now, members, day, edge


CONDITIONS = [
    [(F.PURCHASE_COUNT, Op.AT_LEAST, "3"), (F.LAST_PURCHASE, Op.NOT_WITHIN_DAYS, "90")],
    [(F.PURCHASE_COUNT, Op.AT_LEAST, "3")],
    [(F.PURCHASE_COUNT, Op.AT_LEAST, "0")],
    [(F.PURCHASE_COUNT, Op.AT_MOST, "1")],
    [(F.PURCHASE_COUNT, Op.IS, "0")],
    [(F.PURCHASE_COUNT, Op.IS, "2")],
    [(F.PURCHASE_COUNT, Op.IS_NOT, "2")],
    [(F.SPEND, Op.AT_LEAST, "100")],
    [(F.SPEND, Op.AT_LEAST, "0")],
    [(F.SPEND, Op.AT_MOST, "60")],
    [(F.SPEND, Op.IS, "0")],
    [(F.SPEND, Op.IS_NOT, "0")],
    [(F.SPEND, Op.IS, "95.00")],
    [(F.LAST_PURCHASE, Op.WITHIN_DAYS, "90")],
    [(F.LAST_PURCHASE, Op.NOT_WITHIN_DAYS, "90")],
    [(F.LAST_PURCHASE, Op.WITHIN_DAYS, "30")],
    [(F.LAST_PURCHASE, Op.BEFORE, "DAY")],
    [(F.LAST_PURCHASE, Op.AFTER, "DAY")],
    [(F.PURCHASE_COUNT, Op.AT_LEAST, "2", None, 365)],  # windowed: the exact path anyway
    [(F.SPEND, Op.AT_LEAST, "50", None, 45)],
    # OR groups mixing both kinds
    [
        (F.PURCHASE_COUNT, Op.AT_LEAST, "3", 1),
        (F.SPEND, Op.AT_MOST, "30", 2),
        (F.LAST_PURCHASE, Op.WITHIN_DAYS, "30", 2),
    ],
]


def test_statistics_and_transactions_find_the_same_members(shop):
    """Every rule of CONDITIONS on the same data (one setup: it records ~30 purchases)."""
    for rule in CONDITIONS:
        _same_members(shop, rule)


def _same_members(shop, rule):
    now, _members, day, _ = shop
    segment = SegmentFactory()
    for spec in rule:
        field, op, value, group, window = (*spec, None, None)[:5]
        SegmentCondition.objects.create(
            segment=segment,
            field=field,
            operator=op,
            value=day.isoformat() if value == "DAY" else value,
            group=group or 1,
            window_days=window,
        )
    moment = timezone.now()
    fast = ids(segment, as_of=moment)
    exact = ids(segment, as_of=moment, exact=True)
    assert fast == exact, rule
    # an earlier moment is answered from the transactions only
    then = now - timedelta(days=100)
    assert ids(segment, as_of=then) == ids(segment, as_of=then, exact=True), rule


def test_the_expected_members_and_the_edges(shop):
    _, members, day, _ = shop
    segment = SegmentFactory()
    SegmentCondition.objects.create(
        segment=segment, field=F.PURCHASE_COUNT, operator=Op.AT_LEAST, value="3"
    )
    SegmentCondition.objects.create(
        segment=segment, field=F.LAST_PURCHASE, operator=Op.NOT_WITHIN_DAYS, value="90"
    )
    # member 1's last purchase is exactly 90 days before `now`: evaluated at a later moment it
    # is just outside the window, at `edge.occurred_at + 90 days` exactly it is inside
    assert ids(segment) == {members[0].pk, members[1].pk}
    before = SegmentFactory()
    SegmentCondition.objects.create(
        segment=before, field=F.LAST_PURCHASE, operator=Op.BEFORE, value=day.isoformat()
    )
    found = ids(before)
    assert members[7].pk in found  # one second before local midnight
    assert members[9].pk not in found  # exactly at local midnight
    spend = SegmentFactory()
    SegmentCondition.objects.create(segment=spend, field=F.SPEND, operator=Op.AT_LEAST, value="100")
    assert members[10].pk not in ids(spend)  # 150 - 30 - 25 = 95
    assert members[11].pk in ids(spend)


def test_as_of_now_uses_the_statistics_in_one_query(shop):
    segment = SegmentFactory()
    SegmentCondition.objects.create(
        segment=segment, field=F.PURCHASE_COUNT, operator=Op.AT_LEAST, value="3"
    )
    SegmentCondition.objects.create(
        segment=segment, field=F.LAST_PURCHASE, operator=Op.NOT_WITHIN_DAYS, value="90"
    )
    segment = Segment.objects.prefetch_related("conditions").get(pk=segment.pk)
    with CaptureQueriesContext(connection) as ctx:
        ids(segment)
    assert len(ctx.captured_queries) == 1
    sql = ctx.captured_queries[0]["sql"]
    assert "ledger_memberpurchasestats" in sql and "ledger_transaction" not in sql
    with CaptureQueriesContext(connection) as ctx:
        ids(segment, as_of=date(2020, 1, 1))
    assert "ledger_transaction" in ctx.captured_queries[-1]["sql"]
