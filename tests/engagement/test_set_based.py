"""The set-based nightly computations against figures worked out by hand: every badge rule kind
in one run (metrics read in grouped passes, badges held subtracted, repeatable badges caught up
several multiples at once), and the lifecycle stages of the nightly path (changes written from
a temporary table) against the per-member path of a purchase."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from campaigns.engagement.models import BadgeRule, MemberBadge, MemberStage, Stage, StageChange
from campaigns.engagement.services import badges_award, engagement_nightly, stages_compute
from campaigns.models import ActionEvent
from members.models import Member
from tests.factories.engagement import (
    BadgeRuleFactory,
    EventAttendanceFactory,
    MemberBadgeFactory,
    MemberStageFactory,
)
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierAssignmentFactory, standard_ladder

pytestmark = pytest.mark.django_db
K = BadgeRule.Kind


def badges() -> set[tuple[int, int, int]]:
    return set(MemberBadge.objects.values_list("member_id", "rule_id", "sequence"))


def action(member: Member, kind: str, ref: str, score: int | None = None) -> None:
    ActionEvent.objects.create(
        member=member, kind=kind, action_id=ref, occurred_at=timezone.now(), score=score
    )


def test_nightly_awards_every_rule_kind_as_worked_out_by_hand(settings_row):
    ladder = standard_ladder()
    mid_may, mid_june = datetime(2026, 5, 15, 12, tzinfo=UTC), datetime(2026, 6, 15, 12, tzinfo=UTC)
    a, b, c, d, f, erased = (MemberFactory() for _ in range(6))
    for _ in range(12):
        earn(a, "1.00", when=mid_june)  # 12 purchases, one month: streak 1
    earn(b, "1.00", when=mid_may)
    earn(b, "1.00", when=mid_june)  # 2 purchases, two months in a row: streak 2
    action(c, "review", "r1")
    action(c, "review", "r2")
    action(c, "survey", "s1")  # not a review
    referee = MemberFactory(referred_by=c)
    EventAttendanceFactory(member=d)
    EventAttendanceFactory(member=d)  # 2 events, through no check-in (the nightly catches up)
    TierAssignmentFactory(member=d, tier=ladder["gold"])  # gold counts for "silver reached"
    for _ in range(11):
        earn(f, "1.00", when=mid_june)
    for _ in range(7):
        earn(erased, "1.00", when=mid_june)
    Member.objects.filter(pk=erased.pk).update(erased_at=timezone.now())
    # the rules come after the history: the posting path awarded nothing, the nightly must
    first = BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1)
    every5 = BadgeRuleFactory(kind=K.PURCHASES, threshold=5, repeatable=True)
    three = BadgeRuleFactory(kind=K.PURCHASES, threshold=3)
    reviews2 = BadgeRuleFactory(kind=K.REVIEWS, threshold=2)
    referral1 = BadgeRuleFactory(kind=K.REFERRALS, threshold=1)
    streak2 = BadgeRuleFactory(kind=K.STREAK, threshold=2)
    events2 = BadgeRuleFactory(kind=K.EVENT, threshold=2)
    silver = BadgeRuleFactory(kind=K.TIER_REACHED, threshold=1, tier=ladder["silver"])
    BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1, active=False)  # awards nothing
    held_before = MemberBadgeFactory(member=f, rule=every5, sequence=1)

    result = engagement_nightly()

    expected_new = {
        (a.pk, first.pk, 1),
        (a.pk, every5.pk, 1),  # 12 purchases: 5 and 10
        (a.pk, every5.pk, 2),
        (a.pk, three.pk, 1),
        (b.pk, first.pk, 1),
        (b.pk, streak2.pk, 1),
        (c.pk, reviews2.pk, 1),
        (c.pk, referral1.pk, 1),
        (d.pk, events2.pk, 1),
        (d.pk, silver.pk, 1),
        (f.pk, first.pk, 1),
        (f.pk, every5.pk, 2),  # 11 purchases, x1 held: only x2 is new
        (f.pk, three.pk, 1),
    }
    assert badges() == expected_new | {(f.pk, every5.pk, 1)}
    assert result.badges_awarded == len(expected_new)
    assert not MemberBadge.objects.filter(member__in=[erased, referee]).exists()
    assert MemberBadge.objects.get(pk=held_before.pk).awarded_at == held_before.awarded_at
    new = MemberBadge.objects.exclude(pk=held_before.pk)
    assert set(new.values_list("source", flat=True)) == {"nightly"}
    # steady state: nothing new, nothing changed
    assert engagement_nightly().badges_awarded == 0
    assert badges() == expected_new | {(f.pk, every5.pk, 1)}


def test_badges_for_some_members_touch_only_them_and_return_the_new_rows(settings_row):
    one, other = MemberFactory(), MemberFactory()
    for member in (one, other):
        for _ in range(4):
            earn(member, "1.00")
    every2 = BadgeRuleFactory(kind=K.PURCHASES, threshold=2, repeatable=True)
    awarded = badges_award(member_ids=[one.pk], source="import", notify=False)
    assert sorted((b.member_id, b.rule_id, b.sequence) for b in awarded) == [
        (one.pk, every2.pk, 1),
        (one.pk, every2.pk, 2),
    ]
    assert all(b.pk and b.source == "import" for b in awarded)
    assert badges() == {(one.pk, every2.pk, 1), (one.pk, every2.pk, 2)}
    assert badges_award(member_ids=[]) == []
    assert badges_award(member_ids=[one.pk]) == []  # held already


def days_ago(n: int) -> datetime:
    return timezone.now() - timedelta(days=n)


def test_nightly_stages_as_worked_out_by_hand_and_the_same_as_the_per_member_path(
    settings_row,
):
    # defaults: new 30 days, repeat 2 purchases, loyal 6 in 365 days, lapsing 90, lapsed 180,
    # won back 90 days, advocate score 9
    members = {name: MemberFactory(enrolled_at=days_ago(400)) for name in Stage.values}
    earn(members[Stage.NEW], when=days_ago(5))
    for n in (60, 40):
        earn(members[Stage.REPEAT], when=days_ago(n))
    for n in range(6):
        earn(members[Stage.LOYAL], when=days_ago(10 + n))
    earn(members[Stage.LAPSING], when=days_ago(100))
    earn(members[Stage.LAPSED], when=days_ago(200))
    earn(members[Stage.WON_BACK], when=days_ago(3))
    for n in (60, 40):
        earn(members[Stage.ADVOCATE], when=days_ago(n))
    action(members[Stage.ADVOCATE], "survey", "nps-1", score=9)
    scored_low = MemberFactory(enrolled_at=days_ago(400))
    for n in (60, 40):
        earn(scored_low, when=days_ago(n))
    action(scored_low, "survey", "nps-2", score=8)  # below the advocate score: repeat
    erased = MemberFactory()
    Member.objects.filter(pk=erased.pk).update(erased_at=timezone.now())
    expected = {m.pk: name for name, m in members.items()} | {scored_low.pk: Stage.REPEAT}

    def fresh_start() -> None:  # no stage known yet, except the won-back member's lapse
        MemberStage.objects.all().delete()
        StageChange.objects.all().delete()
        MemberStageFactory(member=members[Stage.WON_BACK], stage=Stage.LAPSED, since=days_ago(60))

    fresh_start()
    result = stages_compute()  # every member: the SQL path
    assert dict(MemberStage.objects.values_list("member_id", "stage")) == expected
    from_to = {pk: ("", stage) for pk, stage in expected.items()}
    from_to[members[Stage.WON_BACK].pk] = (Stage.LAPSED, Stage.WON_BACK)
    assert sorted(StageChange.objects.values_list("member_id", "from_stage", "to_stage")) == sorted(
        (pk, old, new) for pk, (old, new) in from_to.items()
    )
    assert result.changed == len(expected)
    assert result.by_transition == dict(Counter(from_to.values()))
    assert set(StageChange.objects.values_list("cause", flat=True)) == {"nightly"}
    assert stages_compute().changed == 0

    fresh_start()
    ids = sorted(Member.objects.values_list("pk", flat=True))
    per_member = stages_compute(member_ids=ids, cause="import")  # the batch path
    assert dict(MemberStage.objects.values_list("member_id", "stage")) == expected
    assert per_member.by_transition == result.by_transition
    assert stages_compute(member_ids=ids).changed == 0


def test_long_member_lists_are_split_and_every_member_is_served(settings_row, monkeypatch):
    from campaigns.engagement import services

    monkeypatch.setattr(services, "IDS_CHUNK", 2)  # SQLite's parameter limit, in small
    members = [MemberFactory() for _ in range(5)]
    for member in members:
        earn(member, "1.00")
    MemberStage.objects.all().delete()
    rule = BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1)
    ids = [m.pk for m in members]
    assert len(badges_award(member_ids=ids)) == 5
    assert badges() == {(pk, rule.pk, 1) for pk in ids}
    assert stages_compute(member_ids=ids).changed == 5
    assert set(MemberStage.objects.values_list("member_id", flat=True)) == set(ids)
