"""Member merge, the engagement hook: badges and attendances the survivor lacks move."""

import pytest

from campaigns.engagement.merge import engagement_member_merge
from campaigns.engagement.models import EventAttendance, MemberBadge
from members.services import member_merge
from tests.factories.engagement import BadgeRuleFactory, EventAttendanceFactory, MemberBadgeFactory
from tests.factories.members import MemberFactory


@pytest.mark.django_db
def test_merge_moves_badges_the_survivor_lacks_and_keeps_shared_ones_as_history(programme):
    duplicate, survivor = MemberFactory(), MemberFactory()
    only_dup, both = BadgeRuleFactory(), BadgeRuleFactory()
    moving = MemberBadgeFactory(member=duplicate, rule=only_dup)
    moving_again = MemberBadgeFactory(member=duplicate, rule=only_dup, sequence=2)
    dup_both = MemberBadgeFactory(member=duplicate, rule=both)
    own_both = MemberBadgeFactory(member=survivor, rule=both)
    att_moving = EventAttendanceFactory(member=duplicate, event_ref="event:1")
    att_dup = EventAttendanceFactory(member=duplicate, event_ref="event:2")
    att_own = EventAttendanceFactory(member=survivor, event_ref="event:2")

    member_merge(source=duplicate, target=survivor)

    assert set(MemberBadge.objects.filter(member=survivor).values_list("pk", flat=True)) == {
        moving.pk,
        moving_again.pk,
        own_both.pk,
    }
    assert list(MemberBadge.objects.filter(member=duplicate).values_list("pk", flat=True)) == [
        dup_both.pk
    ]
    assert set(EventAttendance.objects.filter(member=survivor).values_list("pk", flat=True)) == {
        att_moving.pk,
        att_own.pk,
    }
    assert EventAttendance.objects.get(pk=att_dup.pk).member_id == duplicate.pk

    # merging twice changes nothing
    before = sorted(MemberBadge.objects.values_list("pk", "member_id"))
    assert engagement_member_merge(source=duplicate, target=survivor) == {}
    assert sorted(MemberBadge.objects.values_list("pk", "member_id")) == before
