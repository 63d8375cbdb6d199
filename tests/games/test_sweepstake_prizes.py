"""Sweepstake prizes, messages to winners and the replay command: ranked prizes given at the
draw (points through the ledger, rewards through voucher_gift), all at once and once only."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.games.exceptions import EntryConflict, EntryLimitReached, SweepstakeAlreadyDrawn
from campaigns.games.models import Sweepstake, SweepstakeEntry
from campaigns.games.services import (
    sweepstake_draw,
    sweepstake_enter,
    sweepstake_entries_add,
    sweepstake_prize_add,
)
from loyalty.ledger.models import LedgerEntry, NotificationOutbox, PointsAccount
from rewards.exceptions import RewardOutOfStock
from rewards.models import Reward, Voucher
from tests.factories.games import sweepstake
from tests.factories.rewards import RewardFactory
from tests.games.conftest import funded_member

pytestmark = pytest.mark.django_db


def due(draw: Sweepstake) -> Sweepstake:
    Sweepstake.objects.filter(pk=draw.pk).update(draw_at=timezone.now() - timedelta(seconds=1))
    draw.refresh_from_db()
    return draw


def entered(draw: Sweepstake, members: int) -> list:
    people = [funded_member(0 + 1) for _ in range(members)]
    for i, member in enumerate(people):
        sweepstake_enter(
            sweepstake=draw, member=member, idempotency_key=f"{draw.pk}-{i}", paid=False
        )
    return people


def balance(member_id: int) -> int:
    return PointsAccount.objects.get(member_id=member_id).balance


def test_ranked_prizes_go_to_the_winners_in_draw_order_then_points_per_winner(programme):
    draw = sweepstake(winners=4, prize_points=10)
    bike = RewardFactory(name="City bike", stock=1)
    sweepstake_prize_add(sweepstake=draw, rank=1, label="A city bike", reward=bike)
    sweepstake_prize_add(sweepstake=draw, rank=2, label="500 points", points=500, quantity=2)
    entered(draw, 6)

    won = sweepstake_draw(sweepstake=due(draw))

    assert [e.place for e in won] == [1, 2, 3, 4]
    first, second, third, fourth = (SweepstakeEntry.objects.get(pk=e.pk) for e in won)
    voucher = Voucher.objects.get(gift_key=f"sweepstake:{draw.pk}:entry:{first.pk}")
    assert first.voucher == voucher and voucher.member_id == first.member_id
    assert first.points_won == 0 and balance(first.member_id) == 1
    assert Reward.objects.get(pk=bike.pk).stock == 0
    assert (second.prize.label, second.points_won, balance(second.member_id)) == (
        "500 points",
        500,
        501,
    )
    assert third.points_won == 500 and balance(third.member_id) == 501
    assert fourth.prize is None and fourth.points_won == 10 and balance(fourth.member_id) == 11
    losers = SweepstakeEntry.objects.filter(sweepstake=draw, won=False)
    assert losers.count() == 2 and all(balance(e.member_id) == 1 for e in losers)


def test_each_winner_gets_one_message_and_the_template_is_the_sweepstakes(programme):
    from tests.factories.campaigns import MessageTemplateFactory

    template = MessageTemplateFactory(kind="other")
    draw = sweepstake(winners=2, prize_points=75)
    Sweepstake.objects.filter(pk=draw.pk).update(message_template=template)
    entered(draw, 3)

    won = sweepstake_draw(sweepstake=due(draw))

    rows = NotificationOutbox.objects.filter(kind="sweepstake_won").order_by("pk")
    assert [r.member_id for r in rows] == [e.member_id for e in won]
    payload = rows[0].payload
    assert payload["sweepstake"] == draw.name and payload["place"] == 1
    assert payload["points"] == 75 and payload["template_id"] == template.pk
    assert payload["channel"] == "email"


def test_a_second_draw_gives_nothing_more(programme):
    draw = sweepstake(winners=2, prize_points=50)
    entered(draw, 3)
    sweepstake_draw(sweepstake=due(draw))
    before = (LedgerEntry.objects.count(), NotificationOutbox.objects.count())
    with pytest.raises(SweepstakeAlreadyDrawn):
        sweepstake_draw(sweepstake=draw)
    assert (LedgerEntry.objects.count(), NotificationOutbox.objects.count()) == before


def test_a_prize_that_cannot_be_given_refuses_the_whole_draw_and_keeps_the_seed_secret(programme):
    draw = sweepstake(winners=2)
    gone = RewardFactory(stock=0)
    sweepstake_prize_add(sweepstake=draw, rank=1, label="Points", points=100)
    sweepstake_prize_add(sweepstake=draw, rank=2, label="Sold out", reward=gone)
    people = entered(draw, 2)

    with pytest.raises(RewardOutOfStock):
        sweepstake_draw(sweepstake=due(draw))

    draw.refresh_from_db()
    assert draw.drawn_at is None
    assert not SweepstakeEntry.objects.filter(won=True).exists()
    assert all(balance(m.pk) == 1 for m in people)
    assert not NotificationOutbox.objects.filter(kind="sweepstake_won").exists()
    Reward.objects.filter(pk=gone.pk).update(stock=1)  # fixed: the draw runs, same seed
    assert len(sweepstake_draw(sweepstake=draw)) == 2


def test_prizes_for_more_winners_than_drawn_are_refused(programme):
    draw = sweepstake(winners=2)
    sweepstake_prize_add(sweepstake=draw, rank=1, label="Big", points=100, quantity=2)
    with pytest.raises(ValidationError):
        sweepstake_prize_add(sweepstake=draw, rank=2, label="Small", points=10)
    with pytest.raises(ValidationError):
        sweepstake_prize_add(sweepstake=draw, rank=3, label="Nothing", points=0)


def test_campaign_entries_are_free_all_or_none_and_once_per_key(programme):
    member = funded_member(100)
    draw = sweepstake(entry_cost=40, max_entries_per_member=3)
    given, created = sweepstake_entries_add(
        sweepstake=draw, member=member, entries=2, idempotency_key="campaign:7:m1", paid=False
    )
    again, created_again = sweepstake_entries_add(
        sweepstake=draw, member=member, entries=2, idempotency_key="campaign:7:m1", paid=False
    )
    assert created and not created_again and again == given
    with pytest.raises(EntryLimitReached):  # 2 more would be 4 > 3: none is made
        sweepstake_entries_add(sweepstake=draw, member=member, entries=2, idempotency_key="buy")
    assert SweepstakeEntry.objects.filter(member=member).count() == 2
    assert balance(member.pk) == 100
    other = funded_member(100)
    with pytest.raises(EntryConflict):
        sweepstake_entries_add(
            sweepstake=draw, member=other, entries=2, idempotency_key="campaign:7:m1"
        )
    with pytest.raises(EntryConflict):
        sweepstake_enter(sweepstake=draw, member=other, idempotency_key="campaign:7:m1:1")


def test_replay_command_matches_an_honest_draw(programme, capsys):
    draw = sweepstake(winners=2, max_entries_per_member=2)
    people = entered(draw, 4)
    sweepstake_enter(sweepstake=draw, member=people[0], idempotency_key="x", paid=False)
    sweepstake_draw(sweepstake=due(draw))

    call_command("sweepstake_replay", str(draw.pk))
    out = capsys.readouterr().out
    assert out.strip().endswith("MATCH") and draw.seed_sha256 in out
    call_command("sweepstake_replay", draw.name)
    assert capsys.readouterr().out.strip().endswith("MATCH")


def test_replay_command_finds_a_tampered_entry_list(programme):
    draw = sweepstake(winners=2)
    entered(draw, 5)
    won = sweepstake_draw(sweepstake=due(draw))
    # the first winner's entry is rewritten to the second winner's member: replayed, that
    # member wins first and their own entry is skipped, so the winners differ
    SweepstakeEntry.objects.filter(pk=won[0].pk).update(member_id=won[1].member_id)

    with pytest.raises(CommandError, match="MISMATCH: the replay draws entries"):
        call_command("sweepstake_replay", str(draw.pk))


def test_replay_command_finds_a_seed_that_is_not_the_committed_one(programme):
    draw = sweepstake(winners=1)
    entered(draw, 2)
    sweepstake_draw(sweepstake=due(draw))
    Sweepstake.objects.filter(pk=draw.pk).update(seed="0" * 64)

    with pytest.raises(CommandError, match="not the committed"):
        call_command("sweepstake_replay", str(draw.pk))


def test_replay_command_refuses_an_undrawn_sweepstake(programme):
    draw = sweepstake()
    with pytest.raises(CommandError, match="not drawn yet"):
        call_command("sweepstake_replay", str(draw.pk))


def test_winner_messages_go_out_to_consenting_winners_only_and_are_not_capped(
    programme, mailoutbox, settings
):
    from campaigns.messaging import messages_deliver
    from members.services import consent_set

    settings.LOYALTY_MESSAGES_PER_WEEK = 0  # marketing is capped to nothing: winners still hear
    draw = sweepstake(name="Autumn draw", winners=2, prize_points=30)
    people = entered(draw, 2)
    consent_set(member=people[0], channel="email", granted=True, source="test")

    sweepstake_draw(sweepstake=due(draw))
    counts = messages_deliver()

    assert counts == {"sent": 1, "skipped": 1}
    (mail,) = mailoutbox
    assert mail.to == [people[0].email]
    assert "Autumn draw" in mail.body and "30" in mail.body
