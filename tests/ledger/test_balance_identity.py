"""Issue 16 item 4: balance = available + pending - debt at every instant.

Between a lot's expiry time and the nightly expiry job, the lot's points are still in the cached
account balance, but no read may show them as spendable: the balance API, the reward catalogue
and the redemption checks all treat them as expired (the API shows them apart as
`expiring_now`). The tests move the clock past the expiry and do not run the job.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.ledger.models import PointsAccount, PointsLot
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import ledger_reconcile, points_earn, points_expire_due
from tests.factories.rewards import RewardFactory, RewardsSettingsFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = datetime(2025, 1, 10, 12, tzinfo=UTC)

    monkeypatch.setattr(timezone, "now", lambda: Clock.now)
    return Clock


@pytest.fixture
def two_lots(programme, member, clock):
    """10 points earned on 10 Jan 2025 (12-month expiry) and 20 earned a year later."""
    points_earn(member=member, points=10, idempotency_key="old")
    clock.now = datetime(2026, 1, 5, 12, tzinfo=UTC)
    points_earn(member=member, points=20, idempotency_key="new")
    old = PointsLot.objects.get(entry__idempotency_key="old")
    clock.now = old.expires_at + timedelta(hours=1)  # past the expiry; the job has not run
    return member


def test_the_balance_api_never_counts_points_past_their_expiry(staff_client, two_lots):
    response = staff_client.get(reverse("ledger:balance", args=[two_lots.pk]))

    body = response.json()
    assert response.status_code == 200, body
    assert body["balance"] == body["available"] + body["pending"] - body["debt"] == 20
    assert body["expiring_now"] == 10
    # the cached balance still holds the due lot until the job posts its EXPIRE entry
    assert PointsAccount.objects.get(member=two_lots).balance == 30


def test_the_identity_holds_before_and_after_the_job(two_lots, clock):
    before = account_balance(member=two_lots)
    expired = points_expire_due(as_of=clock.now)
    after = account_balance(member=two_lots)

    assert expired == 10
    for balance in (before, after):
        assert balance.balance == balance.available + balance.pending - balance.debt == 20
    assert (before.awaiting_expiry, after.awaiting_expiry) == (10, 0)
    assert ledger_reconcile() == []


def test_catalogue_and_redemption_see_only_the_live_points(admin_api_client, two_lots):
    RewardsSettingsFactory()
    reward = RewardFactory(code="mug", points_cost=25)

    catalogue = admin_api_client.get(reverse("rewards:catalogue", args=[two_lots.pk]))
    redeemed = admin_api_client.post(
        reverse("rewards:redemption-create"),
        {"member_id": two_lots.pk, "reward": reward.code},
        format="json",
    )

    item = next(i for i in catalogue.json() if i["reward"]["code"] == "mug")
    assert (item["can_redeem"], item["points_short"]) == (False, 5)
    assert redeemed.status_code == 409 and redeemed.json()["code"] == "insufficient_points"
    assert redeemed.json()["extra"]["available"] == 20
