"""Sweepstake API: open sweepstakes with their fingerprint, entries bought with points (once per
entry key), a member's entries, and after the draw the record anyone can replay."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from campaigns.games.draw import draw_winners, seed_fingerprint
from campaigns.games.models import Sweepstake
from campaigns.games.services import sweepstake_draw, sweepstake_enter, sweepstake_prize_add
from loyalty.ledger.models import PointsAccount
from tests.factories.games import sweepstake
from tests.games.conftest import funded_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(staff_client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    return staff_client


def test_open_sweepstakes_show_cost_limit_draw_date_prizes_and_fingerprint(client, programme):
    draw = sweepstake(name="Summer", entry_cost=20, max_entries_per_member=5, winners=2)
    sweepstake_prize_add(sweepstake=draw, rank=1, label="1000 points", points=1000)
    closed = sweepstake(name="Closed")
    Sweepstake.objects.filter(pk=closed.pk).update(draw_at=timezone.now() - timedelta(hours=1))

    response = client.get(reverse("games:sweepstake-list"))

    assert response.status_code == 200, response.content
    (row,) = response.json()["results"]
    assert (row["name"], row["entry_cost"], row["max_entries_per_member"]) == ("Summer", 20, 5)
    assert row["seed_sha256"] == draw.seed_sha256 and row["seed"] is None
    assert row["prizes"][0]["name"] == "1000 points" and row["prizes"][0]["quantity"] == 1
    assert row["draw_at"]


def test_entries_bought_with_points_once_per_entry_key(client, programme):
    member = funded_member(100)
    draw = sweepstake(entry_cost=30, max_entries_per_member=3)
    url = reverse("games:sweepstake-entries", args=[draw.pk])
    body = {"member_id": member.pk, "entries": 2, "entry_key": "app-1"}

    first = client.post(url, body, format="json")
    again = client.post(url, body, format="json")

    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.json() == first.json()
    assert [e["points_spent"] for e in first.json()] == [30, 30]
    assert PointsAccount.objects.get(member=member).balance == 40
    over = client.post(url, {**body, "entry_key": "app-2"}, format="json")
    assert over.status_code == 409 and over.json()["code"] == "entry_limit_reached"
    last = client.post(url, {**body, "entries": 1, "entry_key": "app-3"}, format="json")
    assert last.status_code == 201, last.content
    assert PointsAccount.objects.get(member=member).balance == 10
    mine = client.get(url, {"member_number": member.member_number})
    assert mine.status_code == 200 and len(mine.json()) == 3


def test_bad_input_is_answered_with_field_errors(client, programme):
    draw = sweepstake()
    url = reverse("games:sweepstake-entries", args=[draw.pk])
    bad = client.post(url, {"entries": 0, "entry_key": "no spaces"}, format="json")
    assert bad.status_code == 400
    assert {"entries", "entry_key"} <= set(bad.json()["extra"]["fields"])
    assert client.get(reverse("games:sweepstake-get", args=[999999])).status_code == 404


def test_the_draw_record_lets_anyone_replay_the_draw(client, programme, tmp_path, capsys):
    draw = sweepstake(winners=2, prize_points=10)
    for i in range(4):
        sweepstake_enter(
            sweepstake=draw, member=funded_member(1), idempotency_key=f"d{i}", paid=False
        )
    url = reverse("games:sweepstake-draw", args=[draw.pk])
    early = client.get(url)
    assert early.status_code == 409 and early.json()["code"] == "sweepstake_not_drawn"
    Sweepstake.objects.filter(pk=draw.pk).update(draw_at=timezone.now() - timedelta(seconds=1))
    sweepstake_draw(sweepstake=draw)

    record = client.get(url).json()

    assert seed_fingerprint(record["seed"]) == record["seed_sha256"] == draw.seed_sha256
    entries = [(e["entry_id"], e["member_id"]) for e in record["entries"]]
    assert len(entries) == 4
    winners = sorted(record["winners"], key=lambda w: w["place"])
    assert draw_winners(seed=record["seed"], entries=entries, winners=2) == [
        w["entry_id"] for w in winners
    ]
    assert all(w["points_won"] == 10 for w in winners)
    saved = tmp_path / "draw.json"
    saved.write_text(json.dumps(record))
    call_command("sweepstake_replay", "--file", str(saved))
    assert capsys.readouterr().out.strip().endswith("MATCH")
    detail = client.get(reverse("games:sweepstake-get", args=[draw.pk])).json()
    assert detail["seed"] == record["seed"]
