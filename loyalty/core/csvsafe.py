"""Spreadsheet formula injection: neutralise exported text cells that a spreadsheet would run."""

import re
from typing import Any

_NUMBER = re.compile(r"^[+-]?[\d\s().]+$")  # -5, +44 7911 123456: data, not formulas


def neutralise(value: Any) -> Any:
    """Prefix a text cell starting with = + - @ (or a tab/CR) with a quote, unless it is a number."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "=@\t\r" or (value[0] in "+-" and not _NUMBER.match(value)):
        return "'" + value
    return value
