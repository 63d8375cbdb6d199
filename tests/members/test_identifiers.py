import pytest
from django.core.exceptions import ValidationError

from members.identifiers import (
    REFERRAL_ALPHABET,
    is_valid_member_number,
    luhn_check_digit,
    new_member_number,
    new_referral_code,
    normalize_email,
    normalize_phone,
)

# phone numbers are read in the programme's region, a setting stored in the database
pytestmark = pytest.mark.django_db


def test_luhn_check_digit_of_a_known_number():
    assert luhn_check_digit("7992739871") == "3"  # the textbook Luhn example


def test_new_member_numbers_pass_and_single_typos_fail():
    number = new_member_number()

    assert len(number) == 10 and number.isdigit() and number[0] != "0"
    assert is_valid_member_number(number)
    for position in range(10):
        typo = number[:position] + str((int(number[position]) + 1) % 10) + number[position + 1 :]
        assert not is_valid_member_number(typo), typo


def test_adjacent_swap_is_caught():
    valid = "123456789" + luhn_check_digit("123456789")
    swapped = "213456789" + valid[-1]
    assert is_valid_member_number(valid)
    assert not is_valid_member_number(swapped)


def test_referral_codes_avoid_ambiguous_characters():
    code = new_referral_code()

    assert len(code) == 8
    assert set(code) <= set(REFERRAL_ALPHABET)
    assert not set("01OI") & set(REFERRAL_ALPHABET)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Jane.Doe@Example.COM ", "Jane.Doe@example.com"),
        ("", None),
        (None, None),
        ("   ", None),
    ],
)
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["not-an-email", "a@", "@b.com", "a b@c.com"])
def test_normalize_email_rejects(raw):
    with pytest.raises(ValidationError):
        normalize_email(raw)


@pytest.mark.parametrize(
    "raw",
    ["07911 123456", "+44 7911 123456", "0044 7911 123456", "(07911) 123-456", "+447911123456"],
)
def test_normalize_phone_to_e164(raw):
    assert normalize_phone(raw) == "+447911123456"


def test_normalize_phone_other_region():
    assert normalize_phone("+33 6 12 34 56 78") == "+33612345678"
    assert normalize_phone("06 12 34 56 78", region="FR") == "+33612345678"


@pytest.mark.parametrize("raw", ["12", "abc", "+44 1", "07911 12345678901"])
def test_normalize_phone_rejects(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)


def test_fast_phone_validity_agrees_with_phonenumbers_on_random_numbers():
    """_is_valid_number tries the common number types first and the main region of a shared
    country code first; on any number it must answer what phonenumbers.is_valid_number does."""
    import random

    import phonenumbers

    from members.identifiers import _is_valid_number

    rng = random.Random(8)
    # geographic single-region codes, shared codes (+44 GB/GG/IM/JE, +1 NANPA, +7, +61), and
    # non-geographic ones (+800, +882)
    codes = [44, 1, 49, 33, 353, 31, 7, 61, 39, 34, 91, 86, 81, 55, 800, 882, 290, 262]
    agreed = valid = 0
    for _ in range(20_000):
        code = rng.choice(codes)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(4, 13)))
        if rng.random() < 0.5:  # realistic leading digits: mobiles and geographic prefixes
            digits = rng.choice(("7", "77", "78", "1", "2", "20", "3", "6", "8", "9")) + digits
        try:
            parsed = phonenumbers.parse(f"+{code}{digits}", None)
        except phonenumbers.NumberParseException:
            continue
        expected = phonenumbers.is_valid_number(parsed)
        assert _is_valid_number(parsed) == expected, f"+{code}{digits}"
        agreed += 1
        valid += expected
    assert agreed > 15_000 and valid > 500  # the sample holds plenty of both answers
