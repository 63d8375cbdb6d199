"""The back-test command: segment as of a past date, launch with holdout, results with CI."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from campaigns.models import Campaign, CampaignAudience, CampaignAward
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db
AS_OF = datetime(2024, 9, 1, tzinfo=UTC)


def test_backtest_counts_the_lapsed_regulars_and_gives_nothing(programme):
    regulars = [MemberFactory(enrolled_at=AS_OF - timedelta(days=400)) for _ in range(30)]
    for i, member in enumerate(regulars):
        for k in range(3):
            earn(member, "10.00", when=AS_OF - timedelta(days=120 + 10 * k))
        if i % 2:
            earn(member, "10.00", when=AS_OF + timedelta(days=5))  # came back
    recent = MemberFactory(enrolled_at=AS_OF - timedelta(days=400))
    for k in range(3):
        earn(recent, "10.00", when=AS_OF - timedelta(days=10 * (k + 1)))  # not lapsed
    out = io.StringIO()
    call_command(
        "campaign_backtest",
        "--as-of",
        "2024-09-01",
        "--end",
        "2024-12-01",
        "--holdout",
        "30",
        stdout=out,
    )
    text = out.getvalue()
    assert "as of 2024-09-01: 30 members" in text
    campaign = Campaign.objects.get()
    assert campaign.status == "ended"
    held = CampaignAudience.objects.filter(campaign=campaign, holdout=True).count()
    assert 0 < held < 30
    assert "reactivated" in text and "95% CI" in text
    assert not CampaignAward.objects.exists()
