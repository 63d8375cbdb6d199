"""#16.16: downgrade modes (at period end, never, as soon as the qualifying value falls) and a
floor tier per member, each across period ends; admin forms refuse contradictions."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from loyalty.ledger.models import LedgerEntry
from loyalty.ledger.services import return_record
from loyalty.tiers.models import TierAssignment, TierFloor
from loyalty.tiers.selectors import tier_current_assignment
from loyalty.tiers.services import tier_floor_set, tier_period_end_evaluate, tier_recalculate
from tests.factories.ledger import earn
from tests.factories.tiers import TierFloorFactory
from tests.tiers.conftest import at

pytestmark = pytest.mark.django_db
Reason = TierAssignment.Reason


def buy(clock, member, amount, day):
    clock.set(at(day))
    return earn(member, amount, when=clock.now)


def give_back(clock, purchase, amount, day):
    clock.set(at(day))
    return return_record(
        channel="store",
        external_id=f"R-{day}",
        occurred_at=clock.now,
        amount=Decimal(amount),
        original=purchase,
    )


def tier_of(member):
    return tier_current_assignment(member_id=member.pk).tier.code


def run(clock, day):
    clock.set(at(day, 1))
    return tier_period_end_evaluate(as_of=day)


@pytest.mark.parametrize(
    ("mode", "after_return", "after_2025", "after_2026", "after_2027"),
    [
        # today: a return never downgrades at once; each period end drops one tier at most
        ("period_end", "gold", "silver", "member", "member"),
        # a tier once reached is kept whatever happens
        ("never", "gold", "gold", "gold", "gold"),
        # the return drops the member at once; the closed year 2025 (420) keeps Silver through
        # 2026; with nothing in 2026 either, 1 January 2027 drops them to the entry tier
        ("immediate", "silver", "silver", "member", "member"),
    ],
)
def test_each_downgrade_mode_across_period_ends(
    ladder,
    policy,
    enrolled,
    clock,
    mode,
    after_return,
    after_2025,
    after_2026,
    after_2027,
):
    policy.downgrade_mode = mode
    policy.save()
    purchase = buy(clock, enrolled, "520.00", date(2025, 3, 1)).transaction
    assert tier_of(enrolled) == "gold"

    give_back(clock, purchase, "100.00", date(2025, 3, 5))  # 420 qualifying points: Silver
    assert tier_of(enrolled) == after_return
    if mode == "immediate":
        row = tier_current_assignment(member_id=enrolled.pk)
        assert (row.reason, row.qualifying_value) == (Reason.VALUE_FELL, Decimal("420"))

    run(clock, date(2025, 12, 31))  # the last day of the year changes nothing
    assert tier_of(enrolled) == after_return
    run(clock, date(2026, 1, 1))
    assert tier_of(enrolled) == after_2025
    run(clock, date(2026, 6, 1))
    assert tier_of(enrolled) == after_2025
    run(clock, date(2027, 1, 1))
    assert tier_of(enrolled) == after_2026
    count = TierAssignment.objects.filter(member=enrolled).count()
    run(clock, date(2027, 1, 1))  # the same day again changes nothing
    assert TierAssignment.objects.filter(member=enrolled).count() == count
    run(clock, date(2028, 1, 1))
    assert tier_of(enrolled) == after_2027


def test_never_mode_keeps_the_tier_in_a_recalculation(ladder, policy, enrolled, clock):
    policy.downgrade_mode = "never"
    policy.save()
    buy(clock, enrolled, "520.00", date(2025, 3, 1))
    ladder["gold"].threshold = Decimal("600")
    ladder["gold"].save()

    result = tier_recalculate(dry_run=False)

    assert result.moved == 0 and tier_of(enrolled) == "gold"


def test_never_mode_voids_a_grace_downgrade_left_from_period_end_mode(
    ladder, policy, enrolled, clock
):
    policy.grace_days = 30
    policy.save()
    buy(clock, enrolled, "520.00", date(2025, 3, 1))
    run(clock, date(2027, 1, 1))  # 2026 empty: Gold -> Silver due on 31 January
    assert tier_current_assignment(member_id=enrolled.pk).downgrade_due_on is not None
    policy.grace_days = 0
    policy.downgrade_mode = "never"
    policy.save()

    run(clock, date(2027, 2, 1))

    row = tier_current_assignment(member_id=enrolled.pk)
    assert (row.tier.code, row.downgrade_due_on) == ("gold", None)


def test_immediate_mode_downgrades_when_points_leave_a_rolling_window(
    ladder, policy, enrolled, clock
):
    policy.downgrade_mode = "immediate"
    policy.window = "rolling_12_months"
    policy.save()
    buy(clock, enrolled, "520.00", date(2025, 3, 10))
    assert tier_of(enrolled) == "gold"

    run(clock, date(2026, 3, 1))  # window 1 Mar 2025 - 28 Feb 2026 still holds the purchase
    assert tier_of(enrolled) == "gold"
    result = run(clock, date(2026, 4, 1))  # the purchase left both windows
    assert result.moves == {("gold", "member"): 1}
    assert tier_current_assignment(member_id=enrolled.pk).reason == Reason.VALUE_FELL


@pytest.mark.parametrize("mode", ["period_end", "never", "immediate"])
def test_a_floor_tier_holds_across_period_ends_in_every_mode(
    ladder, policy, enrolled, clock, admin_user, mode
):
    policy.downgrade_mode = mode
    policy.save()
    clock.set(at(date(2025, 2, 1)))

    tier_floor_set(member=enrolled, tier=ladder["gold"], reason="employee", actor=admin_user)

    row = tier_current_assignment(member_id=enrolled.pk)
    assert (row.tier.code, row.reason) == ("gold", Reason.FLOOR)
    assert not LedgerEntry.objects.filter(source_type="tier_gift").exists()  # no entry gift
    buy(clock, enrolled, "700.00", date(2025, 3, 1))  # x1.5 at Gold: 1050 points, Platinum
    assert tier_of(enrolled) == "platinum"
    for year in (2026, 2027, 2028, 2029):
        run(clock, date(year, 1, 1))
        assert tier_of(enrolled) in ({"platinum"} if mode == "never" else {"gold", "platinum"})
    assert tier_of(enrolled) == ("platinum" if mode == "never" else "gold")


def test_a_floor_holds_in_a_recalculation_and_on_a_return(
    ladder, policy, enrolled, clock, admin_user
):
    policy.downgrade_mode = "immediate"
    policy.save()
    tier_floor_set(member=enrolled, tier=ladder["silver"], reason="partner", actor=admin_user)
    purchase = buy(clock, enrolled, "520.00", date(2025, 3, 1)).transaction
    assert tier_of(enrolled) == "gold"

    give_back(clock, purchase, "520.00", date(2025, 3, 2))
    assert tier_of(enrolled) == "silver"  # fell at once, but not below the floor
    tier_recalculate(dry_run=False)
    assert tier_of(enrolled) == "silver"


def test_a_member_without_a_tier_gets_the_floor_from_the_job(ladder, enrolled, clock, admin_user):
    TierFloorFactory(member=enrolled, tier=ladder["gold"])
    run(clock, date(2025, 5, 1))
    assert tier_of(enrolled) == "gold"


def test_a_floor_above_the_programmes_highest_floor_tier_is_refused(
    ladder, policy, enrolled, admin_user
):
    policy.floor_max_tier = ladder["gold"]
    policy.save()
    with pytest.raises(ValidationError) as caught:
        tier_floor_set(member=enrolled, tier=ladder["platinum"], reason="x", actor=admin_user)
    assert "tier" in caught.value.message_dict
    assert not TierFloor.objects.exists()


# --- admin ------------------------------------------------------------------------------------


def test_admin_floor_form_refuses_a_floor_above_the_highest_floor_tier(
    admin_client, ladder, policy, enrolled
):
    policy.floor_max_tier = ladder["gold"]
    policy.save()
    response = admin_client.post(
        reverse("admin:tiers_tierfloor_add"),
        {"member": enrolled.pk, "tier": ladder["platinum"].pk, "reason": "partner"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["tier"]
    assert "above the highest floor tier of the programme (Gold)" in errors[0]
    assert not TierFloor.objects.exists()


def test_admin_floor_form_saves_through_the_service(admin_client, admin_user, ladder, enrolled):
    response = admin_client.post(
        reverse("admin:tiers_tierfloor_add"),
        {"member": enrolled.pk, "tier": ladder["gold"].pk, "reason": "employee"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    floor = TierFloor.objects.get()
    assert (floor.tier.code, floor.set_by, str(floor)) == (
        "gold",
        admin_user,
        f"{enrolled}: at least Gold",
    )
    assert tier_of(enrolled) == "gold"
    page = admin_client.get(reverse("admin:tiers_tierfloor_changelist")).content.decode()
    assert "employee" in page


def test_admin_policy_refuses_grace_days_outside_period_end_mode(admin_client, ladder, policy):
    response = admin_client.post(
        reverse("admin:tiers_tierpolicy_change", args=[1]),
        {
            "basis": "points",
            "window": "calendar_year",
            "downgrade_mode": "never",
            "grace_days": 30,
            "one_tier_down": "on",
        },
    )
    assert response.status_code == 200
    assert "Grace days only apply" in response.context["adminform"].form.errors["grace_days"][0]
    policy.refresh_from_db()
    assert (policy.downgrade_mode, policy.grace_days) == ("period_end", 0)


def test_admin_policy_form_explains_each_new_option(admin_client, ladder, policy):
    page = admin_client.get(reverse("admin:tiers_tierpolicy_change", args=[1])).content.decode()
    assert "Never: a tier once reached is kept" in page
    assert "e.g. Gold for staff and partners" in page
