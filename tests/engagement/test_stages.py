"""Lifecycle stages: every transition, recomputed in SQL nightly and on posting, history kept,
counts per day for analytics, the VIP of the month by its stated rule."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.engagement.models import MemberStage, Stage, StageChange, VipOfMonth
from campaigns.engagement.selectors import stage_counts_now, stage_counts_over_time
from campaigns.engagement.services import (
    engagement_nightly,
    stage_counts_snapshot,
    stages_compute,
    vip_of_month_pick,
)
from campaigns.models import ActionEvent
from loyalty.ledger.services import return_record
from tests.factories.engagement import MemberStageFactory
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def stage(member) -> str:
    return MemberStage.objects.get(member=member).stage


def history(member) -> list[tuple[str, str]]:
    return list(
        StageChange.objects.filter(member=member)
        .order_by("id")
        .values_list("from_stage", "to_stage")
    )


def days_ago(n: int) -> datetime:
    return timezone.now() - timedelta(days=n)


def test_prospect_then_new_on_the_first_purchase(settings_row):
    member = MemberFactory(enrolled_at=days_ago(5))
    engagement_nightly()
    assert stage(member) == Stage.PROSPECT
    earn(member)  # the posting recomputes at once
    assert stage(member) == Stage.NEW
    assert history(member) == [("", "prospect"), ("prospect", "new")]
    assert StageChange.objects.filter(member=member).latest("id").cause == "posting"


def test_repeat_after_the_new_window(settings_row):
    member = MemberFactory(enrolled_at=days_ago(100))
    earn(member, when=days_ago(60))
    assert stage(member) == Stage.NEW  # only one purchase so far
    earn(member, when=days_ago(40))
    assert stage(member) == Stage.REPEAT


def test_loyal_from_the_threshold_in_the_window(settings_row):
    settings_row.loyal_min_purchases = 3
    settings_row.loyal_window_days = 30
    settings_row.save()
    member = MemberFactory(enrolled_at=days_ago(400))
    earn(member, when=days_ago(40))  # outside the 30-day window
    earn(member, when=days_ago(20))
    earn(member, when=days_ago(15))
    assert stage(member) == Stage.REPEAT
    earn(member, when=days_ago(10))
    assert stage(member) == Stage.LOYAL


def test_advocate_by_referral_review_or_high_score(settings_row):
    referrer = MemberFactory(enrolled_at=days_ago(100))
    earn(referrer, when=days_ago(50))
    earn(referrer, when=days_ago(40))
    assert stage(referrer) == Stage.REPEAT
    MemberFactory(referred_by=referrer)
    stages_compute()
    assert stage(referrer) == Stage.ADVOCATE

    scorer = MemberFactory(enrolled_at=days_ago(100))
    earn(scorer, when=days_ago(50))
    ActionEvent.objects.create(
        member=scorer, kind="survey", action_id="s-8", occurred_at=days_ago(1), score=8
    )
    stages_compute()
    assert stage(scorer) == Stage.NEW  # 8 is not enough
    ActionEvent.objects.create(
        member=scorer, kind="survey", action_id="s-9", occurred_at=days_ago(1), score=9
    )
    stages_compute()
    assert stage(scorer) == Stage.ADVOCATE


def test_lapsing_then_lapsed_then_won_back_then_usual_again(settings_row):
    settings_row.won_back_days = 10
    settings_row.save()
    member = MemberFactory(enrolled_at=days_ago(400))
    earn(member, when=days_ago(300))  # history posted today: lapsed at once (300 > 180 days)
    assert stage(member) == Stage.LAPSED
    earn(
        member, when=days_ago(100)
    )  # a later purchase, still old: lapsing (100 > 90), not won back
    assert stage(member) == Stage.LAPSING
    stages_compute(now=timezone.now() + timedelta(days=90))  # 190 days > 180
    assert stage(member) == Stage.LAPSED
    earn(member)  # buys again
    assert stage(member) == Stage.WON_BACK
    stages_compute()  # still within won_back_days: stays
    assert stage(member) == Stage.WON_BACK
    stages_compute(now=timezone.now() + timedelta(days=20))
    assert stage(member) == Stage.REPEAT
    assert [to for _, to in history(member)] == [
        "lapsed",
        "lapsing",
        "lapsed",
        "won_back",
        "repeat",
    ]


def test_a_return_is_a_posting_too(settings_row):
    member = MemberFactory(enrolled_at=days_ago(10))
    purchase = earn(member, "50.00").transaction
    MemberStage.objects.filter(member=member).delete()
    return_record(
        member=member,
        channel="store",
        external_id="R1",
        occurred_at=timezone.now(),
        amount=Decimal("10.00"),
        original=purchase,
    )
    assert stage(member) == Stage.NEW


def test_unchanged_stages_write_nothing(settings_row):
    member = MemberFactory(enrolled_at=days_ago(10))
    earn(member)
    before = StageChange.objects.count()
    assert stages_compute().changed == 0
    engagement_nightly()
    assert StageChange.objects.count() == before
    assert stage(member) == Stage.NEW


def test_thresholds_are_settings(settings_row):
    member = MemberFactory(enrolled_at=days_ago(100))
    earn(member, when=days_ago(50))
    assert stage(member) == Stage.NEW
    settings_row.lapsing_days = 30
    settings_row.lapsed_days = 45
    settings_row.save()
    stages_compute()
    assert stage(member) == Stage.LAPSED


def test_counts_per_stage_over_time_for_analytics(settings_row):
    MemberStageFactory.create_batch(2, stage=Stage.LOYAL)
    MemberStageFactory(stage=Stage.LAPSED)
    stage_counts_snapshot(day=date(2026, 11, 1))
    MemberStageFactory(stage=Stage.LOYAL)
    stage_counts_snapshot(day=date(2026, 11, 2))
    stage_counts_snapshot(day=date(2026, 11, 2))  # re-running a day replaces it
    rows = stage_counts_over_time(start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert [r["day"] for r in rows] == [date(2026, 11, 1), date(2026, 11, 2)]
    assert rows[0]["counts"]["loyal"] == 2 and rows[0]["counts"]["lapsed"] == 1
    assert rows[1]["counts"]["loyal"] == 3 and rows[1]["counts"]["new"] == 0
    assert stage_counts_now()["loyal"] == 3


def _loyal(enrolled: datetime):
    member = MemberFactory(enrolled_at=enrolled)
    MemberStageFactory(member=member, stage=Stage.LOYAL)
    return member


def test_vip_of_the_month_is_the_highest_spender_among_loyal_members(settings_row):
    november = datetime(2026, 11, 10, 12, tzinfo=timezone.get_current_timezone())
    early = _loyal(datetime(2020, 1, 1, tzinfo=timezone.get_current_timezone()))
    late = _loyal(datetime(2024, 1, 1, tzinfo=timezone.get_current_timezone()))
    big = _loyal(datetime(2022, 1, 1, tzinfo=timezone.get_current_timezone()))
    not_loyal = MemberFactory(enrolled_at=datetime(2019, 1, 1, tzinfo=november.tzinfo))
    earn(not_loyal, "900.00", when=november)
    MemberStage.objects.filter(member=not_loyal).update(stage=Stage.REPEAT)
    for member in (early, late, big):
        MemberStage.objects.filter(member=member).update(stage=Stage.LOYAL)
    earn(big, "300.00", when=november)
    earn(big, "50.00", when=datetime(2026, 10, 31, 12, tzinfo=november.tzinfo))  # October
    earn(early, "200.00", when=november)
    earn(late, "200.00", when=november)
    for member in (early, late, big):  # the postings recomputed the stages: loyal again
        MemberStage.objects.filter(member=member).update(stage=Stage.LOYAL)
    MemberStage.objects.filter(member=not_loyal).update(stage=Stage.REPEAT)
    vip = vip_of_month_pick(month=date(2026, 11, 1))
    assert vip is not None and vip.member == big and vip.spend == Decimal("300.00")
    assert vip_of_month_pick(month=date(2026, 11, 15)) == vip  # once per month
    # a return in the month counts against the spend: now a tie, the earliest enrolment wins
    return_record(
        member=big,
        channel="store",
        external_id="R-big",
        occurred_at=november + timedelta(days=1),
        amount=Decimal("100.00"),
        original=big.transactions.filter(amount=Decimal("300.00")).get(),
    )
    for member in (early, late, big):
        MemberStage.objects.filter(member=member).update(stage=Stage.LOYAL)
    VipOfMonth.objects.all().delete()
    assert vip_of_month_pick(month=date(2026, 11, 1)).member == early


def test_nightly_picks_last_months_vip(settings_row):
    member = _loyal(datetime(2020, 1, 1, tzinfo=timezone.get_current_timezone()))
    last_month = (timezone.now().replace(day=1) - timedelta(days=1)).replace(day=10)
    earn(member, "80.00", when=last_month)
    settings_row.loyal_min_purchases = 2
    settings_row.save()
    earn(member, "10.00", when=last_month + timedelta(hours=1))
    assert stage(member) == Stage.LOYAL
    result = engagement_nightly()
    assert result.vip is not None and result.vip.member == member
    assert result.vip.month == last_month.date().replace(day=1)
