import pytest

from members.exceptions import InvalidCardNumber
from members.identifiers import luhn_check_digit
from members.selectors import member_lookup
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


def test_lookup_by_card_number_is_exact():
    member = MemberFactory()
    MemberFactory()

    assert member_lookup(query=f" {member.member_number} ") == [member]


def test_lookup_with_a_mistyped_card_number_says_so():
    member = MemberFactory()
    wrong_digit = str((int(member.member_number[-1]) + 1) % 10)

    with pytest.raises(InvalidCardNumber):
        member_lookup(query=member.member_number[:-1] + wrong_digit)


def test_lookup_by_valid_but_unknown_card_number_finds_nothing():
    payload = "987654321"
    assert member_lookup(query=payload + luhn_check_digit(payload)) == []


def test_lookup_by_phone_in_any_common_format():
    member = MemberFactory(phone="+447911123456")

    for typed in ("07911 123456", "+44 (0)7911 123456".replace("(0)", ""), "07911-123-456"):
        assert member_lookup(query=typed) == [member], typed


def test_lookup_by_email_normalises_the_domain():
    member = MemberFactory(email="Jane@example.com")

    assert member_lookup(query="Jane@EXAMPLE.com") == [member]
    assert member_lookup(query="jane@example.com") == []  # the mailbox part is the owner's


def test_lookup_by_name_prefix_best_matches_first():
    smith = MemberFactory(first_name="Anna", last_name="Smith")
    smithson = MemberFactory(first_name="Bob", last_name="Smithson")
    first_name_hit = MemberFactory(first_name="Smithers", last_name="Jones")
    MemberFactory(first_name="Carl", last_name="Brown")

    assert member_lookup(query="smith") == [smith, smithson, first_name_hit]


def test_lookup_by_first_and_last_name():
    anna = MemberFactory(first_name="Anna", last_name="Smith")
    MemberFactory(first_name="Bob", last_name="Smith")

    assert member_lookup(query="anna sm") == [anna]
    assert member_lookup(query="smith anna") == [anna]


def test_lookup_limited_to_a_store_and_skips_erased():
    here, there = StoreFactory(code="A1"), StoreFactory(code="B1")
    local = MemberFactory(last_name="Taylor", home_store=here)
    MemberFactory(last_name="Taylor", home_store=there)

    assert member_lookup(query="taylor", store=here) == [local]


def test_empty_query_finds_nothing():
    MemberFactory()
    assert member_lookup(query="   ") == []
