"""Member merge, the games hook: open sweepstake entries and spin grants with spins left move."""

import pytest
from django.utils import timezone

from campaigns.games.merge import games_member_merge
from campaigns.games.models import Sweepstake, SweepstakeEntry, WheelSpinGrant
from campaigns.games.services import sweepstake_enter
from members.models import MemberEvent
from members.services import member_merge
from tests.factories.games import WheelSpinGrantFactory, sweepstake
from tests.factories.members import MemberFactory


@pytest.mark.django_db
def test_merge_moves_open_entries_even_past_the_limit_and_keeps_drawn_ones(programme):
    duplicate, survivor = MemberFactory(), MemberFactory()
    open_draw = sweepstake(max_entries_per_member=1)
    mine = sweepstake_enter(sweepstake=open_draw, member=survivor, idempotency_key="s1", paid=False)
    theirs = sweepstake_enter(
        sweepstake=open_draw, member=duplicate, idempotency_key="d1", paid=False
    )
    drawn = sweepstake()
    old = sweepstake_enter(sweepstake=drawn, member=duplicate, idempotency_key="d2", paid=False)
    Sweepstake.objects.filter(pk=drawn.pk).update(drawn_at=timezone.now())

    member_merge(source=duplicate, target=survivor)

    assert SweepstakeEntry.objects.get(pk=theirs.pk).member_id == survivor.pk
    assert SweepstakeEntry.objects.get(pk=mine.pk).member_id == survivor.pk
    # over the limit of 1 now: the limit applies to new entries only
    assert SweepstakeEntry.objects.filter(sweepstake=open_draw, member=survivor).count() == 2
    assert SweepstakeEntry.objects.get(pk=old.pk).member_id == duplicate.pk  # drawn: history
    event = MemberEvent.objects.get(member=survivor, kind=MemberEvent.Kind.MERGED)
    assert event.detail["moved"]["sweepstake_entries"] == [theirs.pk]


@pytest.mark.django_db
def test_merge_moves_grants_with_spins_left_and_twice_changes_nothing(programme):
    duplicate, survivor = MemberFactory(), MemberFactory()
    left = WheelSpinGrantFactory(member=duplicate, spins=3)
    WheelSpinGrant.objects.filter(pk=left.pk).update(used=1)
    spent = WheelSpinGrantFactory(member=duplicate, spins=1)
    WheelSpinGrant.objects.filter(pk=spent.pk).update(used=1)

    member_merge(source=duplicate, target=survivor)

    left.refresh_from_db()
    spent.refresh_from_db()
    assert (left.member_id, left.spins - left.used) == (survivor.pk, 2)
    assert spent.member_id == duplicate.pk
    before = sorted(WheelSpinGrant.objects.values_list("pk", "member_id", "used"))
    assert games_member_merge(source=duplicate, target=survivor) == {}
    assert sorted(WheelSpinGrant.objects.values_list("pk", "member_id", "used")) == before
