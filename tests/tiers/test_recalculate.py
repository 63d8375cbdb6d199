from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from loyalty.tiers.models import Tier, TierAssignment
from loyalty.tiers.selectors import tier_current_assignment
from loyalty.tiers.services import tier_assign, tier_recalculate
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.tiers.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def population(ladder, clock):
    """In 2025: one Silver (150), two Gold (600, 520), one Member (20), one with no tier yet."""
    clock.set(at(date(2025, 3, 1)))
    members = {name: MemberFactory() for name in ("silver", "gold1", "gold2", "member", "new")}
    for name, amount in (("silver", "150"), ("gold1", "600"), ("gold2", "520"), ("member", "20")):
        earn(members[name], amount, when=clock.now)
    clock.set(at(date(2025, 6, 1)))
    return members


def raise_gold_to(ladder, threshold):
    gold = ladder["gold"]
    gold.threshold = Decimal(threshold)
    gold.save()


def test_dry_run_reports_moves_and_changes_nothing(ladder, population):
    raise_gold_to(ladder, "550")
    rows = TierAssignment.objects.count()

    result = tier_recalculate(dry_run=True)

    assert result.moves == {("gold", "silver"): 1, ("", "member"): 1}
    assert result.before == {"member": 1, "silver": 1, "gold": 2, "platinum": 0, "": 1}
    assert result.after == {"member": 2, "silver": 2, "gold": 1, "platinum": 0}
    assert TierAssignment.objects.count() == rows
    assert tier_current_assignment(member_id=population["gold2"].pk).tier.code == "gold"


def test_recalculation_applies_the_moves_once(ladder, population, staff_user):
    raise_gold_to(ladder, "550")

    result = tier_recalculate(dry_run=False, actor=staff_user)

    assert result.moved == 2
    row = tier_current_assignment(member_id=population["gold2"].pk)
    assert (row.tier.code, row.reason, row.previous_tier.code, row.actor) == (
        "silver",
        TierAssignment.Reason.RECALCULATION,
        "gold",
        staff_user,
    )
    assert tier_current_assignment(member_id=population["new"].pk).tier.code == "member"
    assert tier_recalculate(dry_run=False).moved == 0


def test_recalculation_keeps_protected_manual_tiers(ladder, population, staff_user):
    tier_assign(
        member=population["member"],
        tier=ladder["platinum"],
        reason="VIP",
        actor=staff_user,
        manual_until=date(2025, 12, 31),
    )

    assert ("platinum", "member") not in tier_recalculate(dry_run=True).moves


def test_recalculation_lowering_a_threshold_upgrades(ladder, population):
    silver = ladder["silver"]
    silver.threshold = Decimal("20")
    silver.save()

    result = tier_recalculate(dry_run=False)

    assert result.moves[("member", "silver")] == 1
    assert tier_current_assignment(member_id=population["member"].pk).tier.code == "silver"


def test_command_dry_run_prints_distribution_before_and_after(ladder, population):
    raise_gold_to(ladder, "550")
    out, err = StringIO(), StringIO()

    call_command("recalculate_tiers", "--dry-run", stdout=out, stderr=err)

    text = out.getvalue()
    assert "before" in text and "after" in text
    assert [line.split() for line in text.splitlines() if line.startswith("gold ")] == [
        ["gold", "2", "1", "-1"]
    ]
    assert "gold -> silver: 1" in text
    assert "2 member(s) would move. Dry run: nothing was changed." in text
    assert tier_current_assignment(member_id=population["gold2"].pk).tier.code == "gold"


def test_command_applies(ladder, population):
    raise_gold_to(ladder, "550")
    out = StringIO()

    call_command("recalculate_tiers", stdout=out, stderr=StringIO())

    assert "2 member(s) moved." in out.getvalue()
    assert tier_current_assignment(member_id=population["gold2"].pk).tier.code == "silver"


def test_inconsistent_ladder_is_a_clear_command_error(ladder, population):
    raise_gold_to(ladder, "50")  # below Silver

    with pytest.raises(Exception, match="higher threshold"):
        call_command("recalculate_tiers", "--dry-run", stdout=StringIO(), stderr=StringIO())


def test_demo_ladder_loads_idempotently(programme):
    from loyalty.tiers import demo

    MemberFactory.create_batch(3)
    out = StringIO()
    demo.load(stdout=out)
    demo.load(stdout=out)

    assert list(Tier.objects.values_list("code", flat=True)) == [
        "member",
        "silver",
        "gold",
        "platinum",
    ]
    assert TierAssignment.objects.filter(valid_to__isnull=True).count() == 3
    assert TierAssignment.objects.count() == 3
