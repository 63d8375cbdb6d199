"""The engagement admin as marketing staff use it: settings and badge rules posted like a
browser (field errors in words), every list and change page rendered, read-only histories, and
what each role is offered."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from campaigns.engagement.models import BadgeRule, EngagementSettings
from tests.factories.engagement import (
    BadgeRuleFactory,
    EventAttendanceFactory,
    MemberBadgeFactory,
    MemberStageFactory,
    StageChangeFactory,
    VipOfMonthFactory,
)
from tests.factories.tiers import standard_ladder

pytestmark = pytest.mark.django_db


def staff(django_user_model, client, role: str):
    user = django_user_model.objects.create_user(
        username=role.lower().replace(" ", ""), password="x-long-pass-123", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


SETTINGS = {
    "new_days": "30",
    "repeat_min_purchases": "2",
    "loyal_min_purchases": "6",
    "loyal_window_days": "365",
    "lapsing_days": "90",
    "lapsed_days": "180",
    "won_back_days": "90",
    "advocate_min_score": "9",
    "streak_period": "month",
    "milestone_template": "",
}


def test_settings_form_saves_and_refuses_lapsed_before_lapsing(
    client, django_user_model, programme
):
    staff(django_user_model, client, "Marketing")
    url = reverse("admin:engagement_engagementsettings_changelist")
    change = client.get(url, follow=True)
    assert change.status_code == 200
    assert "No purchase for this many days" in change.content.decode()  # help texts shown
    edit = reverse("admin:engagement_engagementsettings_change", args=[1])
    bad = client.post(edit, {**SETTINGS, "lapsing_days": "200"})
    assert bad.status_code == 200
    assert "Must be more days than" in bad.content.decode()
    assert EngagementSettings.objects.get().lapsing_days == 90
    good = client.post(edit, {**SETTINGS, "lapsing_days": "60", "streak_period": "week"})
    assert good.status_code == 302
    row = EngagementSettings.objects.get()
    assert (row.lapsing_days, row.streak_period) == (60, "week")


def test_badge_rule_form_in_words(client, django_user_model, programme):
    staff(django_user_model, client, "Marketing")
    ladder = standard_ladder()
    add = reverse("admin:engagement_badgerule_add")
    data = {
        "name": "Gold club",
        "code": "gold-club",
        "kind": "tier_reached",
        "threshold": "1",
        "tier": "",
        "active": "on",
        "description": "",
        "message_template": "",
    }
    refused = client.post(add, data)
    assert refused.status_code == 200
    assert "Choose the tier that earns the badge." in refused.content.decode()
    saved = client.post(add, {**data, "tier": str(ladder["gold"].pk)})
    assert saved.status_code == 302
    rule = BadgeRule.objects.get(code="gold-club")
    listing = client.get(reverse("admin:engagement_badgerule_changelist")).content.decode()
    assert rule.describe() in listing and "reached Gold tier" in listing


def test_every_engagement_page_renders(client, django_user_model, programme):
    staff(django_user_model, client, "Administrator")
    rule = BadgeRuleFactory()
    badge = MemberBadgeFactory(rule=rule)
    stage = MemberStageFactory()
    change = StageChangeFactory()
    event = EventAttendanceFactory()
    vip = VipOfMonthFactory()
    for model, obj in (
        ("badgerule", rule),
        ("memberbadge", badge),
        ("memberstage", stage),
        ("stagechange", change),
        ("eventattendance", event),
        ("vipofmonth", vip),
        ("stagecount", None),
        ("memberstreak", None),
    ):
        listing = client.get(reverse(f"admin:engagement_{model}_changelist"))
        assert listing.status_code == 200, model
        if obj is not None:
            page = client.get(reverse(f"admin:engagement_{model}_change", args=[obj.pk]))
            assert page.status_code == 200, model


def test_roles(client, django_user_model, programme):
    rule = BadgeRuleFactory()
    MemberBadgeFactory(rule=rule)
    staff(django_user_model, client, "Finance")
    assert client.get(reverse("admin:engagement_badgerule_changelist")).status_code == 200
    assert client.get(reverse("admin:engagement_badgerule_add")).status_code == 403
    client.logout()
    staff(django_user_model, client, "Marketing")
    assert client.get(reverse("admin:engagement_badgerule_add")).status_code == 200
    assert client.get(reverse("admin:engagement_memberbadge_add")).status_code == 403
    client.logout()
    staff(django_user_model, client, "Administrator")
    # a rule members hold is not offered for deletion (switch it off instead); an unused one is
    unused = BadgeRuleFactory()
    held = reverse("admin:engagement_badgerule_delete", args=[rule.pk])
    assert client.get(held).status_code == 403
    assert (
        client.get(reverse("admin:engagement_badgerule_delete", args=[unused.pk])).status_code
        == 200
    )


def test_member_story_page_shows_badges_and_progress_bars(client, django_user_model, programme):
    from tests.factories.ledger import earn
    from tests.factories.members import MemberFactory
    from tests.factories.rewards import RewardFactory

    staff(django_user_model, client, "Marketing")
    BadgeRuleFactory(name="First visit", kind="first_purchase", threshold=1)
    BadgeRuleFactory(name="Regular", kind="purchases", threshold=4)
    RewardFactory(name="a free coffee", points_cost=150)
    member = MemberFactory()
    earn(member, "30.00")
    page = client.get(reverse("admin:members_member_story", args=[member.pk])).content.decode()
    assert 'data-testid="engagement"' in page
    assert "First visit" in page
    assert 'data-testid="next-badge-progress"' in page and 'value="25"' in page
    assert "120 points to a free coffee" in page and 'value="20"' in page
