"""Member merge, the paid-club hook: a live membership moves when the survivor has none."""

import pytest
from django.utils import timezone

from campaigns.membership.merge import club_member_merge
from campaigns.membership.models import ClubMembership
from campaigns.membership.selectors import club_membership_in_force
from members.models import MemberEvent
from members.services import member_merge
from tests.factories.members import MemberFactory
from tests.factories.membership import joined


@pytest.mark.django_db
def test_live_membership_moves_with_its_terms(plan):
    duplicate, survivor = MemberFactory(), MemberFactory()
    membership = joined(duplicate, plan)
    terms = list(membership.terms.values_list("pk", flat=True))

    member_merge(source=duplicate, target=survivor)

    membership.refresh_from_db()
    assert membership.member_id == survivor.pk
    assert membership.status == ClubMembership.Status.ACTIVE
    assert list(membership.terms.values_list("pk", flat=True)) == terms
    assert club_membership_in_force(member_id=survivor.pk, at=timezone.now()) == membership
    event = MemberEvent.objects.get(member=survivor, kind=MemberEvent.Kind.MERGED)
    assert event.detail["moved"]["club_membership"] == membership.pk
    assert club_member_merge(source=duplicate, target=survivor) == {}  # twice: nothing more


@pytest.mark.django_db
def test_both_live_memberships_stay_and_are_flagged(plan):
    duplicate, survivor = MemberFactory(), MemberFactory()
    theirs, ours = joined(duplicate, plan), joined(survivor, plan)

    member_merge(source=duplicate, target=survivor)

    theirs.refresh_from_db()
    ours.refresh_from_db()
    assert (theirs.member_id, theirs.status) == (duplicate.pk, ClubMembership.Status.ACTIVE)
    assert (ours.member_id, ours.status) == (survivor.pk, ClubMembership.Status.ACTIVE)
    event = MemberEvent.objects.get(member=survivor, kind=MemberEvent.Kind.MERGED)
    assert event.detail["moved"]["club_memberships_both"] == [ours.pk, theirs.pk]


@pytest.mark.django_db
def test_lapsed_membership_stays_as_history(plan, clock):
    duplicate, survivor = MemberFactory(), MemberFactory()
    old = joined(duplicate, plan)
    clock.at(2027, 3, 1, 10, 0)  # a year and more: past the 14 days' grace

    member_merge(source=duplicate, target=survivor)

    old.refresh_from_db()
    assert (old.member_id, old.status) == (duplicate.pk, ClubMembership.Status.LAPSED)
    assert not ClubMembership.objects.filter(member=survivor).exists()
