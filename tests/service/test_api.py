"""The customer service API: suggestions, bought together, feedback (bad input is a clear 4xx
and changes nothing)."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from campaigns.service.models import Feedback
from campaigns.service.services import bought_together_rebuild
from loyalty.core.roles import roles_setup
from loyalty.core.scopes import FEEDBACK_WRITE, MEMBERS_READ
from loyalty.integrations.services import api_client_create
from loyalty.ledger.models import LedgerEntry
from tests.factories.members import StoreFactory
from tests.factories.service import FeedbackFactory

pytestmark = pytest.mark.django_db

FEEDBACK = "/api/v1/service/feedback/"


def staff(django_user_model: Any, username: str, role: str | None) -> APIClient:
    roles_setup()
    user = django_user_model.objects.create_user(username=username, password="x", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = APIClient()
    client.force_authenticate(django_user_model.objects.get(pk=user.pk))
    return client


@pytest.fixture
def agent(django_user_model: Any) -> APIClient:
    return staff(django_user_model, "agent", "Customer service")


def test_suggestions_for_a_member(baskets: Any, agent: APIClient) -> None:
    bought_together_rebuild()
    response = agent.get(f"/api/v1/service/members/{baskets['m'].pk}/suggestions/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(p["sku"], p["score"], p["because"]) for p in body["products"]] == [
        ("C", 3, ["A", "B"]),
        ("D", 2, ["A", "B"]),
    ]
    assert body["soon_points"] == 12 and body["often_purchases"] == 2
    assert body["rewards"] == []  # no catalogue yet

    limited = agent.get(f"/api/v1/service/members/{baskets['m'].pk}/suggestions/?products=1")
    assert [p["sku"] for p in limited.json()["products"]] == ["C"]


def test_suggestions_bad_input(baskets: Any, agent: APIClient) -> None:
    url = f"/api/v1/service/members/{baskets['m'].pk}/suggestions/"
    assert agent.get(url + "?products=99").status_code == 400
    assert agent.get(url + "?colour=red").status_code == 400
    assert agent.get("/api/v1/service/members/999999/suggestions/").status_code == 404


def test_bought_together_for_a_sku(baskets: Any, agent: APIClient) -> None:
    bought_together_rebuild()
    response = agent.get("/api/v1/service/products/bought-together/?sku=B&limit=2")
    assert response.status_code == 200
    assert response.json() == [
        {"sku": "A", "purchases": 3, "rank": 1},
        {"sku": "C", "purchases": 1, "rank": 2},
    ]
    assert agent.get("/api/v1/service/products/bought-together/").status_code == 400
    assert agent.get("/api/v1/service/products/bought-together/?sku=B&limit=0").status_code == 400
    unknown = agent.get("/api/v1/service/products/bought-together/?sku=NOPE")
    assert (unknown.status_code, unknown.json()) == (200, [])


def test_record_list_and_resolve_feedback(baskets: Any, agent: APIClient) -> None:
    StoreFactory(code="LDN01")
    m = baskets["m"]
    created = agent.post(
        FEEDBACK,
        {
            "member_number": m.member_number,
            "channel": "email",
            "category": "store",
            "store": "LDN01",
            "text": "Queue of twenty minutes.",
            "score": 4,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["kind"], body["status"], body["store"], body["member_id"]) == (
        "complaint",
        "open",
        "LDN01",
        m.pk,
    )
    feedback_id = body["id"]

    listed = agent.get(f"{FEEDBACK}?member_id={m.pk}&status=open")
    assert [row["id"] for row in listed.json()["results"]] == [feedback_id]
    assert agent.get(f"{FEEDBACK}{feedback_id}/").json()["text"] == "Queue of twenty minutes."

    no_resolution = agent.post(
        f"{FEEDBACK}{feedback_id}/status/", {"status": "resolved"}, format="json"
    )
    assert no_resolution.status_code == 422
    assert "resolution" in no_resolution.json()["extra"]["fields"]

    resolved = agent.post(
        f"{FEEDBACK}{feedback_id}/status/",
        {"status": "resolved", "resolution": "Apologised; extra till opened on Saturdays."},
        format="json",
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    back = agent.post(f"{FEEDBACK}{feedback_id}/status/", {"status": "in_progress"}, format="json")
    assert (back.status_code, back.json()["code"]) == (409, "feedback_status_invalid")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "email", "category": "store", "text": "x", "score": 11}, "score"),
        ({"channel": "fax", "category": "store", "text": "x"}, "channel"),
        ({"channel": "email", "category": "weather", "text": "x"}, "category"),
        ({"channel": "email", "category": "store"}, "text"),
        ({"channel": "email", "category": "store", "text": "x", "mood": "bad"}, "mood"),
        ({"channel": "email", "category": "store", "text": "x", "score": "7"}, "score"),
    ],
)
def test_bad_feedback_is_a_400_naming_the_field(
    baskets: Any, agent: APIClient, body: dict, field: str
) -> None:
    response = agent.post(FEEDBACK, {"member_id": baskets["m"].pk, **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["extra"]["fields"]
    assert not Feedback.objects.exists()


def test_feedback_for_unknown_member_or_store(baskets: Any, agent: APIClient) -> None:
    body = {"channel": "email", "category": "store", "text": "x"}
    missing = agent.post(FEEDBACK, {"member_id": 999999, **body}, format="json")
    assert missing.status_code == 404
    no_store = agent.post(
        FEEDBACK, {"member_id": baskets["m"].pk, "store": "NOPE", **body}, format="json"
    )
    assert no_store.status_code == 422 and "store" in no_store.json()["extra"]["fields"]
    assert agent.get(f"{FEEDBACK}999999/").status_code == 404
    assert agent.get(f"{FEEDBACK}?member_id=999999").json()["results"] == []
    assert not Feedback.objects.exists()


def test_goodwill_by_api_staff_with_the_permission_only(
    baskets: Any, agent: APIClient, django_user_model: Any
) -> None:
    feedback = FeedbackFactory(member=baskets["m"])
    url = f"{FEEDBACK}{feedback.pk}/goodwill/"
    marketing = staff(django_user_model, "mark", "Marketing")
    assert marketing.post(url, {"points": 100}, format="json").status_code == 403
    assert agent.post(url, {"points": 0}, format="json").status_code == 400
    assert not LedgerEntry.objects.filter(kind="adjust").exists()

    granted = agent.post(url, {"points": 100}, format="json")
    assert granted.status_code == 201
    assert granted.json()["goodwill_points"] == 100
    again = agent.post(url, {"points": 100}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "goodwill_already_granted")
    assert LedgerEntry.objects.filter(kind="adjust", source_type="feedback").count() == 1


def test_api_keys_need_the_feedback_scopes(baskets: Any) -> None:
    reader = api_client_create(name="pos", scopes=[MEMBERS_READ])
    writer = api_client_create(name="app", scopes=[FEEDBACK_WRITE])
    body = {"member_id": baskets["m"].pk, "channel": "app", "category": "programme", "text": "x"}

    pos = APIClient(HTTP_AUTHORIZATION=f"Api-Key {reader.key}")
    assert pos.post(FEEDBACK, body, format="json").status_code == 403
    assert pos.get(f"/api/v1/service/members/{baskets['m'].pk}/suggestions/").status_code == 200

    app = APIClient(HTTP_AUTHORIZATION=f"Api-Key {writer.key}")
    created = app.post(FEEDBACK, body, format="json")
    assert created.status_code == 201, created.content
    # no API key grants points
    goodwill = app.post(f"{FEEDBACK}{created.json()['id']}/goodwill/", {"points": 5}, format="json")
    assert goodwill.status_code == 403
