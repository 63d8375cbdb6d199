"""Badges on the bulk import path (the same badges, streaks and stages as the per-invoice path),
the progress API, and the segment conditions on lifecycle stage and VIP of the month."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.engagement.models import BadgeRule, MemberBadge, MemberStage, MemberStreak
from campaigns.engagement.services import stages_compute
from campaigns.segments import segment_members
from loyalty.ledger.bulk import bulk_blockers
from loyalty.ledger.models import NotificationOutbox, Transaction
from members.models import Member
from tests.factories.campaigns import MessageTemplateFactory, SegmentConditionFactory
from tests.factories.engagement import BadgeRuleFactory, MemberStageFactory, VipOfMonthFactory
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory
from tests.factories.tiers import standard_ladder
from tests.ledger.imports.test_bulk_equivalence import run_import, synthetic_file

pytestmark = pytest.mark.django_db
K = BadgeRule.Kind


class _Rollback(Exception):
    pass


def engagement_snapshot() -> dict:
    refs = dict(Member.objects.values_list("pk", "external_ref"))
    return {
        "badges": sorted(
            (refs[m], code, seq)
            for m, code, seq in MemberBadge.objects.values_list(
                "member_id", "rule__code", "sequence"
            )
        ),
        "streaks": sorted(
            (refs[m], cur, longest)
            for m, cur, longest in MemberStreak.objects.values_list(
                "member_id", "current", "longest"
            )
        ),
        "stages": sorted(
            (refs[m], s) for m, s in MemberStage.objects.values_list("member_id", "stage")
        ),
    }


def test_bulk_import_awards_the_same_badges_as_the_per_invoice_path(settings_row, tmp_path):
    template = MessageTemplateFactory(kind="other")
    BadgeRuleFactory(code="first", kind=K.FIRST_PURCHASE, threshold=1, message_template=template)
    BadgeRuleFactory(code="three", kind=K.PURCHASES, threshold=3, repeatable=True)
    BadgeRuleFactory(code="streak2", kind=K.STREAK, threshold=2)
    assert bulk_blockers() == []  # engagement's hook is covered by its bulk simulator
    path = synthetic_file(tmp_path / "file.csv", seed=7)
    try:
        with transaction.atomic():
            run_import(path, tmp_path, "--per-invoice")
            slow = engagement_snapshot()
            raise _Rollback
    except _Rollback:
        pass
    assert not Transaction.objects.exists()
    out = run_import(path, tmp_path)
    assert "bulk path" in out
    fast = engagement_snapshot()
    assert {code for _, code, _ in slow["badges"]} == {"first", "three", "streak2"}
    assert fast == slow
    # history: no milestone messages for imported purchases
    assert not NotificationOutbox.objects.filter(kind="milestone").exists()
    # and importing the same file again awards nothing more
    run_import(path, tmp_path)
    assert engagement_snapshot()["badges"] == fast["badges"]


def test_progress_api_in_one_call(settings_row, staff_client):
    ladder = standard_ladder()
    BadgeRuleFactory(code="first", name="First visit", kind=K.FIRST_PURCHASE, threshold=1)
    BadgeRuleFactory(code="regular", name="Regular", kind=K.PURCHASES, threshold=4)
    BadgeRuleFactory(code="silver", kind=K.TIER_REACHED, threshold=1, tier=ladder["silver"])
    RewardFactory(code="coffee", name="a free coffee", points_cost=150)
    RewardFactory(code="mug", name="a mug", points_cost=500)
    RewardFactory(code="sticker", name="a sticker", points_cost=10)
    member = MemberFactory()
    earn(member, "15.00")
    earn(member, "15.00")
    response = staff_client.get(f"/api/v1/engagement/members/{member.pk}/progress/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["member_id"] == member.pk
    assert [b["code"] for b in body["badges"]] == ["first"]
    assert body["stage"]["code"] == "new"
    assert body["streak"] == {"period": "month", "current": 1, "longest": 1}
    assert body["next_badge"]["code"] == "regular"
    assert (body["next_badge"]["value"], body["next_badge"]["target"]) == (2, 4)
    assert body["next_badge"]["percent"] == 50
    assert body["next_reward"]["code"] == "coffee"
    assert body["next_reward"]["points_needed"] == 120
    assert body["next_reward"]["text"] == "120 points to a free coffee"
    assert body["next_reward"]["percent"] == 20
    assert body["rewards_affordable_now"] == 1
    assert body["tier"]["current"] == "Member" and body["tier"]["next"] == "Silver"
    assert body["tier"]["percent"] == 30


def test_progress_api_unknown_member_and_parameters(settings_row, staff_client):
    assert staff_client.get("/api/v1/engagement/members/999999/progress/").status_code == 404
    member = MemberFactory()
    response = staff_client.get(f"/api/v1/engagement/members/{member.pk}/progress/?x=1")
    assert response.status_code == 400
    body = staff_client.get(f"/api/v1/engagement/members/{member.pk}/progress/").json()
    assert body["badges"] == [] and body["stage"] is None and body["next_reward"] is None


def test_progress_api_is_in_the_schema(settings_row, staff_client):
    schema = staff_client.get("/api/schema/?format=json").json()
    path = schema["paths"]["/api/v1/engagement/members/{member_id}/progress/"]
    assert path["get"]["operationId"] == "member_engagement_progress"


def test_segment_condition_on_lifecycle_stage(settings_row):
    loyal = MemberStageFactory(stage="loyal").member
    lapsed = MemberStageFactory(stage="lapsed").member
    never = MemberFactory()
    for member in (loyal, lapsed, never):
        Member.objects.filter(pk=member.pk).update(enrolled_at=timezone.now() - timedelta(days=9))
    stages_compute()  # writes the history the condition reads (prospects: no purchases)
    cond = SegmentConditionFactory(field="lifecycle_stage", operator="is", value="prospect")
    cond.full_clean()
    assert {m.pk for m in segment_members(cond.segment)} == {loyal.pk, lapsed.pk, never.pk}
    # as of a moment before the first computation: nobody had a stage yet
    before = timezone.now() - timedelta(days=1)
    assert not segment_members(cond.segment, as_of=before).exists()
    not_cond = SegmentConditionFactory(field="lifecycle_stage", operator="is_not", value="loyal")
    assert segment_members(not_cond.segment, as_of=before).count() == 3


def test_segment_condition_value_is_checked(settings_row):
    from django.core.exceptions import ValidationError

    cond = SegmentConditionFactory.build(field="lifecycle_stage", operator="is", value="gold")
    with pytest.raises(ValidationError) as err:
        cond.full_clean(exclude=["segment"])
    assert "value" in err.value.message_dict
    vip = SegmentConditionFactory.build(field="vip_of_month", operator="gte", value="yes")
    with pytest.raises(ValidationError) as err:
        vip.full_clean(exclude=["segment"])
    assert "operator" in err.value.message_dict


def test_segment_condition_vip_of_the_month(settings_row):
    old_vip = MemberFactory(enrolled_at=timezone.now() - timedelta(days=90))
    new_vip = MemberFactory(enrolled_at=timezone.now() - timedelta(days=90))
    other = MemberFactory(enrolled_at=timezone.now() - timedelta(days=90))
    VipOfMonthFactory(month=date(2026, 9, 1), member=old_vip)
    VipOfMonthFactory(month=date(2026, 10, 1), member=new_vip)
    yes = SegmentConditionFactory(field="vip_of_month", operator="is", value="yes")
    no = SegmentConditionFactory(field="vip_of_month", operator="is", value="no")
    assert [m.pk for m in segment_members(yes.segment)] == [new_vip.pk]
    assert {m.pk for m in segment_members(no.segment)} == {old_vip.pk, other.pk}
