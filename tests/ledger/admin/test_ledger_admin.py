import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from loyalty.ledger.models import LedgerEntry
from tests.factories.ledger import earn

pytestmark = pytest.mark.django_db


def test_member_page_shows_the_points(client, superuser, programme, member):
    earn(member, "42")
    client.force_login(superuser)

    page = client.get(reverse("admin:members_member_change", args=[member.pk]))

    assert page.status_code == 200
    assert b"<strong>42</strong> available" in page.content


def test_entries_and_transactions_are_read_only(client, superuser, programme, member):
    result = earn(member, "42")
    client.force_login(superuser)
    entry = result.entries[0]

    listing = client.get(reverse("admin:ledger_ledgerentry_changelist"))
    detail = client.get(reverse("admin:ledger_ledgerentry_change", args=[entry.pk]))
    post = client.post(
        reverse("admin:ledger_ledgerentry_change", args=[entry.pk]), {"amount": 1000}
    )
    delete = client.get(reverse("admin:ledger_ledgerentry_delete", args=[entry.pk]))
    txn = client.get(reverse("admin:ledger_transaction_change", args=[result.transaction.pk]))

    assert listing.status_code == 200 and detail.status_code == 200 and txn.status_code == 200
    assert post.status_code == 403 and delete.status_code == 403
    assert LedgerEntry.objects.get(pk=entry.pk).amount == 42


def test_adjust_points_action_asks_reason_and_records_the_user(
    client, staff_user, programme, member
):
    for codename in ("view_member", "change_member", "adjust_points"):
        staff_user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(staff_user)
    url = reverse("admin:members_member_changelist")
    data = {"action": "adjust_points", "_selected_action": [member.pk]}

    form = client.post(url, data)
    missing_reason = client.post(
        url, {**data, "apply": "1", "batch": "b1", "points": "10", "reason": ""}
    )
    client.post(
        url, {**data, "apply": "1", "batch": "b1", "points": "10", "reason": "birthday gesture"}
    )
    client.post(
        url, {**data, "apply": "1", "batch": "b1", "points": "10", "reason": "birthday gesture"}
    )

    assert form.status_code == 200 and b"reason" in form.content
    assert missing_reason.status_code == 200 and b"This field is required" in missing_reason.content
    entry = LedgerEntry.objects.get(kind="adjust")  # the double submit posted once
    assert (
        entry.amount == 10 and entry.created_by == staff_user and entry.reason == "birthday gesture"
    )


def test_adjust_points_needs_the_permission(client, staff_user, programme, member):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_member"))
    staff_user.user_permissions.add(Permission.objects.get(codename="change_member"))
    client.force_login(staff_user)

    client.post(
        reverse("admin:members_member_changelist"),
        {
            "action": "adjust_points",
            "_selected_action": [member.pk],
            "apply": "1",
            "points": "10",
            "reason": "x",
        },
    )

    assert not LedgerEntry.objects.exists()


def test_programme_settings_form_validates(client, superuser, programme):
    client.force_login(superuser)
    url = reverse("admin:ledger_programmesettings_change", args=[1])

    response = client.post(
        url,
        {
            "name": "P",
            "currency": "GBP",
            "time_zone": "Mars/Olympus",
            "points_per_unit": "1",
            "rounding": "floor",
            "minimum_spend": "0",
            "excluded_skus": "[]",
            "excluded_categories": "[]",
            "pending_days": "0",
            "expiry_policy": "months_after",
            "expiry_months": "12",
            "expiry_warning_days": "30",
            "point_value": "0.01",
            "return_policy": "debt",
        },
    )

    assert response.status_code == 200
    assert b"Unknown time zone" in response.content


# -- earning rules and promo codes (issue #16) --------------------------------------------------


def rule_data(**overrides):
    data = {
        "name": "Double on shirts",
        "kind": "multiplier",
        "active": "on",
        "priority": "100",
        "multiplier": "2",
        "points": "",
        "amount": "",
        # as a browser sends the widgets: empty tag inputs, no box ticked (no key at all)
        "skus": "",
        "categories": "",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
        "min_quantity": "",
        "min_matching_amount": "",
        "required_skus": "",
        "max_uses_total": "",
        "max_uses_per_member": "",
        "max_uses_per_period": "",
        "usage_period": "",
    }
    data.update(overrides)
    return data


def test_rule_form_keeps_a_multiplier_of_zero_apart_from_not_set(client, superuser, programme):
    from loyalty.ledger.models import EarningRule

    client.force_login(superuser)
    url = reverse("admin:ledger_earningrule_add")

    # x0 on the whole basket asks for the sweeping-rule confirmation (loyalty/ledger/admin_forms.py)
    saved = client.post(
        url, rule_data(name="Gift cards earn nothing", multiplier="0", confirm_sweeping="on")
    )
    missing = client.post(url, rule_data(name="No value", multiplier=""))

    assert saved.status_code == 302
    assert EarningRule.objects.get(name="Gift cards earn nothing").multiplier == 0
    assert missing.status_code == 200 and not EarningRule.objects.filter(name="No value").exists()
    assert b"Required for a multiply points rule" in missing.content


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_uses_total": "0"}, b"greater than or equal to 1"),
        ({"max_uses_per_period": "2"}, b"Choose the period the per-period cap counts in"),
        (
            {
                "starts_at_0": "2026-02-01",
                "starts_at_1": "00:00",
                "ends_at_0": "2026-01-01",
                "ends_at_1": "00:00",
            },
            b"Must be after the start",
        ),
    ],
)
def test_rule_form_refuses_contradictions(client, superuser, programme, overrides, message):
    from loyalty.ledger.models import EarningRule

    client.force_login(superuser)

    page = client.post(reverse("admin:ledger_earningrule_add"), rule_data(**overrides))

    assert page.status_code == 200 and message in page.content
    assert not EarningRule.objects.exists()


def test_rule_form_conditions_and_caps_are_saved_with_help(client, superuser, programme):
    from loyalty.ledger.models import EarningRule

    client.force_login(superuser)
    url = reverse("admin:ledger_earningrule_add")
    form = client.get(url)

    saved = client.post(
        url,
        rule_data(
            stop_further="on",
            min_quantity="3",
            required_skus="85123A, 22423",
            max_uses_per_period="2",
            usage_period="week",
        ),
    )

    assert (
        b"E.g. 3 for" in form.content and b"buy 3 shirts" in form.content
    )  # help text with an example
    assert b"stop further rules" in form.content.lower()
    assert saved.status_code == 302
    rule = EarningRule.objects.get()
    assert rule.stop_further and rule.min_quantity == 3 and rule.usage_period == "week"
    assert rule.required_skus == ["85123A", "22423"]


def test_promo_code_admin_shows_uses_and_refuses_contradictions(
    client, superuser, programme, member
):
    from loyalty.ledger.models import EarningRule, PromoCode
    from tests.factories.ledger import EarningRuleFactory

    rule = EarningRuleFactory(
        name="Spring", kind=EarningRule.Kind.FIXED_BONUS, multiplier=None, points=10,
        requires_promo_code=True,
    )  # fmt: skip
    PromoCode.objects.create(code="SPRING", rule=rule, max_uses=5)
    earn(member, "10", promo_code="SPRING")
    earn(member, "10", promo_code="SPRING")
    client.force_login(superuser)

    listing = client.get(reverse("admin:ledger_promocode_changelist"))
    bad = client.post(
        reverse("admin:ledger_promocode_add"),
        {
            "code": "winter",
            "rule": rule.pk,
            "active": "on",
            "max_uses": "0",
            "starts_at_0": "2026-02-01",
            "starts_at_1": "00:00",
            "ends_at_0": "2026-01-01",
            "ends_at_1": "00:00",
        },
    )
    good = client.post(
        reverse("admin:ledger_promocode_add"),
        {"code": "winter", "rule": rule.pk, "active": "on", "max_uses": "1"},
    )

    assert listing.status_code == 200
    assert b"times used" in listing.content.lower()
    assert b'<td class="field-times_used' in listing.content and b">2</td>" in listing.content
    assert bad.status_code == 200 and b"Must be after" in bad.content
    assert b"greater than or equal to 1" in bad.content
    assert good.status_code == 302
    assert PromoCode.objects.filter(code="WINTER", max_uses=1).exists()  # stored in capitals


def test_member_page_says_who_made_each_entry(client, superuser, staff_user, programme, member):
    from loyalty.ledger.services import points_adjust
    from tests.factories.integrations import ApiClientFactory

    points_adjust(member=member, points=7, reason="goodwill", actor=staff_user, idempotency_key="a")
    earn(member, "5", actor=ApiClientFactory(name="Till 9").user)
    client.force_login(superuser)

    page = client.get(reverse("admin:members_member_change", args=[member.pk])).content.decode()

    assert "Adjustment +7 &rarr; 7 <em>goodwill</em> by " + staff_user.get_username() in page
    assert "by API client Till 9" in page
