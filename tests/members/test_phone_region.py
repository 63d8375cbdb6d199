"""The default phone region is a programme setting staff edit (its first value comes from the
environment's PHONE_DEFAULT_REGION): numbers of any region are stored in E.164 and found when
typed in national format, here GB (07911 123456) and CN (138 0013 8000), in the admin search,
the clerk lookup and the API lookup."""

import pytest
from django.test import override_settings
from django.urls import reverse

from loyalty.clerk.selectors import clerk_member_search
from loyalty.ledger.models import ProgrammeSettings, phone_region_default
from loyalty.ledger.policy import programme_settings_get
from members.identifiers import default_phone_region, normalize_phone, phone_region_pinned
from members.services import member_enroll
from tests.conftest import grant_api_permissions
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db

CASES = {  # region: (stored E.164, typed the national way)
    "GB": ("+447911123456", ("07911 123456", "07911123456", "07911-123-456")),
    "CN": ("+8613800138000", ("138 0013 8000", "13800138000", "138-0013-8000")),
}


def set_region(region: str) -> None:
    programme = programme_settings_get()
    programme.phone_region = region
    programme.save()


@pytest.fixture(params=sorted(CASES))
def region_member(request):
    region = request.param
    stored, typed = CASES[region]
    set_region(region)
    MemberFactory(phone="+447911100999" if region == "CN" else "+8613900139000")
    return MemberFactory(phone=stored), typed


def test_the_env_var_gives_the_first_value_and_the_setting_then_rules():
    with override_settings(PHONE_DEFAULT_REGION="CN"):
        assert phone_region_default() == "CN"
    ProgrammeSettings.objects.filter(pk=1).delete()
    assert default_phone_region() == "GB"  # no programme row yet: the environment's
    set_region("CN")
    assert default_phone_region() == "CN"
    assert normalize_phone("138 0013 8000") == "+8613800138000"
    assert normalize_phone("+44 7911 123456") == "+447911123456"  # any region, given its code
    with phone_region_pinned("GB"):
        assert normalize_phone("07911 123456") == "+447911123456"


def test_enrolment_stores_e164_in_the_programme_region():
    set_region("CN")
    member = member_enroll(full_name="王小明", phone="138 0013 8000")
    assert member.phone == "+8613800138000"


def test_admin_search(client, superuser, region_member):
    member, typed = region_member
    client.force_login(superuser)
    for text in typed:
        page = client.get(reverse("admin:members_member_changelist"), {"q": text})
        assert list(page.context["cl"].result_list) == [member], text


def test_clerk_lookup(superuser, region_member):
    member, typed = region_member
    for text in typed:
        result = clerk_member_search(query=text, user=superuser)
        assert result.open_member == member, text


def test_api_lookup(api_client, staff_user, region_member):
    from rest_framework.authtoken.models import Token

    member, typed = region_member
    grant_api_permissions(staff_user)
    token, _ = Token.objects.get_or_create(user=staff_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    for text in typed:
        response = api_client.get("/api/v1/members/lookup/", {"q": text})
        assert response.status_code == 200, response.content
        assert [m["member_number"] for m in response.json()] == [member.member_number], text


def test_staff_change_the_region_in_the_programme_settings(client, superuser):
    client.force_login(superuser)
    programme = programme_settings_get()
    url = reverse("admin:ledger_programmesettings_change", args=[programme.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, list):
            value = ",".join(value)
        data[name] = "" if value is None else value
    data["phone_region"] = "CN"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert programme_settings_get().phone_region == "CN"

    data["phone_region"] = "XX"
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert "phone_region" in refused.context["adminform"].form.errors
    assert programme_settings_get().phone_region == "CN"
