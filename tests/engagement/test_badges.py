"""Badges by rule: awarded on posting, by the nightly catch-up, on bulk imports and event
check-ins; once per member unless repeatable; idempotent on every path."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.engagement.models import BadgeRule, EventAttendance, MemberBadge
from campaigns.engagement.services import (
    badges_award,
    engagement_nightly,
    event_check_in,
    streaks_compute,
)
from campaigns.models import ActionEvent
from loyalty.core.exceptions import ApplicationError
from loyalty.ledger.models import NotificationOutbox
from tests.factories.campaigns import MessageTemplateFactory
from tests.factories.engagement import BadgeRuleFactory
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.tiers import standard_ladder

pytestmark = pytest.mark.django_db
K = BadgeRule.Kind


def held(member, rule) -> list[int]:
    return sorted(
        MemberBadge.objects.filter(member=member, rule=rule).values_list("sequence", flat=True)
    )


def test_first_purchase_badge_is_awarded_by_the_purchase_itself(settings_row):
    rule = BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1)
    member = MemberFactory()
    assert held(member, rule) == []
    earn(member, "5.00")
    assert held(member, rule) == [1]
    badge = MemberBadge.objects.get(member=member, rule=rule)
    assert badge.source == "posting"
    earn(member, "5.00")  # a second purchase does not award it again
    assert held(member, rule) == [1]


def test_n_purchases_badge_waits_for_the_nth_purchase(settings_row):
    rule = BadgeRuleFactory(kind=K.PURCHASES, threshold=3)
    member = MemberFactory()
    earn(member)
    earn(member)
    assert held(member, rule) == []
    earn(member)
    assert held(member, rule) == [1]
    for _ in range(3):
        earn(member)
    assert held(member, rule) == [1]  # not repeatable: once


def test_repeatable_badge_is_awarded_at_every_multiple(settings_row):
    rule = BadgeRuleFactory(kind=K.PURCHASES, threshold=2, repeatable=True)
    member = MemberFactory()
    for _ in range(5):
        earn(member)
    assert held(member, rule) == [1, 2]
    earn(member)
    assert held(member, rule) == [1, 2, 3]


def test_tier_reached_badge_follows_the_upgrade_of_the_same_purchase(settings_row):
    ladder = standard_ladder()
    rule = BadgeRuleFactory(kind=K.TIER_REACHED, threshold=1, tier=ladder["silver"])
    member = MemberFactory()
    earn(member, "50.00")
    assert held(member, rule) == []
    earn(member, "60.00")  # 110 qualifying points: silver in the same transaction
    assert held(member, rule) == [1]


def test_tier_reached_badge_counts_a_higher_tier_too(settings_row):
    ladder = standard_ladder()
    rule = BadgeRuleFactory(kind=K.TIER_REACHED, threshold=1, tier=ladder["silver"])
    member = MemberFactory()
    earn(member, "600.00")  # straight to gold
    assert held(member, rule) == [1]


def test_reviews_badge_is_awarded_by_the_nightly_catch_up(settings_row):
    rule = BadgeRuleFactory(kind=K.REVIEWS, threshold=2)
    member = MemberFactory()
    now = timezone.now()
    ActionEvent.objects.create(member=member, kind="review", action_id="r1", occurred_at=now)
    engagement_nightly()
    assert held(member, rule) == []
    ActionEvent.objects.create(member=member, kind="review", action_id="r2", occurred_at=now)
    ActionEvent.objects.create(member=member, kind="survey", action_id="s1", occurred_at=now)
    result = engagement_nightly()
    assert held(member, rule) == [1]
    assert result.badges_awarded == 1
    assert MemberBadge.objects.get(member=member, rule=rule).source == "nightly"


def test_referrals_badge_counts_friends_referred(settings_row):
    rule = BadgeRuleFactory(kind=K.REFERRALS, threshold=2)
    referrer = MemberFactory()
    MemberFactory(referred_by=referrer)
    badges_award()
    assert held(referrer, rule) == []
    MemberFactory(referred_by=referrer)
    badges_award()
    assert held(referrer, rule) == [1]


def test_streak_badge_needs_consecutive_months(settings_row):
    rule = BadgeRuleFactory(kind=K.STREAK, threshold=3)
    member = MemberFactory()
    now = timezone.now()
    # three consecutive months up to this one, by the purchases' own posting
    for months_ago in (2, 1):
        earn(member, when=now - timedelta(days=31 * months_ago))
    assert held(member, rule) == []
    earn(member, when=now)
    assert held(member, rule) == [1]


def test_event_badge_through_the_check_in_extension_point(settings_row):
    rule = BadgeRuleFactory(kind=K.EVENT, threshold=2)
    member = MemberFactory()
    event_check_in(member=member, event_ref="launch-party")
    event_check_in(member=member, event_ref="launch-party")  # same event: counted once
    assert EventAttendance.objects.filter(member=member).count() == 1
    assert held(member, rule) == []
    event_check_in(member=member, event_ref="tasting")
    assert held(member, rule) == [1]
    assert MemberBadge.objects.get(member=member, rule=rule).source == "event"


def test_event_check_in_refuses_an_inactive_member_and_an_empty_event(settings_row):
    member = MemberFactory(status="suspended")
    with pytest.raises(ApplicationError):
        event_check_in(member=member, event_ref="x")
    with pytest.raises(ApplicationError):
        event_check_in(member=MemberFactory(), event_ref="  ")
    assert not EventAttendance.objects.exists()


def test_awarding_is_idempotent_across_every_path(settings_row):
    rules = [
        BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1),
        BadgeRuleFactory(kind=K.PURCHASES, threshold=2, repeatable=True),
    ]
    member = MemberFactory()
    for _ in range(4):
        earn(member)
    before = MemberBadge.objects.count()
    assert before == 3  # first purchase + purchases x1, x2
    badges_award()
    badges_award(member_ids=[member.pk], source="posting")
    engagement_nightly()
    engagement_nightly()
    assert MemberBadge.objects.count() == before
    assert [held(member, r) for r in rules] == [[1], [1, 2]]


def test_inactive_rules_award_nothing(settings_row):
    rule = BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1, active=False)
    member = MemberFactory()
    earn(member)
    engagement_nightly()
    assert held(member, rule) == []


def test_a_rule_added_later_is_caught_up_by_the_nightly_job(settings_row):
    member = MemberFactory()
    earn(member)
    rule = BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1)
    assert held(member, rule) == []
    engagement_nightly()
    assert held(member, rule) == [1]


def test_milestone_message_is_queued_once_through_the_outbox(settings_row):
    template = MessageTemplateFactory(kind="other")
    rule = BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1, message_template=template)
    member = MemberFactory()
    earn(member)
    earn(member)
    badges_award()
    rows = NotificationOutbox.objects.filter(member=member, kind="milestone")
    assert rows.count() == 1
    assert rows.get().payload["template_id"] == template.pk
    assert rows.get().payload["badge"] == rule.name


def test_the_settings_message_is_the_default_and_none_means_no_message(settings_row):
    BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1)
    first = MemberFactory()
    earn(first)
    assert not NotificationOutbox.objects.filter(kind="milestone").exists()
    settings_row.milestone_template = MessageTemplateFactory(kind="other")
    settings_row.save()
    second = MemberFactory()
    earn(second)
    assert NotificationOutbox.objects.filter(kind="milestone", member=second).count() == 1


def test_milestone_messages_respect_consent_and_the_weekly_cap(settings_row, settings):
    from campaigns.messaging import messages_deliver
    from campaigns.models import MessageDelivery
    from tests.factories.members import ConsentFactory

    settings.LOYALTY_MESSAGES_PER_WEEK = 1
    template = MessageTemplateFactory(kind="other")
    BadgeRuleFactory(kind=K.FIRST_PURCHASE, threshold=1, message_template=template)
    BadgeRuleFactory(kind=K.PURCHASES, threshold=2, message_template=template)
    no_consent = MemberFactory()
    consented = MemberFactory()
    ConsentFactory(member=consented, channel="email", granted=True)
    for member in (no_consent, consented):
        earn(member)
        earn(member)
    messages_deliver()
    deliveries = {
        (d.member_id, d.status, d.reason)
        for d in MessageDelivery.objects.filter(outbox__kind="milestone")
    }
    assert (no_consent.pk, "skipped", "no consent on this channel") in deliveries
    statuses = sorted(s for m, s, _ in deliveries if m == consented.pk)
    assert statuses == ["sent", "skipped"]  # the second is over the weekly cap
    assert (consented.pk, "skipped", "weekly frequency cap reached") in deliveries


def test_rule_validation_in_words(settings_row):
    from django.core.exceptions import ValidationError

    ladder = standard_ladder()
    with pytest.raises(ValidationError) as tier_missing:
        BadgeRule(name="x", code="x", kind=K.TIER_REACHED, threshold=1).full_clean()
    assert "tier" in tier_missing.value.message_dict
    with pytest.raises(ValidationError) as repeat_first:
        BadgeRule(
            name="y", code="y", kind=K.FIRST_PURCHASE, threshold=1, repeatable=True
        ).full_clean()
    assert "repeatable" in repeat_first.value.message_dict
    rule = BadgeRule(name="z", code="z", kind=K.TIER_REACHED, threshold=1, tier=ladder["gold"])
    rule.full_clean()
    assert "Gold" in rule.describe()


def test_streak_badge_added_later_reads_the_computed_streaks(settings_row):
    member = MemberFactory()
    now = timezone.now()
    earn(member, when=now - timedelta(days=31))
    earn(member, when=now)
    rule = BadgeRuleFactory(kind=K.STREAK, threshold=2)
    streaks_compute()
    badges_award()
    assert held(member, rule) == [1]
