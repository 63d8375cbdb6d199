"""The members list as staff use it: balance and tier, filters by tier, balance and last
purchase, "Add member" through the enrolment service, an export with points and consents."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from loyalty.ledger.services import points_adjust
from loyalty.tiers.models import TierAssignment
from members.models import ConsentEvent, Member, MemberEvent
from members.services import member_enroll
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierAssignmentFactory

pytestmark = pytest.mark.django_db
URL = reverse("admin:members_member_changelist")


def _names(response):
    return sorted(m.last_name for m in response.context["cl"].result_list)


@pytest.fixture
def crowd(programme, ladder, superuser):
    """gold-rich: Gold, 1,500 points, last bought 70 days ago; gold-poor: Gold, 200 points,
    bought yesterday; silver-rich: Silver, 2,000 points, never bought; nobody: no account."""
    now = timezone.now()
    people = {}
    for name, tier, points, bought_days_ago in (
        ("GoldRich", "gold", 1500, 70),
        ("GoldPoor", "gold", 200, 1),
        ("SilverRich", "silver", 2000, None),
        ("Nobody", None, 0, 120),
    ):
        member = MemberFactory(last_name=name)
        if bought_days_ago is not None:
            earn(member, "1.00", when=now - timedelta(days=bought_days_ago))
        if points:
            points_adjust(
                member=member, points=points, reason="seed", actor=superuser, idempotency_key="s"
            )
        TierAssignment.objects.filter(member=member).delete()
        if tier:
            TierAssignmentFactory(member=member, tier=ladder[tier])
        people[name] = member
    return people


def test_list_shows_balance_and_tier(client, superuser, crowd):
    client.force_login(superuser)

    html = client.get(URL).content.decode()

    assert "1,501" in html and "Gold" in html and "Silver" in html


def test_filters_by_tier_balance_and_last_purchase(client, superuser, crowd):
    client.force_login(superuser)

    gold = client.get(URL, {"tier": "gold"})
    rich = client.get(URL, {"balance": "1000+"})
    # "gold members with 1,000+ points who have not bought for 60 days": two clicks
    story = client.get(URL, {"tier": "gold", "balance": "1000+", "bought": "lapsing"})
    active = client.get(URL, {"bought": "active"})
    lapsed = client.get(URL, {"bought": "lapsed"})
    never = client.get(URL, {"bought": "never"})
    empty = client.get(URL, {"balance": "0"})

    assert _names(gold) == ["GoldPoor", "GoldRich"]
    assert _names(rich) == ["GoldRich", "SilverRich"]
    assert _names(story) == ["GoldRich"]
    assert _names(active) == ["GoldPoor"]
    assert _names(lapsed) == ["Nobody"]
    assert _names(never) == ["SilverRich"]
    assert _names(empty) == []  # Nobody earned 1 point from their purchase


def test_list_query_count_does_not_grow_with_rows(client, superuser, programme, ladder):
    client.force_login(superuser)
    client.get(URL)  # warm caches (sessions, content types)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx)

    for _ in range(3):
        earn(MemberFactory(), "5.00")
    few = count()
    for _ in range(12):
        earn(MemberFactory(), "5.00")  # the first purchase also assigns the entry tier
    many = count()

    assert many == few


def test_add_member_enrols_through_the_service(client, superuser, programme, ladder):
    client.force_login(superuser)
    add = reverse("admin:members_member_add")

    form = client.get(add)
    done = client.post(
        add,
        {
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@example.com",
            "phone": "07911 100555",
            "enrolment_channel": "store",
            "consent_email": "on",
        },
    )

    assert form.status_code == 200 and b"E-mail consent" in form.content
    member = Member.objects.get(last_name="Hopper")
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:members_member_story", args=[member.pk])
    assert member.phone == "+447911100555" and len(member.member_number) == 10
    assert MemberEvent.objects.filter(member=member, kind="enrolled", actor=superuser).exists()
    assert ConsentEvent.objects.filter(member=member, channel="email", granted=True).exists()
    assert member.consents.get(channel="email").granted


def test_add_member_refuses_bad_and_duplicate_contacts(client, superuser, programme):
    member_enroll(first_name="Ada", email="ada@example.com")
    client.force_login(superuser)
    add = reverse("admin:members_member_add")

    bad = client.post(add, {"email": "not-an-email", "enrolment_channel": "store"})
    dup = client.post(add, {"email": "ada@example.com", "enrolment_channel": "store"})
    blank = client.post(add, {"enrolment_channel": "store"})

    assert bad.status_code == dup.status_code == blank.status_code == 200
    assert bad.context["adminform"].form.errors["email"]
    assert dup.context["adminform"].form.errors["email"]
    assert blank.context["adminform"].form.non_field_errors()
    assert Member.objects.count() == 1


def test_add_member_is_offered_only_to_roles_that_may_enrol(client, staff_user, programme):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_member"))
    client.force_login(staff_user)

    assert client.get(reverse("admin:members_member_add")).status_code == 403


def test_export_has_balance_tier_consents_and_enrolment_date(client, superuser, crowd):
    member_enroll(first_name="Con", last_name="Sent", consents={"email": True, "sms": False})
    client.force_login(superuser)

    response = client.post(reverse("admin:members_member_export"), {"format": "0", "resource": "0"})

    assert response.status_code == 200, response.content[:500]
    rows = response.content.decode().splitlines()
    header = rows[0].split(",")
    for column in ("points_balance", "tier", "email_consent", "sms_consent", "enrolled_at"):
        assert column in header
    by_name = {r.split(",")[header.index("last_name")]: r.split(",") for r in rows[1:]}
    rich = by_name["GoldRich"]
    assert rich[header.index("points_balance")] == "1501"
    assert rich[header.index("tier")] == "Gold"
    sent = by_name["Sent"]
    assert sent[header.index("email_consent")] == "yes"
    assert sent[header.index("sms_consent")] == "no"
    assert sent[header.index("enrolled_at")] == timezone.localdate().isoformat()


def test_filter_by_enrolment_date(client, superuser, programme):
    old = MemberFactory(last_name="Veteran")
    old.enrolled_at = timezone.now() - timedelta(days=400)
    old.save(update_fields=["enrolled_at"])
    MemberFactory(last_name="Newcomer")
    client.force_login(superuser)
    since = (timezone.localdate() - timedelta(days=7)).isoformat()

    recent = client.get(URL, {"enrolled_at__gte": since})

    assert _names(recent) == ["Newcomer"]
