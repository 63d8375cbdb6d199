"""The earning-rule form: real widgets instead of JSON, the rule in words on the list,
confirmation for rules that change every purchase a lot, contradictions refused."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from loyalty.ledger.models import EarningRule, ProgrammeSettings
from tests.factories.ledger import EarningRuleFactory
from tests.factories.members import StoreFactory

pytestmark = pytest.mark.django_db
ADD = reverse("admin:ledger_earningrule_add")
LONDON = ZoneInfo("Europe/London")


def form(**changes):
    data = {
        "name": "Weekend x1.5",
        "kind": "multiplier",
        "active": "on",
        "priority": "100",
        "multiplier": "1.5",
        "points": "",
        "amount": "",
        "skus": "",
        "categories": "",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def stores(db):
    return StoreFactory(code="LDN01", name="Covent Garden"), StoreFactory(code="LDN02")


def test_form_has_widgets_not_json(client, superuser, stores):
    client.force_login(superuser)

    html = client.get(ADD).content.decode()

    assert 'data-tags="1"' in html and 'name="skus"' in html and 'name="categories"' in html
    assert 'type="checkbox" name="weekdays" value="5"' in html and "Saturday" in html
    assert 'type="checkbox" name="store_codes" value="LDN01"' in html
    assert 'type="checkbox" name="channels" value="web"' in html
    assert "backoffice/tags.js" in html
    assert "[]" not in html.split('name="skus"')[1][:200]


def test_weekend_multiplier_saved_from_the_widgets(client, superuser, stores):
    client.force_login(superuser)

    response = client.post(
        ADD,
        {
            **form(skus="COFFEE-250G, TEA-100\nCOFFEE-250G", categories="Bakery"),
            "weekdays": ["5", "6"],
            "store_codes": ["LDN01", "LDN02"],
            "channels": ["store"],
            "ends_at_0": "2026-12-31",
            "ends_at_1": "23:59",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = EarningRule.objects.get()
    assert rule.skus == ["COFFEE-250G", "TEA-100"] and rule.categories == ["Bakery"]
    assert rule.weekdays == [5, 6] and rule.store_codes == ["LDN01", "LDN02"]
    assert rule.channels == ["store"]


def test_rule_in_words_on_the_list(client, superuser, programme):
    EarningRuleFactory(
        name="Weekend",
        multiplier=Decimal("1.5"),
        weekdays=[5, 6],
        store_codes=["A", "B"],
        ends_at=datetime(2027, 1, 1, tzinfo=LONDON),
    )
    EarningRuleFactory(name="Welcome", kind="fixed_bonus", multiplier=None, points=50)
    client.force_login(superuser)

    html = client.get(reverse("admin:ledger_earningrule_changelist")).content.decode()

    assert "x1.5 points, on Saturday and Sunday, at stores A and B, until 31 Dec 2026" in html
    assert "+50 bonus points, on every purchase" in html


def test_describe_covers_each_kind_and_scope():
    rule = EarningRule(kind="cap_day", points=1000, channels=["web", "app"], categories=["Tea"])
    assert rule.describe() == (
        "at most 1,000 points per member per day, on category Tea, through Web shop and App"
    )
    assert EarningRule(kind="minimum_spend", amount=Decimal("10.00")).describe() == (
        "no points below a spend of 10, on every purchase"
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"multiplier": "5"},  # x5 on everything
        {"multiplier": "0"},  # nothing earns anywhere
        {"kind": "minimum_spend", "multiplier": "", "amount": "5000"},
    ],
)
def test_sweeping_rules_ask_for_confirmation(client, superuser, programme, changes):
    client.force_login(superuser)

    first = client.post(ADD, form(**changes))
    confirmed = client.post(ADD, form(**changes, confirm_sweeping="on"))

    assert first.status_code == 200
    assert "Tick to confirm" in str(first.context["adminform"].form.errors["confirm_sweeping"])
    assert confirmed.status_code == 302
    assert EarningRule.objects.count() == 1


def test_a_scoped_big_multiplier_needs_no_confirmation(client, superuser, programme):
    client.force_login(superuser)

    response = client.post(ADD, form(multiplier="5", categories="Clearance"))

    assert response.status_code == 302


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "fixed_bonus", "points": "50", "multiplier": "2"}, "multiplier"),
        ({"kind": "multiplier", "points": "50"}, "points"),
        ({"kind": "cap_transaction", "multiplier": "", "points": "10", "amount": "5"}, "amount"),
        ({"kind": "fixed_bonus", "multiplier": "", "points": "5", "skus": "A1"}, "skus"),
        ({"kind": "minimum_spend", "multiplier": "", "amount": "-5"}, "amount"),
        ({"multiplier": "not a number"}, "multiplier"),
        ({"skus": "x" * 65}, "skus"),
        ({"weekdays": ["9"]}, "weekdays"),
        ({"store_codes": ["NOPE"]}, "store_codes"),
    ],
)
def test_contradictions_and_bad_values_are_refused(client, superuser, programme, changes, field):
    client.force_login(superuser)

    response = client.post(ADD, form(**changes))

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert EarningRule.objects.count() == 0


def test_programme_settings_exclusions_are_tag_inputs(client, superuser, programme):
    client.force_login(superuser)
    url = reverse("admin:ledger_programmesettings_change", args=[1])

    page = client.get(url).content.decode()

    assert 'name="excluded_skus"' in page and 'data-tags="1"' in page
    settings = ProgrammeSettings.objects.get()
    assert settings.excluded_skus == []
