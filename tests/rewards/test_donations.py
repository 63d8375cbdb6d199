"""Points for a cause: a donation reward spends points through the ledger, issues no voucher,
records the brand's matching apart, and its totals per cause and period reconcile with the
ledger; finance reads and downloads them in the admin."""

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from loyalty.core.roles import roles_setup
from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import points_earn
from rewards.exceptions import CauseNotAvailable, DonationFinal
from rewards.models import Cause, Donation, Redemption, Reward, Voucher
from rewards.selectors import donation_totals
from rewards.services import redemption_cancel, redemption_create
from tests.factories.members import MemberFactory
from tests.factories.rewards import CauseFactory, RewardFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def trees(programme):
    return CauseFactory(code="trees", name="Trees for Cities", kind=Cause.Kind.TREES)


@pytest.fixture
def donate(programme):
    """Give 100 points a time; the member chooses the cause."""
    return RewardFactory(code="donate", kind=Reward.Kind.DONATION, points_cost=100)


def test_a_donation_spends_points_and_issues_no_voucher(funded, trees, donate):
    redemption = redemption_create(member=funded, reward=donate, cause=trees, quantity=3)

    assert account_balance(member=funded).available == 700
    assert not Voucher.objects.exists()
    donations = Donation.objects.filter(member=funded)
    assert donations.count() == 3 and redemption.donation.cause == trees
    assert {d.points for d in donations} == {100}
    assert donations.aggregate(v=Sum("value"))["v"] == 300 * funded_point_value()
    entries = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REDEEM)
    assert sorted(e.amount for e in entries) == [-100, -100, -100]
    assert all("Trees for Cities" in e.reason for e in entries)


def funded_point_value():
    from loyalty.ledger.policy import programme_settings_get

    return programme_settings_get().point_value


def test_brand_matching_is_recorded_apart_never_as_member_points(funded, donate):
    double = CauseFactory(code="ocean", name="Ocean clean-up", matching=Cause.Matching.DOUBLE)
    redemption_create(member=funded, reward=donate, cause=double)

    donation = Donation.objects.get()
    assert (donation.points, donation.matched_points) == (100, 200)
    assert donation.matched_value == 2 * donation.value
    # the member lost 100 points; nobody gained any
    assert account_balance(member=funded).available == 900
    assert not LedgerEntry.objects.filter(amount__gt=0).exclude(idempotency_key="seed").exists()


def test_the_cause_must_be_chosen_and_open(funded, trees, donate):
    with pytest.raises(ValidationError) as caught:
        redemption_create(member=funded, reward=donate)
    assert "cause" in caught.value.message_dict
    trees.active = False
    trees.save()
    with pytest.raises(CauseNotAvailable):
        redemption_create(member=funded, reward=donate, cause=trees)
    gift = RewardFactory(code="gift")
    other = CauseFactory(code="other")
    with pytest.raises(ValidationError):
        redemption_create(member=funded, reward=gift, cause=other)
    assert account_balance(member=funded).available == 1000
    assert not Redemption.objects.exists()


def test_a_reward_tied_to_a_cause_gives_to_it(funded, trees):
    reward = RewardFactory(code="plant", kind=Reward.Kind.DONATION, cause=trees, points_cost=250)
    redemption_create(member=funded, reward=reward)
    assert Donation.objects.get().cause == trees
    with pytest.raises(ValidationError):
        redemption_create(member=funded, reward=reward, cause=CauseFactory(code="else"))


def test_a_donation_is_final(funded, trees, donate):
    redemption = redemption_create(member=funded, reward=donate, cause=trees)
    with pytest.raises(DonationFinal):
        redemption_cancel(redemption=redemption, reason="changed my mind")
    assert account_balance(member=funded).available == 900


def test_totals_per_cause_and_month_reconcile_with_the_ledger(programme, rules, monkeypatch):
    trees = CauseFactory(code="trees", name="Trees", matching=Cause.Matching.SAME)
    cups = CauseFactory(code="cups", name="Cup recycling", kind=Cause.Kind.RECYCLING)
    donate = RewardFactory(code="donate", kind=Reward.Kind.DONATION, points_cost=50)
    members = [MemberFactory() for _ in range(3)]
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 10, 1, tzinfo=LONDON))
    for index, member in enumerate(members):
        points_earn(member=member, points=1000, idempotency_key=f"seed{index}")
    moments = [
        datetime(2026, 10, 31, 23, 59, tzinfo=LONDON),  # October, last minute
        datetime(2026, 11, 1, 0, 0, tzinfo=LONDON),  # November, first minute
        datetime(2026, 11, 15, 12, 0, tzinfo=LONDON),
    ]
    plan = [(0, trees, 2, 0), (1, trees, 1, 1), (1, cups, 3, 2), (2, cups, 1, 2)]
    for who, cause, quantity, when in plan:
        monkeypatch.setattr(timezone, "now", lambda when=when: moments[when])
        redemption_create(member=members[who], reward=donate, cause=cause, quantity=quantity)

    rows = donation_totals(period="month")
    by = {(row.period.month, row.cause_code): row for row in rows}
    assert by[(10, "trees")].points == 100 and by[(10, "trees")].donations == 2
    assert by[(11, "trees")].points == 50 and by[(11, "trees")].matched_points == 50
    assert by[(11, "cups")].points == 200 and by[(11, "cups")].members == 2
    assert by[(11, "cups")].matched_points == 0

    # reconciliation: the totals are exactly what left members' accounts for donations
    donation_entries = LedgerEntry.objects.filter(
        source_type="redemption",
        source_id__in=[str(pk) for pk in Donation.objects.values_list("redemption_id", flat=True)],
    )
    assert -donation_entries.aggregate(s=Sum("amount"))["s"] == sum(r.points for r in rows)
    assert sum(r.points for r in rows) == 350

    november = donation_totals(
        start=moments[1].date(), end=moments[2].date() + timedelta(days=1), period="year"
    )
    assert sum(r.points for r in november) == 250


def test_finance_reads_and_downloads_the_totals(client, funded, trees, donate):
    redemption_create(member=funded, reward=donate, cause=trees, quantity=2)
    roles_setup()
    finance = User.objects.create_user("fin", password="x-long-password-1", is_staff=True)
    finance.groups.add(Group.objects.get(name="Finance"))
    client.force_login(finance)
    url = reverse("admin:rewards_cause_totals")

    page = client.get(url)
    assert page.status_code == 200
    assert "Trees for Cities" in page.content.decode()
    assert "Download CSV" in page.content.decode()

    download = client.get(url, {"period": "month", "start": "", "end": "", "csv": "1"})
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert rows[0]["cause_code"] == "trees" and rows[0]["points"] == "200"

    bad = client.get(url, {"period": "month", "start": "2026-12-31", "end": "2026-01-01"})
    assert bad.status_code == 200 and "before the first day" in bad.content.decode()


def test_a_clerk_cannot_see_the_totals(client, programme):
    roles_setup()
    clerk = User.objects.create_user("till", password="x-long-password-1", is_staff=True)
    clerk.groups.add(Group.objects.get(name="Store clerk"))
    client.force_login(clerk)
    assert client.get(reverse("admin:rewards_cause_totals")).status_code == 403


def test_causes_and_donating_through_the_api(admin_api_client, funded, trees, donate):
    client = admin_api_client
    listed = client.get(reverse("rewards:cause-list"))
    assert listed.status_code == 200
    assert [c["code"] for c in listed.json()["results"]] == ["trees"]

    response = client.post(
        reverse("rewards:redemption-create"),
        {"member_id": funded.pk, "reward": "donate", "cause": "trees"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["redemption"]["voucher"] is None
    assert body["redemption"]["donation"]["cause"] == "trees"
    assert body["balance"]["available"] == 900

    missing = client.post(
        reverse("rewards:redemption-create"),
        {"member_id": funded.pk, "reward": "donate", "cause": "nowhere"},
        format="json",
    )
    assert missing.status_code == 404 and missing.json()["code"] == "cause_not_found"
