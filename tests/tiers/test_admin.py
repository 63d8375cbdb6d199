from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from loyalty.tiers.models import Tier, TierAssignment
from loyalty.tiers.selectors import tier_current_assignment
from tests.factories.ledger import earn
from tests.tiers.conftest import at

pytestmark = pytest.mark.django_db


def test_member_page_shows_tier_progress_and_history(client, superuser, ladder, enrolled, clock):
    clock.set(at(date(2025, 3, 1)))
    earn(enrolled, "150", when=clock.now)
    client.force_login(superuser)

    page = client.get(reverse("admin:members_member_change", args=[enrolled.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "<strong>Silver</strong> since 1 Mar 2025" in html
    assert "350.00 more for Gold" in html
    assert "window ends 1 Jan 2026" in html
    assert "Tier history" in html


def test_set_tier_action_needs_a_reason_and_records_the_user(
    client, staff_user, ladder, enrolled, clock
):
    clock.set(at(date(2025, 3, 1)))
    for codename in ("view_member", "change_member", "set_tier"):
        staff_user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(staff_user)
    url = reverse("admin:members_member_changelist")
    data = {"action": "set_tier", "_selected_action": [enrolled.pk], "apply": "1"}

    missing = client.post(url, {**data, "tier": "gold", "reason": ""})
    past = client.post(url, {**data, "tier": "gold", "reason": "x", "manual_until": "2020-01-01"})
    assert missing.status_code == 200 and b"This field is required" in missing.content
    assert past.status_code == 200 and b"The end date must be in the future" in past.content
    assert not TierAssignment.objects.filter(member=enrolled).exists()

    done = client.post(url, {**data, "tier": "gold", "reason": "store manager's call"})

    assert done.status_code == 302
    row = tier_current_assignment(member_id=enrolled.pk)
    assert (row.tier.code, row.actor, row.note) == ("gold", staff_user, "store manager's call")


def test_set_tier_action_refused_without_permission(client, staff_user, ladder, enrolled):
    for codename in ("view_member", "change_member"):
        staff_user.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(staff_user)

    client.post(
        reverse("admin:members_member_changelist"),
        {
            "action": "set_tier",
            "_selected_action": [enrolled.pk],
            "apply": "1",
            "tier": "gold",
            "reason": "x",
        },
    )

    assert not TierAssignment.objects.exists()


def test_tier_form_refuses_a_threshold_out_of_order(client, superuser, ladder):
    client.force_login(superuser)
    gold = ladder["gold"]
    url = reverse("admin:tiers_tier_change", args=[gold.pk])
    data = {
        "name": "Gold",
        "code": "gold",
        "rank": "2",
        "threshold": "50",
        "description": "",
        "earn_multiplier": "1.5",
        "entry_gift_points": "200",
    }

    response = client.post(url, data)

    assert response.status_code == 200
    assert "Must be higher than Silver" in response.content.decode()
    assert Tier.objects.get(pk=gold.pk).threshold == 500
    ok = client.post(url, {**data, "threshold": "600"})
    assert ok.status_code == 302
    assert Tier.objects.get(pk=gold.pk).threshold == 600


def test_policy_is_a_single_row_and_history_is_read_only(client, superuser, ladder, enrolled):
    client.force_login(superuser)
    row = TierAssignment.objects.create(
        member=enrolled, tier=ladder["gold"], reason="manual", valid_from=at(date(2025, 1, 1))
    )

    policy = client.get(reverse("admin:tiers_tierpolicy_changelist"))
    history = client.get(reverse("admin:tiers_tierassignment_changelist"))
    change = client.post(
        reverse("admin:tiers_tierassignment_change", args=[row.pk]), {"tier": ladder["member"].pk}
    )

    assert policy.status_code == 302 and policy.url.endswith("/tiers/tierpolicy/1/change/")
    assert history.status_code == 200
    assert change.status_code == 403
    assert TierAssignment.objects.get(pk=row.pk).tier == ladder["gold"]
