"""A member's whole story on one page: balance in words, tier progress and one timeline."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.backoffice.selectors import TIMELINE_KIND_KEYS, member_story, member_timeline
from loyalty.core import config_cache
from loyalty.ledger.models import ProgrammeSettings
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def test_timeline_tells_everything_newest_first(busy_member):
    page = member_timeline(member=busy_member, per_page=100)

    kinds = {item.kind for item in page.items}
    assert kinds == set(TIMELINE_KIND_KEYS)
    times = [item.at for item in page.items]
    assert times == sorted(times, reverse=True)
    titles = [item.title for item in page.items]
    assert any(t.startswith("Purchase of 120.00 GBP at LDN01") for t in titles)
    assert any(t.startswith("Return of 20.00 GBP") for t in titles)
    assert "Redeemed Free coffee" in titles
    assert any(t.startswith("Voucher ") and t.endswith(" used") for t in titles)
    assert any(t.startswith("Tier ") for t in titles)
    assert "E-mail consent given" in titles
    assert "Earn" not in titles  # told by its purchase row
    assert "Bonus" in titles  # the tier's welcome gift: no purchase tells it
    staff = [i for i in page.items if i.kind == "staff"]
    assert {i.title for i in staff} >= {"Adjustment", "Status changed", "Enrolled"}
    status = next(i for i in staff if i.title == "Status changed")
    assert status.detail == "active → suspended (lost card)"  # words, not JSON
    assert status.actor == "boss"


def test_timeline_filters_and_pages(busy_member):
    only = member_timeline(member=busy_member, kinds=["purchase", "return"], per_page=100)
    first = member_timeline(member=busy_member, per_page=3)
    second = member_timeline(member=busy_member, per_page=3, page=2)
    everything = member_timeline(member=busy_member, per_page=100).items

    points = member_timeline(member=busy_member, kinds=["points"], per_page=100)

    assert {i.kind for i in only.items} == {"purchase", "return"} and len(only.items) == 3
    assert [i.title for i in points.items].count("Earn") == 2
    assert first.has_older and len(first.items) == 3
    assert first.items + second.items == everything[:6]


def test_story_states_the_balance_in_words(programme):
    ProgrammeSettings.objects.filter(pk=1).update(pending_days=14, expiry_months=3)
    config_cache.stamp_bump()  # an UPDATE sends no signal: tell the caches
    member = MemberFactory()
    earn(member, "40.00", when=timezone.now() - timedelta(days=30))
    earn(member, "25.00")

    story = member_story(member=member)

    assert story.available == 40
    assert [(p.points) for p in story.pending] == [25]
    assert story.pending[0].on == (timezone.localdate() + timedelta(days=14))
    assert [p.points for p in story.expiring_soon] == [40]


def test_story_page_renders_profile_balance_tier_and_timeline(client, superuser, busy_member):
    client.force_login(superuser)

    page = client.get(reverse("admin:members_member_story", args=[busy_member.pk]))
    filtered = client.get(
        reverse("admin:members_member_story", args=[busy_member.pk]), {"kind": "consent"}
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert "points available now" in html and "Lovelace" in html
    assert 'data-testid="timeline"' in html and "Redeemed Free coffee" in html
    assert "to reach" in html  # tier progress
    assert reverse("admin:ledger_transaction_changelist") in html  # links into each row
    assert "Redeemed Free coffee" not in filtered.content.decode()
    assert "E-mail consent given" in filtered.content.decode()


def test_story_page_is_one_click_from_the_list(client, superuser, busy_member):
    client.force_login(superuser)

    listing = client.get(reverse("admin:members_member_changelist"))

    assert reverse("admin:members_member_story", args=[busy_member.pk]) in listing.content.decode()


def test_story_page_of_a_member_without_history_and_bad_page_numbers(client, superuser, programme):
    member = MemberFactory()
    client.force_login(superuser)
    url = reverse("admin:members_member_story", args=[member.pk])

    for params in ({}, {"page": "x"}, {"page": "-3"}, {"page": "99999999999"}, {"kind": "bogus"}):
        assert client.get(url, params).status_code == 200, params
    assert client.get(reverse("admin:members_member_story", args=[10**9])).status_code == 404


def test_each_timeline_row_of_a_record_links_to_a_page_that_opens(client, superuser, busy_member):
    """#23.7 "with links into each": purchases, returns, points, redemptions, vouchers and tier
    changes link to their own admin page, and each of those pages opens."""
    client.force_login(superuser)
    items = member_timeline(member=busy_member, per_page=100).items
    linked = {"purchase", "return", "points", "redemption", "voucher", "tier"}

    rows = [item for item in items if item.kind in linked]

    assert {item.kind for item in rows} == linked
    for item in rows:
        assert item.url.startswith("/admin/"), (item.kind, item.title)
        assert client.get(item.url).status_code == 200, item.url
