"""Clerks and their store: a clerk restricted to a store neither finds nor serves another
store's members; what any clerk records is booked to their store."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from loyalty.ledger.models import Transaction
from loyalty.ledger.services import points_earn
from members.models import Member
from rewards.models import Redemption
from rewards.services import redemption_create
from tests.clerk.test_actions import TOKEN, follow, text
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_store, programme, rules):
    member = MemberFactory(first_name="Tom", last_name="Away", home_store=other_store)
    points_earn(member=member, points=1000, idempotency_key="seed")
    return member


def test_restricted_clerk_cannot_open_another_stores_member(restricted, theirs, member):
    assert restricted.get(reverse("clerk:member", args=[member.pk])).status_code == 200
    response = restricted.get(reverse("clerk:member", args=[theirs.pk]))
    assert response.status_code == 404
    assert "Member not found" in text(response)
    assert "Tom" not in text(response)


def test_restricted_clerk_cannot_act_for_another_stores_member(restricted, theirs):
    reward = RewardFactory(points_cost=100)
    posts = {
        "purchase": {"amount": "10", "token": TOKEN},
        "redeem": {"reward": reward.pk, "token": TOKEN},
        "pay": {"order_ref": "R-1", "points": "200", "token": TOKEN},
        "return": {"purchase": 1, "token": TOKEN},
        "consents": {"email": "on"},
    }
    for name, data in posts.items():
        response = restricted.post(reverse(f"clerk:{name}", args=[theirs.pk]), data)
        assert response.status_code == 404, name
    assert not Transaction.objects.exists()
    assert not Redemption.objects.exists()


def test_restricted_clerk_search_finds_only_their_store(restricted, theirs, member):
    page = text(restricted.get(reverse("clerk:search"), {"q": "Away"}))
    assert "Tom Away" not in page
    assert "No member found with name “Away”." in page
    response = restricted.get(reverse("clerk:home"), {"q": theirs.member_number})
    assert response.status_code == 200
    assert f"No member with card number {theirs.member_number}." in text(response)
    assert restricted.get(reverse("clerk:home"), {"q": member.member_number}).status_code == 302


def test_unrestricted_clerk_serves_every_store(clerk, theirs):
    assert clerk.get(reverse("clerk:member", args=[theirs.pk])).status_code == 200
    assert "Tom Away" in text(clerk.get(reverse("clerk:search"), {"q": "Away"}))


def test_what_a_clerk_records_is_booked_to_their_store(clerk, store, theirs):
    reward = RewardFactory(points_cost=100)
    clerk.post(reverse("clerk:purchase", args=[theirs.pk]), {"amount": "10", "token": TOKEN})
    clerk.post(reverse("clerk:redeem", args=[theirs.pk]), {"reward": reward.pk, "token": TOKEN})
    response = clerk.post(
        reverse("clerk:enrol"), {"first_name": "New", "email": "new@example.com", "token": TOKEN}
    )
    follow(clerk, response)

    assert Transaction.objects.get().store == store
    assert Redemption.objects.get().store == store
    assert Member.objects.get(email="new@example.com").home_store == store


def test_voucher_of_another_stores_member_checks_without_opening_them(restricted, theirs):
    voucher = redemption_create(member=theirs, reward=RewardFactory(points_cost=100)).voucher
    response = restricted.get(reverse("clerk:voucher"), {"code": voucher.code})
    assert response.status_code == 200
    assert "Valid" in text(response)
    assert reverse("clerk:member", args=[theirs.pk]) not in response.content.decode()


def test_a_superuser_may_use_the_clerk_screen(superuser, member):
    client = Client()
    client.force_login(superuser)
    assert client.get(reverse("clerk:member", args=[member.pk])).status_code == 200


def test_other_roles_may_not_use_the_clerk_screen(django_user_model, member):
    for role in ("Marketing", "Finance"):
        user = django_user_model.objects.create_user(username=role, is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client = Client()
        client.force_login(user)
        assert client.get(reverse("clerk:home")).status_code == 403, role


def test_demo_till_user_is_a_restricted_store_clerk(django_user_model, programme):
    from io import StringIO

    from loyalty.clerk import demo
    from tests.factories.members import StoreFactory

    StoreFactory(code=demo.STORE)
    demo.load(stdout=StringIO())
    demo.load(stdout=StringIO())  # idempotent

    user = django_user_model.objects.get(username="clerk")
    assert not user.check_password("clerk")  # a generated password, printed once
    assert user.has_perm("members.use_clerk_screen")
    assert not user.has_perm("ledger.adjust_points") and not user.is_staff
    profile = user.staff_profile
    assert (profile.store.code, profile.restricted_to_store) == (demo.STORE, True)
