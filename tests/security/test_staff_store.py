"""The staff-to-store binding: which members a user may see."""

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from members.models import StaffProfile
from members.selectors import member_list_for_staff, staff_store_for
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_stores() -> tuple[Any, Any, Any, Any]:
    here, there = StoreFactory(code="HERE"), StoreFactory(code="THERE")
    return here, there, MemberFactory(home_store=here), MemberFactory(home_store=there)


def test_restricted_clerk_sees_only_members_of_their_store(staff_user, two_stores):
    here, _there, mine, _theirs = two_stores
    StaffProfile.objects.create(user=staff_user, store=here, restricted_to_store=True)
    assert list(member_list_for_staff(user=staff_user)) == [mine]
    assert staff_store_for(user=staff_user) == here


def test_unrestricted_clerk_with_a_store_sees_every_member(staff_user, two_stores):
    here, _there, mine, theirs = two_stores
    StaffProfile.objects.create(user=staff_user, store=here, restricted_to_store=False)
    assert set(member_list_for_staff(user=staff_user)) == {mine, theirs}
    assert staff_store_for(user=staff_user) == here


def test_staff_without_profile_sees_every_member_and_has_no_store(staff_user, two_stores):
    assert set(member_list_for_staff(user=staff_user)) == set(two_stores[2:])
    assert staff_store_for(user=staff_user) is None


def test_superuser_is_never_restricted(superuser, two_stores):
    here, _there, mine, theirs = two_stores
    StaffProfile.objects.create(user=superuser, store=here, restricted_to_store=True)
    assert set(member_list_for_staff(user=superuser)) == {mine, theirs}
    assert staff_store_for(user=superuser) == here


def test_anonymous_and_inactive_users_see_nobody(staff_user, two_stores):
    assert not member_list_for_staff(user=AnonymousUser()).exists()
    assert staff_store_for(user=AnonymousUser()) is None
    staff_user.is_active = False
    staff_user.save()
    assert not member_list_for_staff(user=staff_user).exists()


def test_a_restriction_needs_a_store(staff_user):
    profile = StaffProfile(user=staff_user, store=None, restricted_to_store=True)
    with pytest.raises(ValidationError) as exc:
        profile.full_clean()
    assert "store" in exc.value.message_dict
    with pytest.raises(IntegrityError):
        StaffProfile.objects.create(user=staff_user, store=None, restricted_to_store=True)


def test_user_admin_edits_the_store_binding(client, superuser, staff_user):
    store = StoreFactory(code="TILL")
    client.force_login(superuser)
    url = f"/admin/auth/user/{staff_user.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"staff_profile-0-restricted_to_store" in page.content
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "username": staff_user.username,
            "is_active": "on",
            "is_staff": "on",
            "date_joined_0": staff_user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": staff_user.date_joined.strftime("%H:%M:%S"),
            "groups": [],
            "user_permissions": [],
            "staff_profile-TOTAL_FORMS": "1",
            "staff_profile-INITIAL_FORMS": "0",
            "staff_profile-MIN_NUM_FORMS": "0",
            "staff_profile-MAX_NUM_FORMS": "1",
            "staff_profile-0-store": str(store.pk),
            "staff_profile-0-restricted_to_store": "on",
            "staff_profile-0-user": str(staff_user.pk),
        }
    )
    data.pop("last_login", None)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    profile = StaffProfile.objects.get(user=staff_user)
    assert profile.store == store and profile.restricted_to_store
