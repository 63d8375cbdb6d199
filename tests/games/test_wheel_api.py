"""Prize wheel API: odds shown, a spin (idempotent by spin id), errors in words."""

import pytest
from django.urls import reverse

from campaigns.games.models import WheelPrize
from tests.factories.games import PrizeWheelFactory, WheelPrizeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(staff_client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    return staff_client


def test_the_wheel_shows_each_prize_with_its_odds_and_what_is_left(client, programme):
    wheel = PrizeWheelFactory(spin_cost=25)
    WheelPrizeFactory(wheel=wheel, label="100 points", points=100, weight=1, stock=2)
    WheelPrizeFactory(wheel=wheel, label="Try again", kind="nothing", points=0, weight=3)
    response = client.get(reverse("games:wheel-get", args=[wheel.pk]))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["spin_cost"] == 25
    assert [(p["name"], p["left"], p["chance_percent"]) for p in body["prizes"]] == [
        ("100 points", 2, "25.00"),
        ("Try again", None, "75.00"),
    ]
    closed = PrizeWheelFactory(is_active=False)
    assert client.get(reverse("games:wheel-get", args=[closed.pk])).status_code == 404


def test_a_spin_posted_twice_spins_once(client, member):
    prize = WheelPrizeFactory(points=40, stock=1)
    url = reverse("games:wheel-spin", args=[prize.wheel_id])
    body = {"member_id": member.pk, "spin_id": "app-123"}
    first = client.post(url, body, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["points_won"] == 40 and first.json()["points_spent"] == 10
    again = client.post(url, body, format="json")
    assert again.status_code == 200 and again.json() == first.json()
    assert WheelPrize.objects.get(pk=prize.pk).awarded == 1
    sold_out = client.post(url, {**body, "spin_id": "app-124"}, format="json")
    assert sold_out.status_code == 409 and sold_out.json()["code"] == "wheel_sold_out"


def test_bad_spin_input_names_the_field(client, member):
    prize = WheelPrizeFactory()
    url = reverse("games:wheel-spin", args=[prize.wheel_id])
    bad = client.post(url, {"member_id": member.pk, "spin_id": "no spaces"}, format="json")
    assert bad.status_code == 400 and "spin_id" in bad.json()["extra"]["fields"]
    poor = client.post(url, {"member_id": member.pk, "spin_id": "x" * 65}, format="json")
    assert poor.status_code == 400
