"""Personal names in any script (pure functions, no database).

A member has a full name plus optional given and family parts (`first_name` / `last_name` in
the database and the API, for compatibility). The full name is what is searched and what is
shown when the parts are missing; when it is not given it is composed from the parts in the
order the name's own script uses:

- a name written in Chinese (Han) characters, family name first, no space: 王 + 小明 = 王小明;
- any other name, given name first: Anna + Smith = "Anna Smith".

`display_name` shows a member's name for a language: Chinese (zh-*) puts the family name first
(no space between Han characters, "Smith Anna" for a Latin name); other languages put the given
name first, except for a name in Han characters, which is written family-first in every
language. One helper, used by the admin, the clerk screen and messages.

`name_pinyin` is the search key for a Chinese name typed on a Latin keyboard: the pinyin of
its Han characters without tones or spaces, upper case ("王小明" -> "WANGXIAOMING"), "" for a
name with no Han character.
"""

import re

from django.utils import translation

FULL_NAME_MAX_LENGTH = 200
PINYIN_MAX_LENGTH = 200

# CJK Unified Ideographs, extension A, compatibility ideographs (what Chinese names use)
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def has_han(text: str) -> bool:
    return bool(_HAN.search(text or ""))


def compose_full_name(given: str, family: str) -> str:
    """The full name from its parts, in the order of the name's script (see the module doc)."""
    given, family = (given or "").strip(), (family or "").strip()
    if has_han(given) or has_han(family):
        return f"{family}{given}"
    return f"{given} {family}".strip()


def display_name(
    *, given: str = "", family: str = "", full_name: str = "", language: str | None = None
) -> str:
    """A name as a person reading `language` (default: the active language) expects it."""
    given, family = (given or "").strip(), (family or "").strip()
    if not (given and family):
        return (full_name or "").strip() or given or family
    language = (language or translation.get_language() or "en").lower()
    han = has_han(given) or has_han(family)
    if han:
        return f"{family}{given}"
    if language.startswith("zh"):
        return f"{family} {given}"
    return f"{given} {family}"


def member_display_name(member: object, language: str | None = None) -> str:
    """display_name for a member (anything with first_name, last_name and full_name)."""
    return display_name(
        given=getattr(member, "first_name", "") or "",
        family=getattr(member, "last_name", "") or "",
        full_name=getattr(member, "full_name", "") or "",
        language=language,
    )


def name_pinyin(full_name: str) -> str:
    """'王小明' -> 'WANGXIAOMING'; '' when the name has no Han character (a Latin name is
    searched by its own letters)."""
    if not has_han(full_name):
        return ""
    from pypinyin import lazy_pinyin  # its dictionaries load on first use, not at import

    syllables = lazy_pinyin(full_name, errors="ignore")
    key = "".join(s for s in syllables if s.isascii() and s.isalpha()).upper()
    return key[:PINYIN_MAX_LENGTH]


def search_key(text: str) -> str:
    """What a name search compares: upper case, no spaces ('王 小明' and '王小明' alike)."""
    return "".join(text.split()).upper()


def name_fields(
    *,
    given: str,
    family: str,
    full_name: str,
    previous: tuple[str, str, str] | None = None,
) -> tuple[str, str]:
    """The stored (full_name, name_pinyin) for these parts.

    `full_name` as given wins; blank, it is composed from the parts. `previous` (given, family,
    full name before a change): a full name that was the composition of the previous parts is
    composed again from the new ones, while one typed by hand ("John F. Kennedy") is kept.
    """
    full_name = (full_name or "").strip()
    if previous is not None:
        old_given, old_family, old_full = previous
        untouched = full_name == (old_full or "").strip()
        parts_changed = (given, family) != (old_given, old_family)
        if untouched and parts_changed and full_name == compose_full_name(old_given, old_family):
            full_name = ""
    if not full_name:
        full_name = compose_full_name(given, family)
    full_name = full_name[:FULL_NAME_MAX_LENGTH]
    return full_name, name_pinyin(full_name)
