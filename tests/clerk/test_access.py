"""Who may use the clerk screen, CSRF on every form, and escaping of what members typed."""

import pytest
from django.test import Client
from django.urls import reverse

from loyalty.ledger.models import Transaction
from tests.clerk.test_actions import TOKEN, text
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def every_url(member) -> list[tuple[str, str]]:
    m = [member.pk]
    return [
        ("get", reverse("clerk:home")),
        ("get", reverse("clerk:search") + "?q=ada"),
        ("get", reverse("clerk:enrol")),
        ("get", reverse("clerk:voucher")),
        ("get", reverse("clerk:member", args=m)),
        ("post", reverse("clerk:purchase", args=m)),
        ("post", reverse("clerk:return", args=m)),
        ("post", reverse("clerk:redeem", args=m)),
        ("post", reverse("clerk:pay", args=m)),
        ("post", reverse("clerk:consents", args=m)),
        ("post", reverse("clerk:enrol")),
        ("post", reverse("clerk:voucher")),
    ]


def test_anonymous_users_are_sent_to_the_clerk_login(client, member):
    for method, url in every_url(member):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("clerk:login") + "?next="), url


def test_users_without_the_clerk_permission_get_403(django_user_model, member):
    user = django_user_model.objects.create_user(
        username="marketing", password="pw-123456789", is_staff=True
    )
    client = Client()
    client.force_login(user)
    for method, url in every_url(member):
        response = getattr(client, method)(url, {"amount": "10", "token": TOKEN})
        assert response.status_code == 403, url
        assert "You may not use the till screen" in text(response), url
    assert not Transaction.objects.exists()


def test_login_page_logs_in_and_lands_on_the_search(client, clerk_user):
    page = client.get(reverse("clerk:login"))
    assert page.status_code == 200
    assert "Log in to the till" in text(page)
    wrong = client.post(reverse("clerk:login"), {"username": "till", "password": "nope"})
    assert "Wrong user name or password." in text(wrong)
    response = client.post(
        reverse("clerk:login"), {"username": "till", "password": "till-pass-123"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("clerk:home")


def test_logout_is_a_post_and_returns_to_the_login(clerk):
    response = clerk.post(reverse("clerk:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("clerk:login")
    assert clerk.get(reverse("clerk:home")).status_code == 302


def test_every_form_needs_the_csrf_token(clerk_user, member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk_user)
    response = client.post(
        reverse("clerk:purchase", args=[member.pk]), {"amount": "10", "token": TOKEN}
    )
    assert response.status_code == 403
    assert not Transaction.objects.exists()
    page = client.get(reverse("clerk:member", args=[member.pk])).content.decode()
    assert page.count("<form") == page.count('name="csrfmiddlewaretoken"') + 1  # + the GET search


def test_a_member_named_like_a_script_is_shown_as_text(clerk, programme, rules):
    evil = MemberFactory(first_name="<script>alert(1)</script>", last_name="<b>x</b>")

    for response in (
        clerk.get(reverse("clerk:member", args=[evil.pk])),
        clerk.get(reverse("clerk:search"), {"q": "<script>"}),
        clerk.get(reverse("clerk:home"), {"q": "<script>alert(1)</script>"}),
    ):
        html = response.content.decode()
        assert "<script>alert(1)</script>" not in html
        assert "<b>x</b>" not in html
    html = clerk.get(reverse("clerk:member", args=[evil.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_search_after_the_session_expired_sends_the_page_to_the_login(client, programme):
    response = client.get(reverse("clerk:search"), {"q": "ada"}, headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"] == reverse("clerk:login") + "?next=%2Fclerk%2F"
    assert response.content == b""
