"""External ids of members (MemberIdentity) as text: checking one, reading and writing a CSV cell.

A CSV gives them either one column per kind, named by the kind (`wechat`, `alipay`,
`web_shop`, `partner_card`, `other`), or one `identities` column listing kind:value pairs
separated by semicolons: `wechat:o6_bmjrPTlm6;alipay:2088102146225135`. Exports write the
`identities` column, so an exported file imports again unchanged.
"""

import unicodedata
from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from members.models import MemberIdentity

KINDS: tuple[str, ...] = tuple(MemberIdentity.Kind.values)
LIST_COLUMN = "identities"
VALUE_MAX_LENGTH = 128


def identity_value_error(value: str) -> str | None:
    """Why `value` cannot be an external id, or None."""
    if not value:
        return _("Type the id.")
    if len(value) > VALUE_MAX_LENGTH:
        return _("At most %(count)d characters.") % {"count": VALUE_MAX_LENGTH}
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in value):
        return _("An id has no spaces or control characters.")
    return None


def normalize_identity(kind: str, value: str) -> tuple[str, str]:
    """(kind, value) trimmed and checked; ValidationError with field errors otherwise."""
    kind = (kind or "").strip().lower()
    value = (value or "").strip()
    errors: dict[str, list[str]] = {}
    if kind not in KINDS:
        errors["kind"] = [
            _("Unknown kind %(kind)r; one of %(kinds)s.")
            % {"kind": kind, "kinds": ", ".join(KINDS)}
        ]
    if error := identity_value_error(value):
        errors["value"] = [error]
    if errors:
        raise ValidationError(errors)
    return kind, value


def parse_identities(text: str) -> list[tuple[str, str]]:
    """'wechat:abc; alipay:123' -> [('wechat', 'abc'), ('alipay', '123')]; ValidationError (one
    message naming the bad pair) otherwise."""
    pairs = []
    for item in (text or "").split(";"):
        item = item.strip()
        if not item:
            continue
        kind, sep, value = item.partition(":")
        if not sep:
            raise ValidationError(
                _("%(item)r is not kind:value (e.g. wechat:o6_bmjrPTlm6).") % {"item": item}
            )
        try:
            pairs.append(normalize_identity(kind, value))
        except ValidationError as exc:
            raise ValidationError(f"{item}: {' '.join(exc.messages)}") from None
    return pairs


def identities_from_row(raw: Mapping[str, str | None]) -> list[tuple[str, str]]:
    """The ids a CSV row gives, from its per-kind columns and its `identities` column.
    ValidationError keyed by the column at fault."""
    pairs: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    for kind in KINDS:
        value = (raw.get(kind) or "").strip()
        if value:
            if error := identity_value_error(value):
                errors[kind] = error
            else:
                pairs.append((kind, value))
    if raw.get(LIST_COLUMN):
        try:
            pairs.extend(parse_identities(raw[LIST_COLUMN] or ""))
        except ValidationError as exc:
            errors[LIST_COLUMN] = " ".join(exc.messages)
    if errors:
        raise ValidationError(errors)
    seen: set[tuple[str, str]] = set()
    return [pair for pair in pairs if not (pair in seen or seen.add(pair))]  # type: ignore[func-returns-value]


def identities_holders(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(kind, value) -> id of the member who holds it, for those of `pairs` someone holds."""
    pairs = set(pairs)
    if not pairs:
        return {}
    values = sorted({value for _, value in pairs})
    held: dict[tuple[str, str], int] = {}
    for start in range(0, len(values), 5000):  # bounded IN lists
        for kind, value, member_id in MemberIdentity.objects.filter(
            value__in=values[start : start + 5000]
        ).values_list("kind", "value", "member_id"):
            if (kind, value) in pairs:
                held[(kind, value)] = member_id
    return held


def format_identities(pairs: Iterable[tuple[str, str]]) -> str:
    return ";".join(f"{kind}:{value}" for kind, value in sorted(pairs))
