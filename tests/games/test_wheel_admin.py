"""Prize wheel admin: a wheel with prizes, a free spin grant through the service, read-only spins."""

import pytest
from django.urls import reverse

from campaigns.games.models import PrizeWheel, WheelSpinGrant
from tests.factories.games import WheelPrizeFactory
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def test_marketing_staff_set_up_a_wheel_and_see_the_odds(admin_client):
    response = admin_client.post(
        reverse("admin:games_prizewheel_add"),
        {
            "name": "Summer wheel",
            "description": "",
            "spin_cost": "20",
            "is_active": "on",
            "prizes-TOTAL_FORMS": "2",
            "prizes-INITIAL_FORMS": "0",
            "prizes-0-label": "100 points",
            "prizes-0-kind": "points",
            "prizes-0-points": "100",
            "prizes-0-weight": "1",
            "prizes-0-stock": "5",
            "prizes-1-label": "Try again",
            "prizes-1-kind": "nothing",
            "prizes-1-points": "0",
            "prizes-1-weight": "3",
            "prizes-1-stock": "",
        },
    )
    assert response.status_code == 302, response.content
    wheel = PrizeWheel.objects.get(name="Summer wheel")
    assert wheel.prizes.count() == 2
    page = admin_client.get(reverse("admin:games_prizewheel_change", args=[wheel.pk]))
    assert "25.00 %" in page.content.decode() and "75.00 %" in page.content.decode()


def test_a_points_prize_without_points_is_a_form_error(admin_client):
    response = admin_client.post(
        reverse("admin:games_prizewheel_add"),
        {
            "name": "Bad wheel",
            "spin_cost": "20",
            "prizes-TOTAL_FORMS": "1",
            "prizes-INITIAL_FORMS": "0",
            "prizes-0-label": "Points",
            "prizes-0-kind": "points",
            "prizes-0-points": "0",
            "prizes-0-weight": "1",
        },
    )
    assert response.status_code == 200
    assert "A points prize gives at least 1 point." in response.content.decode()
    assert not PrizeWheel.objects.filter(name="Bad wheel").exists()


def test_a_free_spin_grant_is_added_and_then_read_only(admin_client):
    prize = WheelPrizeFactory()
    member = MemberFactory()
    response = admin_client.post(
        reverse("admin:games_wheelspingrant_add"),
        {"wheel": prize.wheel_id, "member": member.pk, "spins": "2", "reason": "Launch"},
    )
    assert response.status_code == 302, response.content
    grant = WheelSpinGrant.objects.get()
    assert (grant.spins, grant.used) == (2, 0) and grant.idempotency_key.startswith("admin:")
    change = admin_client.get(reverse("admin:games_wheelspingrant_change", args=[grant.pk]))
    assert b'name="spins"' not in change.content
    assert admin_client.get(reverse("admin:games_wheelspin_changelist")).status_code == 200
