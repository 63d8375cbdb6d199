"""Campaigns API: actions (idempotent), referral codes, offers, list, results, segment count."""

from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import Campaign
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


@pytest.fixture
def client(staff_client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    return staff_client


def test_action_event_posted_twice_awards_once(client, programme):
    member = MemberFactory()
    launch(CampaignFactory(mechanic=M.ACTION, multiplier=None, action="review", bonus_points=15))
    body = {"member_id": member.pk, "action": "review", "action_id": "abc"}
    first = client.post(reverse("campaigns:action-create"), body, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["points_awarded"] == 15
    again = client.post(reverse("campaigns:action-create"), body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    bad = client.post(
        reverse("campaigns:action-create"), {**body, "action": "dance"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
    assert "action" in bad.json()["extra"]["fields"]
    survey = client.post(
        reverse("campaigns:action-create"),
        {"member_id": member.pk, "action": "survey", "action_id": "s"},
        format="json",
    )
    assert survey.status_code == 422 and "score" in survey.json()["extra"]["fields"]


def test_referral_code_validation(client, programme):
    referrer = MemberFactory(email="ref@example.com")
    url = reverse("campaigns:referral-validate")
    ok = client.post(url, {"code": referrer.referral_code}, format="json")
    assert ok.status_code == 200 and ok.json()["referrer_member_number"] == referrer.member_number
    same = client.post(
        url, {"code": referrer.referral_code, "email": "ref@example.com"}, format="json"
    )
    assert same.status_code == 422 and same.json()["code"] == "referral_refused"
    assert same.json()["extra"]["reason"] == "same_email"
    unknown = client.post(url, {"code": "ZZZZ"}, format="json")
    assert unknown.status_code == 422 and "code" in unknown.json()["extra"]["fields"]


def test_offers_list_results_and_segment_count(client, programme):
    member = MemberFactory()
    other = MemberFactory(status="suspended")
    segment = SegmentFactory()
    SegmentConditionFactory(segment=segment, field="status", operator="is", value="active")
    campaign = launch(CampaignFactory(segment=segment, multiplier=Decimal("2")))
    CampaignFactory(name="Still a draft")
    offers = client.get(reverse("campaigns:member-offers", args=[member.pk])).json()
    assert [o["id"] for o in offers] == [campaign.pk]
    assert client.get(reverse("campaigns:member-offers", args=[other.pk])).json() == []
    listed = client.get(reverse("campaigns:campaign-list"), {"status": "active"}).json()
    assert [c["id"] for c in listed["results"]] == [campaign.pk]
    earn(member, "40.00")
    results = client.get(reverse("campaigns:campaign-results", args=[campaign.pk])).json()
    assert results["targeted"]["members"] == 1 and results["targeted"]["purchasers"] == 1
    assert results["participants"] == 1 and results["points_awarded"] == 40
    assert results["lift"] is None  # no holdout
    count = client.get(reverse("campaigns:segment-count", args=[segment.pk])).json()
    assert count["count"] == 1
    missing = client.get(reverse("campaigns:segment-count", args=[999999]))
    assert missing.status_code == 404


def test_unsubscribe_page_needs_a_post(client, programme):
    from campaigns.messaging import unsubscribe_token
    from members.models import Consent
    from members.services import consent_set

    member = MemberFactory()
    consent_set(member=member, channel="email", granted=True, source="test")
    url = reverse("campaigns:unsubscribe", args=[unsubscribe_token(member)])
    assert client.get(url).status_code == 200
    assert Consent.objects.get(member=member).granted
    assert client.post(url).status_code == 200
    assert not Consent.objects.get(member=member).granted
    assert client.post(url + "x/").status_code in (400, 404)


def test_offers_show_double_points_days_and_reward_vouchers(client, programme):
    from tests.factories.rewards import RewardFactory

    member = MemberFactory()
    days = launch(CampaignFactory(multiplier=Decimal("2"), weekdays=[1], dates=["11-11"]))
    gift = launch(
        CampaignFactory(
            mechanic=M.BIRTHDAY, multiplier=None, reward=RewardFactory(code="birthday-cake")
        )
    )
    offers = {
        o["id"]: o for o in client.get(reverse("campaigns:member-offers", args=[member.pk])).json()
    }
    assert (offers[days.pk]["weekdays"], offers[days.pk]["dates"]) == ([1], ["11-11"])
    assert offers[days.pk]["reward"] is None
    assert offers[gift.pk]["reward"] == "birthday-cake" and offers[gift.pk]["bonus_points"] is None
