"""The member import preview: each refused value shown beside its error."""

from dataclasses import dataclass
from typing import Any

from django import template

register = template.Library()


@dataclass
class Cell:
    header: str
    value: Any
    errors: list[str]


@register.filter
def cells(row: Any, headers: list[str]) -> list[Cell]:
    """An invalid row's values under the preview's headers, each with its field's errors."""
    errors = getattr(row, "field_specific_errors", {}) or {}
    return [
        Cell(header=header, value="" if value == "---" else value, errors=errors.get(header, []))
        for header, value in zip(headers, row.values, strict=False)
    ]


@register.filter
def other_errors(row: Any, headers: list[str]) -> list[tuple[str, list[str]]]:
    """Errors of fields that have no column in the preview (and errors of the whole row)."""
    errors = getattr(row, "field_specific_errors", {}) or {}
    found = [(name, messages) for name, messages in errors.items() if name not in headers]
    found += [("", [message]) for message in getattr(row, "non_field_specific_errors", [])]
    return found
