"""The search box: card number (a scanner), phone, e-mail, name; a wrong card in words; and a
fixed number of queries whatever the data."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loyalty.ledger.services import points_earn
from loyalty.ledger.timezones import programme_zone_name
from members.identifiers import luhn_check_digit
from tests.clerk.test_actions import text
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db


def unknown_card() -> str:
    payload = "987654321"
    return payload + luhn_check_digit(payload)


def bad_check_digit(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def test_enter_on_a_card_number_opens_the_member_at_once(clerk, member):
    response = clerk.get(reverse("clerk:home"), {"q": f" {member.member_number} "})
    assert response.status_code == 302
    assert response["Location"] == reverse("clerk:member", args=[member.pk])


@pytest.mark.parametrize("make", [unknown_card, None])
def test_a_wrong_or_unknown_card_number_says_so_clearly(clerk, member, make):
    number = make() if make else bad_check_digit(member.member_number)
    message = (
        f"No member with card number {number}. Check the number or search by name, phone or e-mail."
    )
    for name in ("clerk:home", "clerk:search"):
        response = clerk.get(reverse(name), {"q": number})
        assert response.status_code == 200
        assert message in text(response)


def test_as_you_type_results_list_members_by_name(clerk, member):
    MemberFactory(first_name="Adam", last_name="Smith")
    MemberFactory(first_name="Zoe", last_name="Lovell")

    response = clerk.get(reverse("clerk:search"), {"q": "lov"})

    page = text(response)
    assert "Ada Lovelace" in page and "Zoe Lovell" in page and "Adam Smith" not in page
    assert "<html" not in response.content.decode()  # a fragment for htmx
    assert reverse("clerk:member", args=[member.pk]) in response.content.decode()


def test_enter_on_a_unique_email_or_phone_opens_the_member(clerk, member):
    local, domain = member.email.split("@")
    for query in (f"{local}@{domain.upper()}", member.phone):
        response = clerk.get(reverse("clerk:home"), {"q": query})
        assert response.status_code == 302, query
        assert response["Location"] == reverse("clerk:member", args=[member.pk])


def test_enter_on_a_name_lists_the_matches(clerk, member):
    response = clerk.get(reverse("clerk:home"), {"q": "Ada Lovelace"})
    assert response.status_code == 200
    assert "Ada Lovelace" in text(response)


def test_nothing_found_in_words(clerk, member):
    page = text(clerk.get(reverse("clerk:search"), {"q": "nobody@example.com"}))
    assert "No member found with e-mail “nobody@example.com”." in page
    page = text(clerk.get(reverse("clerk:search"), {"q": "Zzyzx"}))
    assert "No member found with name “Zzyzx”." in page


def test_empty_search_shows_nothing(clerk, programme):
    response = clerk.get(reverse("clerk:search"), {"q": "   "})
    assert response.status_code == 200
    assert text(response) == ""


def test_search_queries_do_not_grow_with_the_matches(
    clerk, programme, rules, django_assert_max_num_queries
):
    MemberFactory(first_name="Sam", last_name="Taylor")
    with CaptureQueriesContext(connection) as one:
        clerk.get(reverse("clerk:search"), {"q": "Taylor"})
    for n in range(12):
        MemberFactory(first_name="Sam", last_name=f"Taylor{n}")
    # session, user, permissions (user + groups), staff profile, the matches (one query per
    # rank, at most three: members.selectors.member_lookup), their consents
    with django_assert_max_num_queries(9):
        response = clerk.get(reverse("clerk:search"), {"q": "Taylor"})
    assert text(response).count("Sam Taylor") == 10  # the first ten
    with CaptureQueriesContext(connection) as many:
        clerk.get(reverse("clerk:search"), {"q": "Taylor"})
    # more matches fill the ten from the first ranks: never more queries than one match
    assert len(many.captured_queries) <= len(one.captured_queries)


def test_card_open_queries_are_few(clerk, member, django_assert_max_num_queries):
    programme_zone_name()  # cached across requests (loyalty.ledger.timezones), as on a live till
    with django_assert_max_num_queries(7):
        response = clerk.get(reverse("clerk:home"), {"q": member.member_number})
    assert response.status_code == 302


def test_member_card_queries_do_not_grow_with_history_or_catalogue(
    clerk, member, django_assert_max_num_queries
):
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert clerk.get(reverse("clerk:member", args=[member.pk])).status_code == 200
        return len(ctx.captured_queries)

    points_earn(member=member, points=500, idempotency_key="seed")
    earn(member, "10.00")
    RewardFactory(points_cost=100)
    programme_zone_name()  # cached across requests (loyalty.ledger.timezones)
    count_queries()  # the first request fills this process's configuration caches
    small = count_queries()
    for n in range(15):
        earn(member, f"{n + 1}.00")
        RewardFactory(points_cost=100 + n, limit_per_member=1)
    assert count_queries() == small
    # 30 before the engagement panel (settings, badges, streak, stage, next badge) and the
    # suggestions panel (bought-together rows, product stats): a fixed number, as checked above
    with django_assert_max_num_queries(36):
        clerk.get(reverse("clerk:member", args=[member.pk]))
