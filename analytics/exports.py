"""KPI results as flat tables (CSV for the dashboard and the API). One function flattens every
KPI's shape, so a new KPI exports without new code."""

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from loyalty.core import csvsafe


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(item: dict[str, Any], prefix: dict[str, Any] | None = None) -> dict[str, Any]:
    """Scalars of `item`; a nested list of dicts with a 'month'/'share' (cohort retention)
    becomes one column per element."""
    row = dict(prefix or {})
    for key, value in item.items():
        if isinstance(value, list) and value and isinstance(value[0], dict) and "month" in value[0]:
            for cell in value:
                row[f"{key}_{cell['month']}"] = cell.get("share", cell.get("members"))
        elif not isinstance(value, (dict, list)):
            row[key] = value
    return row


def kpi_rows(result: Any) -> list[dict[str, Any]]:
    """A KPI result as rows: a list of dicts is one row each; a dict gives one row of its
    scalars, then one row per nested dict (column "group") and per nested list element
    (column "table")."""
    if isinstance(result, list):
        return [_row(item) if isinstance(item, dict) else {"value": item} for item in result]
    rows = []
    scalars = _row(result)
    if scalars:
        rows.append(scalars)
    for key, value in result.items():
        if isinstance(value, dict):
            rows.append(_row(value, {"group": key}))
        elif isinstance(value, list):
            rows.extend(_row(item, {"table": key}) for item in value if isinstance(item, dict))
    return rows


def rows_to_csv(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """CSV text; `columns` is the header of an empty table (so a file always has one)."""
    header: list[str] = [] if rows else list(columns or [])
    for row in rows:
        header.extend(key for key in row if key not in header)
    handle = io.StringIO()
    writer = csvsafe.writer(handle)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(key)) for key in header])
    return handle.getvalue()


def kpi_csv(result: Any, columns: list[str] | None = None) -> str:
    return rows_to_csv(kpi_rows(result), columns)
