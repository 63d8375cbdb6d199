"""Staff language: the staff profile's choice, else the browser's; the clerk screen's switch;
the API follows Accept-Language with stable English error codes (issue 24)."""

import pytest
from django.test import Client
from django.urls import reverse

from members.models import StaffProfile

pytestmark = pytest.mark.django_db


def _lang(response) -> str:  # type: ignore[no-untyped-def]
    return response["Content-Language"]


def test_browser_language_is_used_when_the_profile_has_none(clerk):
    chinese = clerk.get(reverse("clerk:home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    english = clerk.get(reverse("clerk:home"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert _lang(chinese) == "zh-hans"
    assert "查找会员" in chinese.content.decode()
    assert _lang(english) == "en-gb"
    assert "Find a member" in english.content.decode()


def test_profile_language_wins_over_the_browser_from_login_on(clerk_user):
    StaffProfile.objects.filter(user=clerk_user).update(language="zh-hans")
    client = Client()
    client.force_login(clerk_user)

    page = client.get(reverse("clerk:home"), HTTP_ACCEPT_LANGUAGE="en-GB")

    assert _lang(page) == "zh-hans"
    assert '<html lang="zh-hans">' in page.content.decode()


def test_profile_language_applies_to_the_admin_too(django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "boss-pass-123")
    StaffProfile.objects.create(user=user, language="zh-hans")
    client = Client()
    client.force_login(user)

    page = client.get(reverse("admin:members_member_changelist"), HTTP_ACCEPT_LANGUAGE="en")

    assert _lang(page) == "zh-hans"
    assert "会员" in page.content.decode()


def test_clerk_switch_saves_the_language_in_profile_session_and_cookie(clerk, clerk_user):
    home = reverse("clerk:home")

    response = clerk.post(reverse("clerk:language"), {"language": "zh-hans", "next": home})

    assert response.status_code == 303
    assert response["Location"] == home
    assert StaffProfile.objects.get(user=clerk_user).language == "zh-hans"
    assert response.cookies["django_language"].value == "zh-hans"
    page = clerk.get(home, HTTP_ACCEPT_LANGUAGE="en")
    assert _lang(page) == "zh-hans"
    assert 'data-testid="language-en-gb"' in page.content.decode()  # the way back

    clerk.post(reverse("clerk:language"), {"language": "en-gb", "next": home})

    assert _lang(clerk.get(home)) == "en-gb"
    assert StaffProfile.objects.get(user=clerk_user).language == "en-gb"


def test_clerk_switch_refuses_unknown_languages_and_foreign_redirects(clerk, clerk_user):
    response = clerk.post(
        reverse("clerk:language"), {"language": "xx", "next": "https://evil.example/"}
    )

    assert response.status_code == 303
    assert response["Location"] == reverse("clerk:home")
    assert StaffProfile.objects.get(user=clerk_user).language == ""
    assert "django_language" not in response.cookies


def test_clerk_switch_needs_the_csrf_token(clerk_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk_user)

    response = client.post(reverse("clerk:language"), {"language": "zh-hans"})

    assert response.status_code == 403
    assert StaffProfile.objects.get(user=clerk_user).language == ""


def test_clerk_switch_on_the_login_page_sets_the_cookie_only(client):
    login = reverse("clerk:login")

    response = client.post(reverse("clerk:language"), {"language": "zh-hans", "next": login})
    page = client.get(login)

    assert response.cookies["django_language"].value == "zh-hans"
    assert "登录收银台" in page.content.decode()
    assert not StaffProfile.objects.exists()


def test_switch_is_not_a_get(clerk):
    assert clerk.get(reverse("clerk:language")).status_code == 405


def test_api_messages_follow_accept_language_and_codes_stay_english(admin_api_client):
    url = reverse("members:detail", args=[999_999])

    chinese = admin_api_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
    english = admin_api_client.get(url, HTTP_ACCEPT_LANGUAGE="en")

    assert chinese.status_code == english.status_code == 404
    assert chinese.json()["code"] == english.json()["code"]
    assert chinese.json()["code"].isascii()
    assert chinese.json()["message"] != english.json()["message"]
    assert not chinese.json()["message"].isascii()


def test_api_field_errors_follow_accept_language(admin_api_client):
    url = reverse("ledger:purchase-create")

    response = admin_api_client.post(url, {}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")

    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "validation_error"
    assert not body["message"].isascii()
    field_messages = [m for messages in body["extra"]["fields"].values() for m in messages]
    assert field_messages and all(not m.isascii() for m in field_messages)


def test_api_ignores_the_staff_profile_language(superuser, admin_api_client):
    StaffProfile.objects.create(user=superuser, language="zh-hans")

    response = admin_api_client.get(
        reverse("members:detail", args=[999_999]), HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.json()["message"].isascii()
