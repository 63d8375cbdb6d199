"""The admin sidebar is grouped by the work staff do, technical apps last under "System", and
each role sees only the entries it may open."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from loyalty.core.admin_site import sidebar_navigation

pytestmark = pytest.mark.django_db


def groups_of(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return {
        str(g["title"]): [str(i["title"]) for i in g["items"]] for g in sidebar_navigation(request)
    }


def test_administrator_sees_work_groups_then_system(administrator):
    groups = groups_of(administrator)

    assert list(groups) == [
        "Members",
        "Points",
        "Rewards",
        "Campaigns",
        "Analytics",
        "Settings",
        "System",
    ]
    assert groups["Points"] == [
        "Purchases and returns",
        "Points ledger",
        "Earning rules",
        "Rule simulator",
        "Promo codes",
        "Expire all points",
    ]
    assert groups["Analytics"][0] == "KPI dashboard"
    assert {"Campaigns", "Segments", "Message templates"} <= set(groups["Campaigns"])
    assert {"Tokens", "Periodic tasks", "Access attempts", "API clients"} <= set(groups["System"])
    assert "Audit log" in groups["Settings"] and "Staff users" in groups["Settings"]


def test_marketing_and_finance_see_no_system_group(marketer, finance):
    marketing = groups_of(marketer)
    money = groups_of(finance)

    assert list(marketing) == ["Members", "Points", "Rewards", "Campaigns", "Analytics", "Settings"]
    assert "KPI dashboard" in money["Analytics"]
    assert "System" not in money and "Audit log" in money["Settings"]
    assert "Staff users" not in marketing["Settings"] + money["Settings"]


def test_clerk_sees_only_what_the_till_work_needs(clerk):
    groups = groups_of(clerk)

    assert groups == {
        "Members": ["Members", "Stores"],
        "Rewards": ["Rewards catalogue", "Vouchers"],
    }


def test_the_rendered_sidebar_follows_the_groups(client, finance, administrator):
    client.force_login(finance)
    finance_page = client.get(reverse("admin:index")).content.decode()
    client.force_login(administrator)
    admin_page = client.get(reverse("admin:index")).content.decode()

    assert "Rule simulator" in finance_page and "Periodic tasks" not in finance_page
    assert "Periodic tasks" in admin_page
