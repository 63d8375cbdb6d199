"""A phone number typed the national way finds the member in the admin search, the clerk
lookup and the API lookup (the programme's default region, PHONE_DEFAULT_REGION = GB)."""

import pytest
from django.urls import reverse

from loyalty.clerk.selectors import clerk_member_search
from tests.conftest import grant_api_permissions
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db

NATIONAL = ("07911100231", "07911 100231", "07911-100-231")


@pytest.fixture
def member():
    MemberFactory(phone="+447911100999", last_name="Other")
    return MemberFactory(phone="+447911100231", last_name="Found")


@pytest.mark.parametrize("typed", NATIONAL)
def test_admin_search_normalises_a_national_phone(client, superuser, member, typed):
    client.force_login(superuser)

    page = client.get(reverse("admin:members_member_changelist"), {"q": typed})

    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [member]


def test_admin_search_still_finds_by_e164_and_name(client, superuser, member):
    client.force_login(superuser)
    url = reverse("admin:members_member_changelist")

    by_e164 = client.get(url, {"q": "+447911100231"}).context["cl"].result_list
    by_name = client.get(url, {"q": "Found"}).context["cl"].result_list

    assert list(by_e164) == [member] and list(by_name) == [member]


def test_clerk_lookup_normalises_a_national_phone(superuser, member):
    for typed in NATIONAL:
        assert list(clerk_member_search(query=typed, user=superuser).members) == [member], typed


def test_api_lookup_normalises_a_national_phone(api_client, staff_user, member):
    from rest_framework.authtoken.models import Token

    grant_api_permissions(staff_user)
    token, _ = Token.objects.get_or_create(user=staff_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    for typed in NATIONAL:
        response = api_client.get("/api/v1/members/lookup/", {"q": typed})
        assert response.status_code == 200, response.content
        assert [m["member_number"] for m in response.json()] == [member.member_number], typed
