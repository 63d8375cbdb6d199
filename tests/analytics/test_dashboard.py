"""The KPI dashboard in the admin: who sees it, what its data says, its CSV downloads."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from loyalty.core.roles import roles_setup

JUNE = {"date_from": "2026-06-01", "date_to": "2026-06-30"}


@pytest.fixture
def role_user(django_user_model, history):
    roles_setup()

    def make(role):
        user = django_user_model.objects.create_user(
            username=role.lower().replace(" ", "-"), password="pass-123-pass", is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.mark.parametrize("role", ["Marketing", "Finance"])
def test_marketing_and_finance_open_the_dashboard(client, role_user, role):
    client.force_login(role_user(role))
    page = client.get(reverse("admin:analytics_dashboard_changelist"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "chart-earn-burn" in body and "vendor/chartjs/chart.umd.min.js" in body
    assert 'data-table="liability"' in body  # CSV links offered to both roles


def test_a_clerk_does_not_see_it(client, role_user):
    client.force_login(role_user("Store clerk"))
    assert client.get(reverse("admin:analytics_dashboard_changelist")).status_code == 403
    assert client.get(reverse("admin:analytics_dashboard_data"), JUNE).status_code == 403
    assert (
        client.get(reverse("admin:analytics_dashboard_csv", args=["earn_burn"]), JUNE).status_code
        == 403
    )


def test_data_cards_compare_with_the_previous_period(client, role_user):
    client.force_login(role_user("Marketing"))
    data = client.get(reverse("admin:analytics_dashboard_data"), JUNE).json()
    cards = {card["key"]: card for card in data["cards"]}
    assert cards["new_members"]["value"] == 2  # B and C; May had none
    assert cards["new_members"]["previous"] == 0
    assert cards["new_members"]["change_percent"] is None
    assert cards["member_aov"]["value"] == "60.0000"
    assert cards["points_issued"]["value"] == 180
    assert cards["liability"]["value"] == "2.40"
    assert data["tiers"]["labels"] == ["Silver", "Gold", "No tier"]
    assert len(data["earn_burn"]["labels"]) == 30
    assert sum(data["earn_burn"]["issued"]) == 180
    s2 = client.get(reverse("admin:analytics_dashboard_data"), {**JUNE, "store": "S2"}).json()
    assert {c["key"]: c["value"] for c in s2["cards"]}["points_issued"] == 0  # C, D: none in June


def test_bad_filters_get_field_errors(client, role_user):
    client.force_login(role_user("Finance"))
    response = client.get(
        reverse("admin:analytics_dashboard_data"),
        {"date_from": "2026-06-30", "date_to": "2026-06-01"},
    )
    assert response.status_code == 400
    assert "date_to" in response.json()["extra"]["fields"]
    page = client.get(reverse("admin:analytics_dashboard_changelist"), {**JUNE, "store": "ZZ"})
    assert page.status_code == 200 and "Select a valid choice" in page.content.decode()


def test_csv_download(client, role_user):
    client.force_login(role_user("Finance"))
    response = client.get(reverse("admin:analytics_dashboard_csv", args=["liability"]), JUNE)
    assert response.status_code == 200
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("month,opening,issued")
    assert lines[1].startswith("2026-06,60,180,0,0,0,0,240")
    missing = client.get(reverse("admin:analytics_dashboard_csv", args=["nope"]), JUNE)
    assert missing.status_code == 404


def test_snapshot_list_renders(client, superuser, history):
    from datetime import date

    from analytics.services import kpi_snapshot_day_build

    kpi_snapshot_day_build(day=date(2026, 6, 5))
    client.force_login(superuser)
    page = client.get(reverse("admin:analytics_kpisnapshot_changelist"))
    assert page.status_code == 200
    assert "All stores" in page.content.decode()


def test_data_stores_the_missing_snapshots_once(client, role_user):
    from datetime import date, timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from analytics.models import KpiSnapshot

    client.force_login(role_user("Marketing"))
    assert not KpiSnapshot.objects.exists()
    first = client.get(reverse("admin:analytics_dashboard_data"), JUNE).json()
    days = set(KpiSnapshot.objects.filter(store__isnull=True).values_list("day", flat=True))
    assert days == {
        date(2026, 5, 2) + timedelta(days=i) for i in range(60)
    }  # June and the 30 days before
    rows = KpiSnapshot.objects.count()
    with CaptureQueriesContext(connection) as queries:
        again = client.get(reverse("admin:analytics_dashboard_data"), JUNE).json()
    assert KpiSnapshot.objects.count() == rows
    written = [q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"].upper()]
    assert not [sql for sql in written if "analytics_kpisnapshot" in sql]
    assert again["cards"] == first["cards"]
    assert again["earn_burn"] == first["earn_burn"]
