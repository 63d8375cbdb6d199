"""Each mechanic through the real purchase path; stacking, holdout, budget, returns, bulk."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.hooks import member_campaigns
from campaigns.models import Campaign, CampaignAudience, CampaignAward, CampaignStatusChange
from campaigns.services import (
    birthday_awards,
    campaign_award,
    campaign_save,
    campaign_schedule_tick,
    campaign_status_change,
    is_holdout,
)
from loyalty.ledger.models import PointsAccount
from loyalty.ledger.services import LineInput, return_record
from tests.factories.campaigns import (
    CampaignFactory,
    SegmentConditionFactory,
    SegmentFactory,
    launch,
)
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db
M = Campaign.Mechanic


def balance(member):
    return PointsAccount.objects.get(member=member).balance


def test_multiplier_doubles_and_records_award(programme):
    member = MemberFactory()
    launch(CampaignFactory(multiplier=Decimal("2")))
    result = earn(member, "25.00")
    assert result.points_earned == 25
    assert balance(member) == 50
    award = CampaignAward.objects.get()
    assert award.points == 25 and award.transaction_id == result.transaction.pk


def test_multiplier_by_category_and_channel(programme):
    member = MemberFactory()
    launch(CampaignFactory(multiplier=Decimal("3"), categories=["shoes"], channels=["store"]))
    lines = [
        LineInput(sku="A", quantity=Decimal(1), unit_price=Decimal("30"), category="shoes"),
        LineInput(sku="B", quantity=Decimal(1), unit_price=Decimal("70"), category="food"),
    ]
    earn(member, "100.00", lines=lines)
    assert balance(member) == 100 + 60  # 30 % of 100 points x (3 - 1)
    earn(member, "100.00", lines=lines, channel="web")
    assert balance(member) == 260  # web: no campaign


def test_fixed_bonus_threshold_is_inclusive(programme):
    member = MemberFactory()
    launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS, multiplier=None, bonus_points=200, min_spend=Decimal("50")
        )
    )
    earn(member, "49.99")
    assert balance(member) == 49
    earn(member, "50.00")
    assert balance(member) == 49 + 50 + 200


def test_nth_purchase(programme):
    member = MemberFactory()
    launch(
        CampaignFactory(
            mechanic=M.NTH_PURCHASE, multiplier=None, bonus_points=100, purchase_number=3
        )
    )
    for _ in range(4):
        earn(member, "10.00")
    assert balance(member) == 40 + 100
    assert CampaignAward.objects.count() == 1


def test_first_purchase_after_enrolment(programme):
    old, new = MemberFactory(), MemberFactory()
    earn(old, "10.00", when=timezone.now() - timedelta(days=5))
    launch(CampaignFactory(mechanic=M.FIRST_PURCHASE, multiplier=None, bonus_points=75))
    earn(old, "10.00")
    earn(new, "10.00")
    earn(new, "10.00")
    assert balance(old) == 20
    assert balance(new) == 20 + 75


def test_win_back_once_for_lapsed_members_only(programme):
    lapsed, active, newbie = MemberFactory(), MemberFactory(), MemberFactory()
    earn(lapsed, "10.00", when=timezone.now() - timedelta(days=200))
    earn(active, "10.00", when=timezone.now() - timedelta(days=10))
    launch(CampaignFactory(mechanic=M.WIN_BACK, multiplier=None, bonus_points=500, lapsed_days=90))
    for m in (lapsed, active, newbie):
        earn(m, "10.00")
    earn(lapsed, "10.00")
    assert balance(lapsed) == 30 + 500
    assert balance(active) == 20 and balance(newbie) == 10


def test_birthday_29_february_in_a_common_year(programme):
    leapling = MemberFactory(birth_date=date(2000, 2, 29))
    other = MemberFactory(birth_date=date(2000, 3, 1))
    launch(
        CampaignFactory(
            mechanic=M.BIRTHDAY,
            multiplier=None,
            bonus_points=300,
            ends_at=timezone.now() + timedelta(days=400),
        )
    )
    assert birthday_awards(day=date(2027, 2, 28)) == 1
    assert birthday_awards(day=date(2027, 2, 28)) == 0  # once a year
    assert balance(leapling) == 300
    assert not PointsAccount.objects.filter(member=other, balance__gt=0).exists()
    assert birthday_awards(day=date(2028, 2, 28)) == 0  # leap year: on the 29th
    assert birthday_awards(day=date(2028, 2, 29)) == 1
    from loyalty.ledger.models import NotificationOutbox

    greetings = NotificationOutbox.objects.filter(kind="birthday", member=leapling)
    assert greetings.count() == 2 and greetings.first().payload["points"] == 300


def test_stacking_and_exclusive(programme):
    member = MemberFactory()
    launch(CampaignFactory(multiplier=Decimal("2"), priority=10))
    launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS,
            multiplier=None,
            bonus_points=100,
            min_spend=Decimal("1"),
            priority=20,
        )
    )
    earn(member, "10.00")
    assert balance(member) == 10 + 10 + 100  # both combine
    launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS,
            multiplier=None,
            bonus_points=7,
            min_spend=Decimal("1"),
            priority=30,
            stacking="exclusive",
        )
    )
    launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS,
            multiplier=None,
            bonus_points=9,
            min_spend=Decimal("1"),
            priority=40,
            stacking="exclusive",
        )
    )
    earn(member, "10.00")
    assert balance(member) == 120 + 10 + 7  # only the best exclusive one


def test_holdout_is_stable_and_gets_nothing(programme):
    members = [MemberFactory() for _ in range(200)]
    campaign = launch(CampaignFactory(holdout_percent=20))
    rows = dict(
        CampaignAudience.objects.filter(campaign=campaign).values_list("member_id", "holdout")
    )
    assert len(rows) == 200
    held = {m for m, h in rows.items() if h}
    assert 15 <= len(held) <= 70
    assert held == {
        m.pk for m in members if is_holdout(campaign_id=campaign.pk, member_id=m.pk, percent=20)
    }
    out = next(m for m in members if m.pk in held)
    earn(out, "10.00")
    assert balance(out) == 10
    with pytest.raises(ValidationError):
        campaign.holdout_percent = 30
        campaign_save(campaign=campaign)


def test_segment_fixed_at_launch(programme):
    a = MemberFactory(birth_date=date(1990, 5, 1))
    b = MemberFactory(birth_date=date(1990, 6, 1))
    seg = SegmentFactory()
    SegmentConditionFactory(segment=seg, field="birthday_month", operator="is", value="5")
    launch(CampaignFactory(segment=seg))
    earn(a, "10.00")
    earn(b, "10.00")
    assert balance(a) == 20 and balance(b) == 10


def test_budget_partial_last_award_then_nothing(programme):
    m1, m2 = MemberFactory(), MemberFactory()
    campaign = launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS,
            multiplier=None,
            bonus_points=100,
            min_spend=Decimal("1"),
            points_budget=250,
        )
    )
    for m in (m1, m2, m1, m2):
        earn(m, "10.00")
    campaign.refresh_from_db()
    assert campaign.points_awarded == 250
    assert list(CampaignAward.objects.order_by("pk").values_list("points", flat=True)) == [
        100,
        100,
        50,
    ]
    assert balance(m1) == 20 + 150 and balance(m2) == 20 + 100


def test_return_takes_campaign_points_back_in_proportion(programme):
    member = MemberFactory()
    launch(CampaignFactory(multiplier=Decimal("2")))
    purchase = earn(member, "100.00")
    assert balance(member) == 200
    return_record(
        channel="store",
        external_id="R1",
        occurred_at=timezone.now(),
        amount=Decimal("40"),
        original=purchase.transaction,
    )
    assert balance(member) == 120
    return_record(
        channel="store",
        external_id="R2",
        occurred_at=timezone.now(),
        amount=Decimal("60"),
        original=purchase.transaction,
    )
    assert balance(member) == 0


def test_status_moves_are_audited_and_scheduled(programme, staff_user):
    later = CampaignFactory(starts_at=timezone.now() + timedelta(days=1))
    campaign_status_change(campaign=later, to_status="active", actor=staff_user)
    later.refresh_from_db()
    assert later.status == "scheduled"  # starts tomorrow
    assert campaign_schedule_tick(now=timezone.now() + timedelta(days=2)) == {
        "activated": 1,
        "ended": 0,
    }
    assert campaign_schedule_tick(now=timezone.now() + timedelta(days=40)) == {
        "activated": 0,
        "ended": 1,
    }
    moves = list(
        CampaignStatusChange.objects.filter(campaign=later)
        .order_by("pk")
        .values_list("to_status", "actor")
    )
    assert moves == [("scheduled", staff_user.pk), ("active", None), ("ended", None)]
    from campaigns.exceptions import CampaignStatusInvalid

    with pytest.raises(CampaignStatusInvalid):
        campaign_status_change(campaign=later, to_status="active")


def test_one_query_per_purchase_for_campaign_lookup(programme):
    member = MemberFactory()
    for _ in range(3):
        launch(
            CampaignFactory(
                mechanic=M.FIXED_BONUS, multiplier=None, bonus_points=1, min_spend=Decimal("1000")
            )
        )
    member_campaigns(member.pk, timezone.now())  # warm the per-process cache
    with CaptureQueriesContext(connection) as ctx:
        found = member_campaigns(member.pk, timezone.now())
    # one query for the member's audience rows; outside a request the test settings also read
    # the configuration stamp each time (in a request once for the whole request, in production
    # at most once a second per process: loyalty/core/config_cache.py)
    sql = [q["sql"] for q in ctx.captured_queries]
    assert len(found) == 3 and len(sql) == 2
    assert sum("campaigns_campaignaudience" in s for s in sql) == 1
    assert sum("core_configstamp" in s for s in sql) == 1
    # a change anywhere is seen at the next purchase
    launch(CampaignFactory())
    assert len(member_campaigns(member.pk, timezone.now())) == 4


def test_settings_are_validated_per_mechanic(programme):
    c = CampaignFactory.build(mechanic=M.FIXED_BONUS, multiplier=None, bonus_points=None)
    with pytest.raises(ValidationError) as exc:
        c.full_clean()
    assert {"bonus_points", "min_spend"} <= set(exc.value.message_dict)
    c = CampaignFactory.build(
        mechanic=M.NTH_PURCHASE,
        multiplier=None,
        bonus_points=5,
        purchase_number=2,
        categories=["x"],
    )
    with pytest.raises(ValidationError) as exc:
        c.full_clean()
    assert "categories" in exc.value.message_dict


def test_award_is_idempotent_per_source(programme):
    member = MemberFactory()
    campaign = launch(
        CampaignFactory(
            mechanic=M.FIXED_BONUS, multiplier=None, bonus_points=10, min_spend=Decimal("1")
        )
    )
    first = campaign_award(
        campaign=campaign, member=member, points=10, source="x", occurred_at=timezone.now()
    )
    again = campaign_award(
        campaign=campaign, member=member, points=10, source="x", occurred_at=timezone.now()
    )
    assert first.award.pk == again.award.pk and balance(member) == 10
