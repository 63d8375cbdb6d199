"""Card numbers, referral codes, e-mail and phone normalisation (pure functions; the phone
region is the programme's, asked of members.hooks' provider: one query, or none when pinned)."""

import contextlib
import contextvars
import secrets
from collections.abc import Iterator

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneMetadata
from phonenumbers.phonemetadata import REGION_CODE_FOR_NON_GEO_ENTITY as NON_GEO_REGION
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    _is_number_matching_desc,
    national_significant_number,
)

MEMBER_NUMBER_LENGTH = 10  # 9 random digits + 1 Luhn check digit
REFERRAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand
REFERRAL_CODE_LENGTH = 8


_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # 2*d, minus 9 when above 9


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check (catches single typos, swaps)."""
    digits = [int(char) for char in reversed(payload)]
    total = sum(_DOUBLED[d] for d in digits[0::2]) + sum(digits[1::2])
    return str((10 - total % 10) % 10)


def is_valid_member_number(value: str) -> bool:
    return (
        len(value) == MEMBER_NUMBER_LENGTH
        and value.isdigit()
        and luhn_check_digit(value[:-1]) == value[-1]
    )


def new_member_number() -> str:
    # First digit 1-9 so numbers never lose a leading zero in spreadsheets.
    payload = str(secrets.randbelow(9) + 1) + "".join(
        str(secrets.randbelow(10)) for _ in range(MEMBER_NUMBER_LENGTH - 2)
    )
    return payload + luhn_check_digit(payload)


def new_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def normalize_email(value: str | None) -> str | None:
    """Trim, lower-case the domain (the local part is the mailbox owner's), validate. '' -> None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    local, sep, domain = value.rpartition("@")
    if not sep:
        raise ValidationError(_("Enter a valid e-mail address."), code="invalid_email")
    value = f"{local}@{domain.lower()}"
    validate_email(value)
    return value


_PINNED_REGION: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "phone_region", default=None
)


def phone_regions() -> list[tuple[str, str]]:
    """Every region phone numbers can be read for, as choices: ("CN", "CN (+86)")."""
    return [
        (region, f"{region} (+{phonenumbers.country_code_for_region(region)})")
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    ]


def validate_phone_region(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(
            _("Not a region phone numbers are known for: %(value)r (e.g. GB, CN)."),
            code="invalid_region",
            params={"value": value},
        )


def default_phone_region() -> str:
    """The region a number typed without its country code is read in: the programme's setting
    (members.hooks provider), else settings.PHONE_DEFAULT_REGION (the environment's)."""
    pinned = _PINNED_REGION.get()
    if pinned:
        return pinned
    from members import hooks

    for provider in hooks.PHONE_REGION_PROVIDERS:
        region = provider()
        if region:
            return region
    return str(settings.PHONE_DEFAULT_REGION)


@contextlib.contextmanager
def phone_region_pinned(region: str | None = None) -> Iterator[str]:
    """Read the programme's region once for a batch (an import normalises a phone per row)."""
    token = _PINNED_REGION.set(region or default_phone_region())
    try:
        yield _PINNED_REGION.get() or ""
    finally:
        _PINNED_REGION.reset(token)


def normalize_phone(value: str | None, *, region: str | None = None) -> str | None:
    """Any common way of writing a phone number -> E.164 ('+447700900123'). '' -> None.
    Without a country code it is read in `region`, default the programme's region."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        parsed = phonenumbers.parse(value, region or default_phone_region())
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Enter a valid phone number."), code="invalid_phone") from exc
    if not _is_valid_number(parsed):
        raise ValidationError(_("Enter a valid phone number."), code="invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _is_valid_number(parsed: phonenumbers.PhoneNumber) -> bool:
    """phonenumbers.is_valid_number, three to four times as fast for a geographic region (bulk
    imports normalise a phone per row; it was most of the admin import's validation).

    is_valid_number finds the number's region (for a shared country code such as +44 for GB,
    GG, IM, JE, by validating against each region in turn), then asks whether the number
    matches the region's general pattern and one of its number types, trying eight rare types
    before fixed line and mobile. Whether SOME type matches does not depend on the order, so
    `_matches_a_type` tries mobile and fixed line first. For a shared code the main region is
    tried first: a region without a leading-digits rule is picked exactly when the number is
    valid there. Anything else (non-geographic codes, regions with leading-digits rules) goes
    to phonenumbers. tests/members/test_identifiers.py compares both on random numbers."""
    code = parsed.country_code
    regions = (COUNTRY_CODE_TO_REGION_CODE.get(code) if code is not None else None) or ()
    if regions and regions[0] != NON_GEO_REGION:
        metadata = PhoneMetadata.metadata_for_region(regions[0], None)
        if metadata is not None and (len(regions) == 1 or metadata.leading_digits is None):
            if _matches_a_type(national_significant_number(parsed), metadata):
                return True
            if len(regions) == 1:
                return False
    return phonenumbers.is_valid_number(parsed)


# the types phonenumbers' _number_type_helper checks, most common first
_NUMBER_TYPES = (
    "mobile",
    "fixed_line",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


def _matches_a_type(national_number: str, metadata: PhoneMetadata) -> bool:
    if not _is_number_matching_desc(national_number, metadata.general_desc):
        return False
    return any(
        _is_number_matching_desc(national_number, getattr(metadata, kind)) for kind in _NUMBER_TYPES
    )


def looks_like_phone(value: str) -> bool:
    digits = sum(ch.isdigit() for ch in value)
    return digits >= 6 and all(ch.isdigit() or ch in " +-().\u00a0" for ch in value)
