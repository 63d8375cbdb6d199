"""Spreadsheet formula injection: neutralise exported text cells that a spreadsheet would run.

Every CSV we hand out goes through here: `neutralise` for one cell, `writer` for the csv module
(admin export actions, skipped-rows and error reports), `NeutraliseExportMixin` for
django-import-export resources (its own IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only drops one
leading "=" and lets + - @ through).
"""

import csv
import re
from collections.abc import Iterable
from typing import Any

_NUMBER = re.compile(r"^[+-]?[\d\s().]+$")  # -5, +44 7911 123456: data, not formulas


def neutralise(value: Any) -> Any:
    """Prefix a text cell starting with = + - @ (or a tab/CR) with a quote, unless it is a number."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "=@\t\r" or (value[0] in "+-" and not _NUMBER.match(value)):
        return "'" + value
    return value


class _SafeWriter:
    """csv.writer whose every cell is neutralised first."""

    def __init__(self, handle: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(handle, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(handle: Any, **kwargs: Any) -> _SafeWriter:
    """A csv.writer for files people open in a spreadsheet."""
    return _SafeWriter(handle, **kwargs)


class NeutraliseExportMixin:
    """For import-export resources: every exported cell neutralised (CSV, XLSX, ...)."""

    def export_field(self, field: Any, instance: Any, **kwargs: Any) -> Any:
        return neutralise(super().export_field(field, instance, **kwargs))  # type: ignore[misc]
