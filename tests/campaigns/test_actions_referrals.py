"""Points for actions (idempotent, capped) and referrals (pending, voided on return, fraud)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.exceptions import ActionConflict, ReferralRefused
from campaigns.models import ActionEvent, Campaign, CampaignAward, Referral
from campaigns.services import action_record, referral_code_validate, referral_release_due
from loyalty.ledger.models import PointsAccount
from loyalty.ledger.services import return_record
from tests.factories.campaigns import CampaignFactory, launch
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db
M = Campaign.Mechanic


def balance(member):
    account = PointsAccount.objects.filter(member=member).first()
    return account.balance if account else 0


@pytest.fixture
def review_campaign(programme):
    return launch(
        CampaignFactory(
            mechanic=M.ACTION,
            multiplier=None,
            action="review",
            bonus_points=20,
            cap_count=2,
            cap_period="week",
        )
    )


def test_action_twice_awards_once(review_campaign):
    member = MemberFactory()
    first = action_record(member=member, kind="review", action_id="rev-1")
    again = action_record(member=member, kind="review", action_id="rev-1")
    assert first.pk == again.pk and first.points_awarded == 20
    assert balance(member) == 20
    with pytest.raises(ActionConflict):
        action_record(member=MemberFactory(), kind="review", action_id="rev-1")


def test_action_cap_per_member_and_period(review_campaign):
    member = MemberFactory()
    for n in range(4):
        action_record(member=member, kind="review", action_id=f"r{n}")
    assert balance(member) == 40
    assert ActionEvent.objects.filter(member=member).count() == 4  # recorded, not all rewarded


def test_survey_keeps_the_score_and_needs_it(programme):
    member = MemberFactory()
    event = action_record(member=member, kind="survey", action_id="s1", score=9)
    assert event.score == 9 and event.points_awarded == 0  # no campaign: stored for NPS anyway
    with pytest.raises(ValidationError):
        action_record(member=member, kind="survey", action_id="s2")
    with pytest.raises(ValidationError):
        action_record(member=member, kind="survey", action_id="s3", score=11)


@pytest.fixture
def referral_campaign(programme):
    programme.pending_days = 14
    programme.save()
    return launch(
        CampaignFactory(
            mechanic=M.REFERRAL,
            multiplier=None,
            bonus_points=500,
            referee_points=100,
            min_spend=Decimal("20"),
            cap_count=1,
            cap_period="month",
        )
    )


def test_referral_rewards_both_after_the_return_window(referral_campaign):
    referrer = MemberFactory()
    referee = MemberFactory(referred_by=referrer)
    earn(referee, "10.00")  # below the qualifying spend: not the referral's purchase
    assert not Referral.objects.exists()
    referee2 = MemberFactory(referred_by=referrer)
    earn(referee2, "30.00")
    earn(referee2, "40.00")  # a second qualifying purchase: still one referral
    referral = Referral.objects.get(referee=referee2)
    earn(referee, "25.00")  # the first one's first qualifying purchase, after a small one
    assert Referral.objects.get(referee=referee).reason == "referrer_cap"  # one a month
    assert referral.status == "pending"
    assert referral_release_due() == 0  # window not over
    assert referral_release_due(now=timezone.now() + timedelta(days=15)) == 1
    assert balance(referrer) == 500 and balance(referee2) == 70 + 100
    assert CampaignAward.objects.count() == 2
    assert Referral.objects.get(referee=referee).status == "refused"


def test_returned_first_purchase_voids_the_referral(referral_campaign):
    referrer = MemberFactory()
    referee = MemberFactory(referred_by=referrer)
    purchase = earn(referee, "30.00")
    return_record(
        channel="store",
        external_id="R9",
        occurred_at=timezone.now(),
        amount=Decimal("30"),
        original=purchase.transaction,
    )
    assert Referral.objects.get().status == "void"
    assert referral_release_due(now=timezone.now() + timedelta(days=15)) == 0
    assert balance(referrer) == 0


def test_referral_fraud_and_cap_are_refused(referral_campaign):
    referrer = MemberFactory(email="jane.doe@example.com", phone="+447911123456")
    with pytest.raises(ReferralRefused) as exc:
        referral_code_validate(code=referrer.referral_code, email="janedoe+x@example.com")
    assert exc.value.extra["reason"] == "same_email"
    with pytest.raises(ReferralRefused):
        referral_code_validate(code=referrer.referral_code, phone="+447911123456")
    with pytest.raises(ValidationError):
        referral_code_validate(code="NOPE")
    assert (
        referral_code_validate(code=referrer.referral_code.lower(), email="x@example.com")
        == referrer
    )
    # circular: A referred B, and B is set as A's referrer
    b = MemberFactory(referred_by=referrer)
    referrer.referred_by = b
    referrer.save()
    earn(referrer, "30.00")
    assert Referral.objects.get(referee=referrer).reason == "circular"
    # cap: one referral per referrer per month
    c1, c2 = MemberFactory(referred_by=b), MemberFactory(referred_by=b)
    earn(c1, "30.00")
    earn(c2, "30.00")
    assert Referral.objects.get(referee=c1).status == "pending"
    assert Referral.objects.get(referee=c2).reason == "referrer_cap"
