"""KPI API: every KPI for a range with filters, field errors, scopes, CSV of every table."""

import csv
import io

import pytest
from django.urls import reverse

from analytics.api.views import VIEWS
from loyalty.integrations.services import api_client_create

JUNE = {"from": "2026-06-01", "to": "2026-06-30"}


@pytest.mark.parametrize("name", list(VIEWS))
def test_every_kpi_answers_for_a_range(history, staff_client, name):
    response = staff_client.get(reverse(f"analytics:{name}"), {**JUNE, "store": "S1"})
    assert response.status_code == 200, response.content
    assert response.json()["filters"] == {**JUNE, "store": "S1", "tier": None}
    assert "data" in response.json()


@pytest.mark.parametrize("name", list(VIEWS))
def test_every_kpi_exports_as_csv(history, staff_client, name):
    response = staff_client.get(reverse(f"analytics:{name}-csv"), JUNE)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"{name}_2026-06-01_2026-06-30.csv" in response["Content-Disposition"]
    header = next(csv.reader(io.StringIO(response.content.decode())))
    assert header  # a table with a header row


def test_values_match_the_hand_computed_ones(history, staff_client):
    data = staff_client.get(reverse("analytics:repeat_purchase_rate"), JUNE).json()["data"]
    assert data == {"buyers": 2, "repeat_buyers": 1, "rate": "0.5000"}
    body = staff_client.get(reverse("analytics:average_order_value-csv"), JUNE).content.decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert {row["group"]: row["aov"] for row in rows} == {
        "members": "60.00",
        "non_members": "25.00",
        "all": "46.00",
    }
    tiers = staff_client.get(reverse("analytics:tier_distribution"), {**JUNE, "tier": "gold"})
    assert tiers.json()["data"] == [
        {"tier": "gold", "name": "Gold", "members": 1, "share": "1.0000"}
    ]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"from": "2026-06-30", "to": "2026-06-01"}, 422, "to"),
        ({**JUNE, "store": "NOPE"}, 422, "store"),
        ({**JUNE, "tier": "nope"}, 422, "tier"),
        ({"from": "1900-01-01", "to": "2026-06-01"}, 422, "from"),
        ({"from": "June", "to": "2026-06-30"}, 400, "from"),
        ({"to": "2026-06-30"}, 400, "from"),
    ],
)
def test_bad_filters_get_field_errors(history, staff_client, params, status, field):
    response = staff_client.get(reverse("analytics:earn_burn"), params)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["extra"]["fields"]


def test_unknown_parameter_is_refused(history, staff_client):
    response = staff_client.get(reverse("analytics:earn_burn"), {**JUNE, "stor": "S1"})
    assert response.status_code == 400


def test_api_key_needs_the_analytics_scope(history, api_client):
    without = api_client_create(name="pos", scopes=["members:read"]).key
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {without}")
    assert api_client.get(reverse("analytics:earn_burn"), JUNE).status_code == 403
    with_scope = api_client_create(name="bi", scopes=["analytics:read"]).key
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {with_scope}")
    assert api_client.get(reverse("analytics:earn_burn"), JUNE).status_code == 200


def test_anonymous_is_refused(history, api_client):
    assert api_client.get(reverse("analytics:earn_burn"), JUNE).status_code == 401


def test_a_refused_csv_request_answers_the_standard_json_error(history, staff_client):
    """Even when the client asks for CSV (?format=csv), a refusal is the JSON error document
    (the contract fuzzer found `{"code": "error"}` in a text/csv body before)."""
    response = staff_client.get(
        reverse("analytics:active_members-csv"),
        {"format": "csv", "from": "2000-01-01", "to": "2000-01-01", "store": "0"},
    )

    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "validation_error"
    assert "store" in response.json()["extra"]["fields"]


def test_a_format_the_operation_does_not_offer_is_a_bad_parameter(history, staff_client):
    """`?format=AAA` was a 404 (DRF's default), which no operation documents; it is a 400
    naming the parameter and the formats on offer (found by the contract fuzzer)."""
    response = staff_client.get(
        reverse("analytics:cohorts-csv"),
        {"format": "AAA", "from": "2000-01-01", "to": "2000-01-01"},
    )

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["extra"]["fields"]["format"] == ["Choose one of: csv, json."]
