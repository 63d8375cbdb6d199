"""Sweepstakes: entries (points, limit), a committed seed, a draw anyone can replay."""

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.games.draw import draw_winners, seed_fingerprint
from campaigns.games.exceptions import (
    EntryLimitReached,
    SweepstakeAlreadyDrawn,
    SweepstakeClosed,
    SweepstakeNotDue,
)
from campaigns.games.models import Sweepstake, SweepstakeEntry
from campaigns.games.services import sweepstake_draw, sweepstake_enter
from loyalty.ledger.models import PointsAccount
from tests.factories.games import sweepstake
from tests.games.conftest import funded_member

pytestmark = pytest.mark.django_db


def test_entries_cost_points_and_stop_at_the_member_limit(programme):
    member = funded_member(100)
    draw = sweepstake(entry_cost=30, max_entries_per_member=2)
    sweepstake_enter(sweepstake=draw, member=member, idempotency_key="e1")
    sweepstake_enter(sweepstake=draw, member=member, idempotency_key="e1")  # a retry
    sweepstake_enter(sweepstake=draw, member=member, idempotency_key="e2")
    with pytest.raises(EntryLimitReached):
        sweepstake_enter(sweepstake=draw, member=member, idempotency_key="e3")
    free = sweepstake(max_entries_per_member=1)
    sweepstake_enter(sweepstake=free, member=member, idempotency_key="gift", paid=False)
    assert SweepstakeEntry.objects.filter(member=member).count() == 3
    assert PointsAccount.objects.get(member=member).balance == 40


def test_the_draw_reveals_the_committed_seed_and_replays_to_the_same_winners(programme):
    draw = sweepstake(winners=3, max_entries_per_member=3, prize_points=200)
    committed = draw.seed_sha256
    members = [funded_member(0 + 1) for _ in range(6)]
    for i, member in enumerate(members):
        for n in range(1 + i % 3):
            sweepstake_enter(sweepstake=draw, member=member, idempotency_key=f"{i}-{n}", paid=False)
    with pytest.raises(SweepstakeNotDue):
        sweepstake_draw(sweepstake=draw)
    Sweepstake.objects.filter(pk=draw.pk).update(draw_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(SweepstakeClosed):
        sweepstake_enter(sweepstake=draw, member=members[0], idempotency_key="late", paid=False)

    won = sweepstake_draw(sweepstake=draw)

    draw.refresh_from_db()
    assert seed_fingerprint(draw.seed) == committed
    assert len({entry.member_id for entry in won}) == 3
    entries = list(
        SweepstakeEntry.objects.filter(sweepstake=draw)
        .order_by("pk")
        .values_list("pk", "member_id")
    )
    replay = draw_winners(seed=draw.seed, entries=entries, winners=3)
    assert replay == [entry.pk for entry in won]
    assert draw_winners(seed=draw.seed + "x", entries=entries, winners=3) != replay
    for entry in won:
        assert PointsAccount.objects.get(member_id=entry.member_id).balance == 201
    with pytest.raises(SweepstakeAlreadyDrawn):
        sweepstake_draw(sweepstake=draw)


def test_staff_create_a_sweepstake_and_run_its_draw_in_the_admin(admin_client, programme):
    from django.urls import reverse

    response = admin_client.post(
        reverse("admin:games_sweepstake_add"),
        {
            "name": "Spring draw",
            "entry_cost": "0",
            "max_entries_per_member": "1",
            "draw_at_0": "2020-01-01",
            "draw_at_1": "10:00:00",
            "winners": "1",
            "prize_points": "100",
            "prizes-TOTAL_FORMS": "0",
            "prizes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content
    draw = Sweepstake.objects.get(name="Spring draw")
    assert draw.seed_sha256 == seed_fingerprint(draw.seed)
    page = admin_client.get(reverse("admin:games_sweepstake_change", args=[draw.pk]))
    assert draw.seed_sha256 in page.content.decode() and draw.seed not in page.content.decode()
    admin_client.post(
        reverse("admin:games_sweepstake_changelist"),
        {"action": "run_draw", "_selected_action": [draw.pk]},
    )
    draw.refresh_from_db()
    assert draw.drawn_at is not None
