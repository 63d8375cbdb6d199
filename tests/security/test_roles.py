"""Staff roles: the groups exist after migrate, setup_roles is idempotent, and each role can
do what docs/security.md says and nothing more, in the admin and the API."""

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.urls import reverse

from loyalty.core.roles import ROLES, Role, role_permissions, roles_setup
from loyalty.ledger.models import EarningRule, LedgerEntry
from tests.factories.ledger import EarningRuleFactory

pytestmark = pytest.mark.django_db

ROLE_NAMES = {"Marketing", "Store clerk", "Finance", "Administrator", "Customer service"}


def _perms(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_migrate_created_the_role_groups():
    # the test database was built by migrate: the post_migrate hook made the groups
    assert set(Group.objects.values_list("name", flat=True)) >= ROLE_NAMES
    assert "members.use_clerk_screen" in _perms("Store clerk")


def test_setup_roles_is_idempotent_and_removes_hand_made_grants(capsys):
    clerk = Group.objects.get(name="Store clerk")
    clerk.permissions.add(Permission.objects.get(codename="adjust_points"))
    before = {name: _perms(name) for name in ROLE_NAMES}

    call_command("setup_roles")
    call_command("setup_roles")

    assert Group.objects.filter(name__in=ROLE_NAMES).count() == 5
    assert "ledger.adjust_points" not in _perms("Store clerk")
    assert _perms("Marketing") == before["Marketing"]
    assert "Store clerk: 11 permission(s)" in capsys.readouterr().out


def test_patterns_for_missing_models_are_skipped_and_negation_removes():
    permissions = list(Permission.objects.select_related("content_type"))
    role = Role("x", ("nosuchapp.view_thing", "ledger.*_earningrule", "!ledger.delete_*"))
    labels = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in role_permissions(role=role, permissions=permissions)
    }
    assert labels == {
        "ledger.add_earningrule",
        "ledger.change_earningrule",
        "ledger.view_earningrule",
    }


def test_each_role_is_defined_once_with_grants():
    assert {r.name for r in ROLES} == ROLE_NAMES and len(ROLES) == 5
    assert all(count > 0 for count in roles_setup().values())


def test_roles_grant_what_the_api_scopes_need():
    clerk = _perms("Store clerk")
    # transactions:write, members:read, members:write (enrol), rewards:redeem, vouchers:consume
    assert {
        "ledger.add_transaction",
        "members.view_member",
        "members.add_member",
        "rewards.add_redemption",
        "rewards.change_voucher",
    } <= clerk
    assert not {p for p in clerk if ".export_" in p or ".import_" in p or "adjust" in p}
    assert not {p for p in clerk if p.startswith("ledger.") and "programmesettings" in p}


def test_marketing_finance_and_administrator_grants():
    marketing, finance, admin = _perms("Marketing"), _perms("Finance"), _perms("Administrator")
    assert {
        "ledger.change_programmesettings",
        "ledger.add_earningrule",
        "tiers.change_tier",
        "rewards.change_reward",
        "members.import_member",
        "members.export_member",
    } <= marketing
    assert "ledger.adjust_points" not in marketing
    assert not {p for p in marketing | finance if ".delete_" in p}
    assert {"members.export_member", "ledger.export_ledgerentry", "ledger.view_earningrule"} <= (
        finance
    )
    assert not {p for p in finance if p.split(".")[1].startswith(("add_", "change_"))}
    assert "members.import_member" not in finance
    assert admin == {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }


# --- the clerk in the admin -----------------------------------------------------------------


def test_clerk_is_not_offered_the_adjust_points_action(client, clerk, my_member):
    client.force_login(clerk)
    page = client.get(reverse("admin:members_member_changelist"))
    assert page.status_code == 200
    # a clerk may run no bulk action on members (not even "set tier"): no action box at all
    form = page.context["action_form"]
    actions = dict(form.fields["action"].choices) if form is not None else {}
    assert "adjust_points" not in actions and "set_tier" not in actions
    assert "export_member_data" not in actions
    assert "erase_members" not in actions and "suspend_members" not in actions


def test_clerk_posting_the_adjust_points_action_changes_nothing(
    client, clerk, programme, my_member
):
    client.force_login(clerk)
    response = client.post(
        reverse("admin:members_member_changelist"),
        {
            "action": "adjust_points",
            "_selected_action": [my_member.pk],
            "apply": "1",
            "batch": "b1",
            "points": "500",
            "reason": "friend",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert not LedgerEntry.objects.exists()
    assert b"adjusted" not in response.content.lower()


def test_clerk_cannot_adjust_points_through_the_api(client, clerk, programme, my_member):
    client.force_login(clerk)
    response = client.post(
        reverse("ledger:adjustment-create"),
        {"member_id": my_member.pk, "points": 500, "reason": "friend", "idempotency_key": "k1"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert not LedgerEntry.objects.exists()


def test_clerk_cannot_export_members(client, clerk, my_member):
    client.force_login(clerk)
    changelist = client.get(reverse("admin:members_member_changelist"))
    export_url = reverse("admin:members_member_export")
    assert export_url.encode() not in changelist.content
    assert client.get(export_url).status_code == 403
    assert client.post(export_url, {"format": "0", "resource": "0"}).status_code == 403


def test_clerk_cannot_export_personal_data_by_posting_the_action(client, clerk, my_member):
    client.force_login(clerk)
    response = client.post(
        reverse("admin:members_member_changelist"),
        {"action": "export_member_data", "_selected_action": [my_member.pk]},
    )
    # refused: back to the list ("no action selected"), or the list itself when the clerk is
    # offered no action at all
    assert response.status_code in (200, 302)
    assert response.get("Content-Disposition") is None
    assert response.get("Content-Type", "").startswith("text/html")


def test_restricted_clerk_sees_only_their_store_in_the_member_admin(
    client, clerk, my_member, their_member
):
    client.force_login(clerk)
    listing = client.get(reverse("admin:members_member_changelist"))
    shown = list(listing.context["cl"].result_list)
    assert shown == [my_member]

    mine = client.get(reverse("admin:members_member_change", args=[my_member.pk]))
    theirs = client.get(reverse("admin:members_member_change", args=[their_member.pk]))
    assert mine.status_code == 200
    assert theirs.status_code == 302 and theirs["Location"] == reverse("admin:index")
    assert their_member.last_name.encode() not in client.get(theirs["Location"]).content


def test_unrestricted_clerk_sees_every_store(client, clerk, my_member, their_member):
    clerk.staff_profile.restricted_to_store = False
    clerk.staff_profile.save()
    client.force_login(clerk)
    listing = client.get(reverse("admin:members_member_changelist"))
    assert set(listing.context["cl"].result_list) == {my_member, their_member}


def test_clerk_cannot_open_programme_settings_or_rules(client, clerk, programme):
    client.force_login(clerk)
    url = reverse("admin:ledger_programmesettings_change", args=[programme.pk])
    assert client.get(url).status_code == 403
    assert client.get(reverse("admin:ledger_earningrule_changelist")).status_code == 403


def test_clerk_cannot_change_a_member_in_the_admin(client, clerk, my_member):
    client.force_login(clerk)
    url = reverse("admin:members_member_change", args=[my_member.pk])
    response = client.post(url, {"first_name": "Changed", "last_name": "By clerk"})
    assert response.status_code == 403
    my_member.refresh_from_db()
    assert my_member.first_name != "Changed"


# --- marketing and finance ------------------------------------------------------------------


def _rule_form(rule: EarningRule, **changes: Any) -> dict[str, Any]:
    data = {
        "name": rule.name,
        "kind": rule.kind,
        "active": "on",
        "priority": rule.priority,
        "multiplier": str(rule.multiplier),
        "points": rule.points if rule.points is not None else "",
        "amount": rule.amount if rule.amount is not None else "",
        "skus": "",  # tag inputs; stores, channels and weekdays: no box ticked
        "categories": "",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
    }
    data.update(changes)
    return data


def test_marketing_can_edit_earning_rules(client, marketer, programme):
    rule = EarningRuleFactory(name="Double points")
    client.force_login(marketer)
    url = reverse("admin:ledger_earningrule_change", args=[rule.pk])
    response = client.post(url, _rule_form(rule, multiplier="3"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule.refresh_from_db()
    assert str(rule.multiplier) == "3.00" or rule.multiplier == 3


def test_marketing_can_open_programme_settings_and_export(client, marketer, programme, my_member):
    client.force_login(marketer)
    url = reverse("admin:ledger_programmesettings_change", args=[programme.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'name="_save"' in page.content
    assert client.get(reverse("admin:members_member_export")).status_code == 200


def test_finance_can_view_but_not_change(client, finance, programme):
    rule = EarningRuleFactory(name="Weekend bonus")
    client.force_login(finance)
    url = reverse("admin:ledger_earningrule_change", args=[rule.pk])
    page = client.get(url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(url, _rule_form(rule, multiplier="9")).status_code == 403
    rule.refresh_from_db()
    assert rule.multiplier == 2
    settings_url = reverse("admin:ledger_programmesettings_change", args=[programme.pk])
    assert client.get(settings_url).status_code == 200
    assert client.post(settings_url, {"name": "Hacked"}).status_code == 403


def test_finance_can_export_members_and_ledger_entries(client, finance, my_member):
    client.force_login(finance)
    assert client.get(reverse("admin:members_member_export")).status_code == 200
    page = client.get(reverse("admin:ledger_ledgerentry_changelist"))
    assert "export_csv" in dict(page.context["action_form"].fields["action"].choices)


def test_marketing_cannot_adjust_points(client, marketer, programme, my_member):
    client.force_login(marketer)
    page = client.get(reverse("admin:members_member_changelist"))
    assert "adjust_points" not in dict(page.context["action_form"].fields["action"].choices)


def test_roles_hold_the_permissions_the_api_scopes_map_to():
    from loyalty.core.scopes import SCOPE_PERMISSIONS

    existing = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }

    def can(role: str, scope: str) -> bool:
        needed = set(SCOPE_PERMISSIONS[scope]) & existing
        return bool(needed) and needed <= _perms(role)

    for scope in ("members:read", "transactions:write", "rewards:redeem", "vouchers:consume"):
        assert can("Store clerk", scope), scope
    assert not can("Store clerk", "members:write")  # enrolment yes, editing members no
    assert can("Finance", "members:read") and can("Marketing", "members:read")
    assert not can("Finance", "transactions:write")
    for scope in SCOPE_PERMISSIONS:
        if set(SCOPE_PERMISSIONS[scope]) & existing:
            assert can("Administrator", scope), scope
