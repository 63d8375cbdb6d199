"""Template filters over loyalty.core.formatting: {% load loyalty_format %} then
{{ amount|money:currency }}, {{ n|points }}, {{ n|thousands }}, {{ day|day }}, {{ at|moment }}."""

from datetime import date, datetime
from typing import Any

from django import template

from loyalty.core.formatting import (
    format_day,
    format_moment,
    format_money,
    format_number,
    format_points,
)

register = template.Library()


@register.filter
def money(amount: Any, currency: str = "GBP") -> str:
    if amount is None or amount == "":
        return ""
    return format_money(amount, currency)


@register.filter
def points(value: Any) -> str:
    if value is None or value == "":
        return ""
    return format_points(value)


@register.filter
def thousands(value: Any) -> str:
    if value is None or value == "":
        return ""
    return format_number(int(value))


@register.filter
def day(value: date | datetime | None, zone: str | None = None) -> str:
    return format_day(value, zone) if value else ""


@register.filter
def moment(value: datetime | None, zone: str | None = None) -> str:
    return format_moment(value, zone) if value else ""
