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
