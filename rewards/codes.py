"""Voucher codes: hard to guess, easy to read aloud and type.

12 characters from a 32-letter alphabet without 0/O/1/I: 11 random (55 bits from `secrets`) and
one check character (a weighted sum mod 32), so a mistyped code is caught before a lookup.
Shown as XXXX-XXXX-XXXX; input is forgiving about case, spaces and dashes.
"""

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
RANDOM_LENGTH = 11
LENGTH = RANDOM_LENGTH + 1


def _check_char(body: str) -> str:
    total = sum((i + 1) * ALPHABET.index(ch) for i, ch in enumerate(body))
    return ALPHABET[total % len(ALPHABET)]


def voucher_code_generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + _check_char(body)


def voucher_code_normalize(raw: str) -> str | None:
    """The canonical code, or None when it cannot be one of ours (wrong length, letters, check)."""
    code = "".join(str(raw or "").split()).replace("-", "").upper()
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    if _check_char(code[:-1]) != code[-1]:
        return None
    return code


PRINTED = re.compile(r"^[A-Z0-9]{6,20}$")


def _compact(raw: str) -> str:
    return "".join(str(raw or "").split()).replace("-", "").upper()


def printed_code_normalize(raw: str) -> str | None:
    """A pre-printed code as stored: 6-20 letters and digits, upper case, no spaces or dashes.
    None when it cannot be one."""
    code = _compact(raw)
    return code if PRINTED.match(code) else None


def voucher_code_lookup(raw: str) -> str | None:
    """The code to look up: ours when it checks out; a pre-printed one otherwise, except when
    the text has the shape of one of ours (12 characters of our alphabet) and fails its check
    character: that is a typo, refused without a lookup."""
    ours = voucher_code_normalize(raw)
    if ours:
        return ours
    code = _compact(raw)
    if len(code) == LENGTH and all(ch in ALPHABET for ch in code):
        return None
    return printed_code_normalize(code)
