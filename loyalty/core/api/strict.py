"""Strict JSON input: the API accepts exactly what its OpenAPI schema says, nothing more.

DRF is lenient by design (it was built for HTML forms): a CharField takes 42 and stores "42",
a BooleanField takes 0 or "yes", an IntegerField takes "7", unknown keys are dropped. For a
machine-to-machine API that hides client bugs and makes the schema lie. `StrictSerializer`
checks the JSON type of every value against its field before DRF converts it, and refuses keys
it does not know; LoyaltyAutoSchema documents the same (additionalProperties: false and the
input patterns below), which the contract fuzzing in tests/hardening holds us to.

Decimals travel as strings ("12.50"), as the responses do, so they never pass through a binary
float; the schema gives the exact pattern.
"""

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

UNKNOWN_FIELD = "Unknown field."
# Text in a JSON body (names, addresses, reasons, notes, codes) may hold any Unicode character
# except the control characters (category Cc) other than tab, line feed and carriage return:
# U+0000-U+0008, U+000B, U+000C, U+000E-U+001F and U+007F-U+009F (NUL, the separators
# U+001C-U+001F, NEL U+0085...). They are invisible on a till, a screen or a CSV, PostgreSQL
# cannot store NUL, and several of them count as whitespace to Python but not to JSON Schema
# regexes, so a schema that allowed them promised values the trimmed field then refused.
# `text_error` refuses them and the schema's patterns say the same (docs/api.md, "Text").
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
CONTROL_RE = re.compile(f"[{CONTROL_CHARACTERS}]")
# What DRF's trimming (str.strip) removes from text that holds no control character, spelt
# out instead of \s, which means different sets in Python and in ECMA-262 regexes.
WHITESPACE = r"\t\n\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = rf"^[^{CONTROL_CHARACTERS}]*$"
NON_EMPTY_TEXT_PATTERN = rf"^[^{CONTROL_CHARACTERS}]+$"
NON_BLANK_TEXT_PATTERN = (
    rf"^[^{CONTROL_CHARACTERS}]*[^{WHITESPACE}{CONTROL_CHARACTERS}][^{CONTROL_CHARACTERS}]*$"
)
# Query strings refuse the same control characters (UnknownQueryParameterMiddleware); a
# search splits on any whitespace.
QUERY_TEXT_PATTERN = TEXT_PATTERN

_JSON_TYPES: list[tuple[type, tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "a boolean (true or false)"),
    (serializers.IntegerField, (int,), "a whole number"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.DecimalField, (str,), 'a decimal number written as a string, e.g. "12.50"'),
    (serializers.ListField, (list,), "a list"),
    (serializers.ListSerializer, (list,), "a list"),
    (serializers.DictField, (dict,), "an object"),
    (serializers.Serializer, (dict,), "an object"),
    # Everything else that reads text: CharField and its kin, choices, dates, slugs.
    (serializers.Field, (str,), "a string"),
]


def text_error(value: str) -> str | None:
    """Text no column can hold: lone surrogates (JSON escapes allow them) and NUL."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must be valid Unicode (no lone surrogate characters)."
    if "\x00" in value:  # PostgreSQL text cannot hold it, even in a lookup
        return "Null characters are not allowed."
    found = CONTROL_RE.search(value)
    if found:
        return (
            f"Control characters are not allowed (found U+{ord(found.group()):04X}); "
            "tab, line feed and carriage return are."
        )
    return None


def json_type_error(field: serializers.Field, value: Any) -> str | None:
    """Why `value` has the wrong JSON type for `field`, or None when it is right."""
    if value is None:
        return None  # DRF's own allow_null check answers this one
    if isinstance(value, str) and text_error(value):
        return text_error(value)
    if isinstance(field, (serializers.SerializerMethodField, serializers.HiddenField)):
        return None
    for field_class, types, words in _JSON_TYPES:
        if isinstance(field, field_class):
            if isinstance(value, bool) and bool not in types:
                return f"Expected {words}."
            if not isinstance(value, types):
                return f"Expected {words}."
            break
    if isinstance(field, serializers.DecimalField):
        return decimal_error(field, value)
    max_length = getattr(field, "max_length", None)
    if isinstance(field, serializers.CharField) and max_length and len(value) > max_length:
        # checked before DRF trims spaces, so "      " is not a 3-character field's blank
        return f"Ensure this field has no more than {max_length} characters."
    child = getattr(field, "child", None)
    if child is not None and not isinstance(field, serializers.ListSerializer):
        items = value.values() if isinstance(value, dict) else value
        for item in items:
            message = json_type_error(child, item)
            if message:
                return message
    return None


class StrictSerializer(serializers.Serializer):
    """An input serializer that refuses unknown keys and values of the wrong JSON type."""

    def to_internal_value(self, data: Any) -> Any:
        # Query strings are all text; their blanks and repeats are refused by
        # UnknownQueryParameterMiddleware and DRF converts the values.
        if isinstance(data, Mapping) and not hasattr(data, "getlist"):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            errors: dict[str, list[str]] = {}
            for key, value in data.items():
                if key not in writable:
                    name = str(key) if not text_error(str(key)) else repr(key)
                    errors[name] = [UNKNOWN_FIELD]
                    continue
                message = json_type_error(self.fields[key], value)
                if message:
                    errors[key] = [message]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class NonZeroIntegerField(serializers.IntegerField):
    """An integer that may be negative or positive but not 0 (documented as `not: {enum: [0]}`)."""

    default_error_messages = {"zero": _("Give a number other than 0.")}

    def to_internal_value(self, data: Any) -> int:
        value = super().to_internal_value(data)
        if value == 0:
            self.fail("zero")
        return value


class ConfirmField(serializers.BooleanField):
    """A confirmation that must be `true` (documented as `enum: [true]`)."""

    default_error_messages = {"unconfirmed": _("Send true to confirm.")}

    def __init__(self, *, message: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if message:
            self.error_messages["unconfirmed"] = message

    def to_internal_value(self, data: Any) -> bool:
        value = super().to_internal_value(data)
        if value is not True:
            self.fail("unconfirmed")
        return value


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The exact strings a DecimalField accepts given its digits and bounds (no exponent,
    no sign for non-negative fields, no leading zeros, no surrounding spaces)."""
    places = field.decimal_places or 0
    whole = max((field.max_digits or 30) - places - 1, 0)
    fraction = rf"(\.\d{{1,{places}}})?" if places else ""
    minimum = field.min_value
    sign = "-?" if minimum is None or Decimal(minimum) < 0 else ""
    if minimum is not None and Decimal(minimum) > 0:
        # strictly positive: a non-zero whole part, or 0.<digits> with a non-zero digit
        small = "|".join(
            "0" * zeros + "[1-9]" + (rf"\d{{0,{places - 1 - zeros}}}" if places - 1 - zeros else "")
            for zeros in range(places)
        )
        tail = rf"|0\.({small})" if places else ""
        return rf"^({sign}[1-9]\d{{0,{whole}}}{fraction}{tail})$"
    return rf"^{sign}(0|[1-9]\d{{0,{whole}}}){fraction}$"


def decimal_error(field: serializers.DecimalField, value: str) -> str | None:
    if re.fullmatch(decimal_pattern(field), value):
        return None
    bounds = ""
    if field.min_value is not None and field.max_value is not None:
        bounds = f" between {field.min_value} and {field.max_value}"
    elif field.min_value is not None:
        bounds = f" of at least {field.min_value}"
    return (
        f"Expected a decimal number written as a string{bounds}, with at most "
        f'{field.decimal_places} decimal places, e.g. "12.50".'
    )


def request_field_schema(field: serializers.Field, schema: dict[str, Any]) -> dict[str, Any]:
    """Tighten the OpenAPI schema drf-spectacular made for an input field to what DRF accepts."""
    if field.read_only:
        return schema
    if isinstance(field, NonZeroIntegerField):
        schema = {**schema, "not": {"enum": [0]}}
    elif isinstance(field, ConfirmField):
        schema = {**schema, "enum": [True]}
    elif isinstance(field, serializers.DecimalField):
        schema = {**schema, "pattern": decimal_pattern(field)}
        for bound, key in ((field.min_value, "minimum"), (field.max_value, "maximum")):
            if bound is not None:
                schema.setdefault("x-" + key, str(bound))
    elif (
        schema.get("type") == "string"
        and not {"pattern", "format", "enum"} & set(schema)
        # drf-spectacular adds a RegexValidator's own pattern after this mapping
        and not any(isinstance(v, RegexValidator) for v in field.validators)
    ):
        if not isinstance(field, serializers.CharField):
            pattern = TEXT_PATTERN
        elif field.allow_blank or not field.trim_whitespace:
            # drf-spectacular puts "" in its own oneOf branch for an allow_blank field, so
            # this branch must not match "" as well
            pattern = NON_EMPTY_TEXT_PATTERN
            if schema.get("default") == "":
                # it would land in that branch and contradict its pattern; "" is the default
                # anyway when the key is left out
                schema = {k: v for k, v in schema.items() if k != "default"}
        else:
            pattern = NON_BLANK_TEXT_PATTERN  # DRF trims, then refuses what is left blank
        schema = {**schema, "pattern": pattern}
    return schema
