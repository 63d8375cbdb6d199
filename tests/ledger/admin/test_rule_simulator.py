"""The rule simulator: a basket in, what it earns and which rules applied, from earn_quote (the
quote service purchases use); nothing is written."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from loyalty.ledger.models import LedgerEntry, Transaction
from loyalty.ledger.services import LineInput, earn_quote
from tests.factories.ledger import EarningRuleFactory
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db
URL = reverse("admin:ledger_earningrule_simulate")
LONDON = ZoneInfo("Europe/London")


def next_saturday() -> datetime:
    today = timezone.localdate()
    day = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
    return datetime(day.year, day.month, day.day, 11, 0, tzinfo=LONDON)


@pytest.fixture
def weekend(programme):
    StoreFactory(code="LDN01")
    return EarningRuleFactory(name="Weekend", multiplier=Decimal("1.5"), weekdays=[5, 6])


def test_simulator_shows_points_and_the_rules_that_applied(client, superuser, weekend):
    saturday = next_saturday()
    client.force_login(superuser)

    page = client.get(
        URL,
        {
            "channel": "store",
            "store": "LDN01",
            "occurred_at": f"{saturday:%Y-%m-%dT%H:%M}",
            "line0_sku": "COFFEE",
            "line0_category": "Drinks",
            "line0_quantity": "2",
            "line0_price": "10.00",
        },
    )

    assert page.status_code == 200
    assert page.context["form"].errors == {}
    result = page.context["result"]
    expected = earn_quote(
        member=None,
        channel="store",
        amount=Decimal("20.00"),
        occurred_at=saturday,
        lines=[LineInput(sku="COFFEE", category="Drinks", quantity=2, unit_price=Decimal(10))],
        allow_future=True,
    )
    assert result.total == expected.total == 30
    html = page.content.decode()
    assert "Earns 30 points" in html
    assert "Weekend: x1.5" in html and "x1.5 points, on Saturday and Sunday" in html
    assert Transaction.objects.count() == 0 and LedgerEntry.objects.count() == 0


def test_on_a_weekday_the_weekend_rule_does_not_apply(client, superuser, weekend):
    monday = next_saturday() + timedelta(days=2)
    client.force_login(superuser)

    page = client.get(
        URL, {"channel": "store", "amount": "20.00", "occurred_at": f"{monday:%Y-%m-%dT%H:%M}"}
    )

    assert page.context["result"].total == 20
    assert "Weekend: x1.5" not in page.content.decode()


def test_a_member_brings_their_caps(client, superuser, programme):
    member = MemberFactory()
    EarningRuleFactory(name="Cap", kind="cap_transaction", multiplier=None, points=5)
    client.force_login(superuser)

    page = client.get(URL, {"channel": "web", "amount": "20.00", "member": member.member_number})

    assert page.context["result"].total == 5
    assert "Cap: capped from 20 points" in page.content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "store"}, "amount"),  # no amount, no lines
        ({"channel": "store", "amount": "-3"}, "amount"),
        ({"channel": "store", "amount": "1e400"}, "amount"),
        ({"channel": "nope", "amount": "3"}, "channel"),
        ({"channel": "store", "amount": "3", "member": "123"}, "member"),
        ({"channel": "store", "amount": "3", "occurred_at": "yesterday"}, "occurred_at"),
        ({"channel": "store", "line0_sku": "A", "line0_quantity": "1"}, "line0_sku"),
        ({"channel": "store", "amount": "3", "store": "999999"}, "store"),
    ],
)
def test_bad_baskets_are_form_errors(client, superuser, programme, params, field):
    client.force_login(superuser)

    page = client.get(URL, params)

    assert page.status_code == 200
    assert field in page.context["form"].errors
    assert page.context["result"] is None


def test_the_simulator_is_linked_from_the_rules_page(client, superuser, programme):
    client.force_login(superuser)

    listing = client.get(reverse("admin:ledger_earningrule_changelist")).content.decode()

    assert URL in listing


def test_only_staff_who_may_see_rules_can_simulate(client, staff_user, programme):
    client.force_login(staff_user)
    refused = client.get(URL)
    staff_user.user_permissions.add(Permission.objects.get(codename="view_earningrule"))

    assert refused.status_code == 403
    assert client.get(URL).status_code == 200


def test_a_ledger_entry_says_how_it_was_worked_out_in_words(client, superuser, weekend):
    from tests.factories.ledger import earn

    saturday = next_saturday() - timedelta(days=14)  # a past Saturday: a real purchase
    entry = earn(MemberFactory(), "20.00", when=saturday).entries[0]
    client.force_login(superuser)

    html = client.get(reverse("admin:ledger_ledgerentry_change", args=[entry.pk])).content.decode()

    assert "Base rate: 1.0000 points per currency unit" in html
    assert "Weekend: x1.5" in html
    assert "&quot;step&quot;" not in html and '"step"' not in html


@pytest.fixture
def gold_and_weekend(weekend):
    from tests.factories.tiers import TierPolicyFactory, standard_ladder

    TierPolicyFactory()
    return standard_ladder()["gold"]


def test_a_tier_without_a_member_is_quoted_like_a_real_purchase_by_that_tier(
    client, superuser, gold_and_weekend
):
    """#23.10 "member or tier": the simulator quotes for a tier through earn_quote, and a real
    purchase by a member holding that tier posts exactly what it quoted."""
    from loyalty.tiers.models import TierAssignment
    from tests.factories.ledger import earn
    from tests.factories.tiers import TierAssignmentFactory

    saturday = next_saturday()
    client.force_login(superuser)

    page = client.get(
        URL,
        {
            "channel": "store",
            "store": "LDN01",
            "tier": "gold",
            "occurred_at": f"{saturday:%Y-%m-%dT%H:%M}",
            "amount": "20.00",
        },
    )

    assert page.context["form"].errors == {}
    html = page.content.decode()
    assert "Earns 45 points" in html  # 20 x1.5 (weekend) x1.5 (gold)
    assert "Weekend: x1.5" in html and "Gold tier: x1.5" in html
    assert Transaction.objects.count() == 0 and LedgerEntry.objects.count() == 0
    # the same engine: a gold member's purchase on a (past) Saturday posts what was quoted
    member = MemberFactory()
    TierAssignment.objects.filter(member=member).delete()
    TierAssignmentFactory(member=member, tier=gold_and_weekend)
    posted = earn(member, "20.00", when=saturday - timedelta(days=14))
    assert sum(e.amount for e in posted.entries) == page.context["result"].total == 45


def test_no_tier_quotes_the_base_and_the_tier_choice_lists_the_ladder(
    client, superuser, gold_and_weekend
):
    client.force_login(superuser)

    page = client.get(URL, {"channel": "web", "amount": "20.00"})
    choices = [code for code, _label in page.context["form"].fields["tier"].choices]

    assert page.context["result"].total == 20
    assert choices == ["", "member", "silver", "gold", "platinum"]
    assert "Gold (x1.5)" in page.content.decode()


def test_a_member_and_a_tier_together_are_refused(client, superuser, gold_and_weekend):
    member = MemberFactory()
    client.force_login(superuser)

    page = client.get(
        URL, {"channel": "web", "amount": "20", "member": member.member_number, "tier": "gold"}
    )

    assert "tier" in page.context["form"].errors and page.context["result"] is None


@pytest.mark.parametrize("tier", ["diamond", "<script>"])
def test_an_unknown_tier_is_a_form_error(client, superuser, gold_and_weekend, tier):
    client.force_login(superuser)

    page = client.get(URL, {"channel": "web", "amount": "20", "tier": tier})

    assert page.status_code == 200
    assert "tier" in page.context["form"].errors and page.context["result"] is None


def test_the_quote_service_refuses_an_unknown_tier_or_a_tier_with_a_member(gold_and_weekend):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as unknown:
        earn_quote(member=None, channel="web", amount=Decimal("5"), tier_code="diamond")
    with pytest.raises(ValidationError) as both:
        earn_quote(member=MemberFactory(), channel="web", amount=Decimal("5"), tier_code="gold")

    assert "tier" in unknown.value.message_dict and "tier" in both.value.message_dict
    quoted = earn_quote(member=None, channel="web", amount=Decimal("10"), tier_code="platinum")
    assert quoted.total == 20
    assert {"source": "tier:platinum"}.items() <= next(
        s for s in quoted.applied if s.get("source") == "tier:platinum"
    ).items()
