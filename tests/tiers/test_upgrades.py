"""Upgrades happen in the request that posts the purchase; benefits are applied and recorded."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError

from loyalty.core import config_cache
from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.services import points_redeem
from loyalty.tiers.models import Tier, TierAssignment
from loyalty.tiers.qualifying import qualifying_values
from loyalty.tiers.selectors import tier_current_assignment, tier_policy_get
from loyalty.tiers.services import tier_evaluate_member
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierAssignmentFactory
from tests.tiers.conftest import at

pytestmark = pytest.mark.django_db


def buy(clock, member, amount, day, hour=12):
    clock.set(at(day, hour))
    return earn(member, amount, when=clock.now)


def current(member):
    return tier_current_assignment(member_id=member.pk)


def test_first_purchase_below_any_threshold_gives_the_entry_tier(ladder, enrolled, clock):
    buy(clock, enrolled, "20.00", date(2025, 3, 1))

    row = current(enrolled)
    assert row.tier.code == "member"
    assert row.reason == TierAssignment.Reason.ENROLMENT
    assert row.previous_tier is None


def test_upgrade_in_the_posting_request_when_threshold_is_met_exactly(ladder, enrolled, clock):
    buy(clock, enrolled, "60.00", date(2025, 3, 1))
    assert current(enrolled).tier.code == "member"

    result = buy(clock, enrolled, "40.00", date(2025, 3, 2))  # 60 + 40 = 100 = Silver

    row = current(enrolled)
    assert row.tier.code == "silver"
    assert row.reason == TierAssignment.Reason.THRESHOLD
    assert row.previous_tier.code == "member"
    assert row.qualifying_value == Decimal("100")
    assert row.valid_from == clock.now
    assert result.points_earned == 40  # earned at the old tier's multiplier
    history = list(TierAssignment.objects.filter(member=enrolled).order_by("valid_from", "id"))
    assert [h.tier.code for h in history] == ["member", "silver"]
    assert history[0].valid_to == row.valid_from


def test_upgrade_through_the_purchase_api(ladder, enrolled, clock, staff_client):
    clock.set(at(date(2025, 3, 1)))

    response = staff_client.post(
        "/api/v1/ledger/purchases/",
        {
            "member_id": enrolled.pk,
            "channel": "store",
            "external_id": "API-1",
            "occurred_at": clock.now.isoformat(),
            "amount": "510.00",
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    row = current(enrolled)
    assert row.tier.code == "gold"  # straight past Silver
    gift = LedgerEntry.objects.get(source_type="tier_gift")
    assert gift.amount == 200 and gift.kind == LedgerEntry.Kind.BONUS
    assert gift.idempotency_key == f"tier-gift:{enrolled.pk}:{ladder['gold'].pk}"


def test_entry_gift_is_one_off_per_tier(ladder, enrolled, clock):
    buy(clock, enrolled, "100.00", date(2025, 3, 1))
    assert current(enrolled).tier.code == "silver"
    # dropped by staff, then earned again: no second gift
    row = current(enrolled)
    row.valid_to = clock.now
    row.save()
    TierAssignmentFactory(member=enrolled, tier=ladder["member"], valid_from=clock.now)

    buy(clock, enrolled, "1.00", date(2025, 3, 2))

    assert current(enrolled).tier.code == "silver"
    assert LedgerEntry.objects.filter(source_type="tier_gift").count() == 1


def test_gift_points_do_not_qualify(ladder, enrolled, clock):
    buy(clock, enrolled, "100.00", date(2025, 3, 1))  # Silver + 50 gift points

    values = qualifying_values(members=[enrolled], policy=tier_policy_get())

    assert values[enrolled.pk] == Decimal("100")


def test_tier_multiplier_is_applied_and_recorded_on_the_entry(ladder, enrolled, clock):
    TierAssignmentFactory(member=enrolled, tier=ladder["gold"], valid_from=at(date(2025, 2, 1)))

    result = buy(clock, enrolled, "10.00", date(2025, 3, 1))

    earn_entry = next(e for e in result.entries if e.kind == LedgerEntry.Kind.EARN)
    assert earn_entry.amount == 15  # 10 x 1.5
    assert {"source": "tier:gold", "name": "Gold tier", "multiplier": "1.50"} in earn_entry.rules


def test_redemption_never_affects_the_tier(ladder, enrolled, clock):
    buy(clock, enrolled, "120.00", date(2025, 3, 1))
    assert current(enrolled).tier.code == "silver"
    before = qualifying_values(members=[enrolled], policy=tier_policy_get())[enrolled.pk]

    points_redeem(
        member=enrolled, points=150, source_type="test", source_id="1", idempotency_key="r1"
    )
    tier_evaluate_member(member=enrolled)

    assert qualifying_values(members=[enrolled], policy=tier_policy_get())[enrolled.pk] == before
    assert current(enrolled).tier.code == "silver"


def test_one_current_tier_per_member_is_enforced_by_the_database(ladder, enrolled):
    TierAssignmentFactory(member=enrolled, tier=ladder["member"])
    with pytest.raises(IntegrityError):
        TierAssignmentFactory(member=enrolled, tier=ladder["silver"])


def test_no_tiers_defined_leaves_purchases_alone(programme, clock):
    member = MemberFactory()
    result = earn(member, "50.00", when=clock.now)

    assert result.points_earned == 50
    assert not TierAssignment.objects.exists()


def test_imported_history_upgrades_with_reason_import_and_no_gift(ladder, enrolled, clock):
    clock.set(at(date(2025, 3, 1)))
    earn(enrolled, "600.00", when=clock.now, channel="import")

    row = current(enrolled)
    assert (row.tier.code, row.reason) == ("gold", TierAssignment.Reason.IMPORT)
    assert not LedgerEntry.objects.filter(source_type="tier_gift").exists()


def test_entry_tier_multiplier_applies_before_any_assignment(ladder, enrolled, clock):
    entry = ladder["member"]
    entry.earn_multiplier = Decimal("2.00")
    entry.save()

    result = buy(clock, enrolled, "10.00", date(2025, 3, 1))

    assert result.points_earned == 20
    assert {"source": "tier:member", "name": "Member tier", "multiplier": "2.00"} in (
        result.entries[0].rules
    )


def test_a_broken_ladder_does_not_stop_purchases(ladder, enrolled, clock, caplog):
    Tier.objects.filter(code="gold").update(threshold=Decimal("50"))  # below Silver
    config_cache.stamp_bump()  # an UPDATE sends no signal: tell the caches

    result = buy(clock, enrolled, "600.00", date(2025, 3, 1))

    assert result.created and result.points_earned == 600
    assert current(enrolled) is None
    assert "tier upgrade skipped" in caplog.text
