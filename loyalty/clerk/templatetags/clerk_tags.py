from typing import Any

from django import template

from loyalty.clerk.formatting import format_money, format_points

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
    return f"{int(value):,}"


@register.filter
def top_errors(form: Any) -> list[str]:
    """Errors shown above a form: the form's own, and those of its hidden fields (the token)."""
    errors = list(form.non_field_errors())
    for field in form.hidden_fields():
        errors.extend(field.errors)
    return errors
