from typing import Any

from django import template

from loyalty.core.templatetags import loyalty_format

register = template.Library()
# money, points, thousands, day and moment: the one formatting helper (loyalty.core.formatting)
for _name in ("money", "points", "thousands", "day", "moment"):
    register.filter(_name, getattr(loyalty_format, _name))


@register.filter
def top_errors(form: Any) -> list[str]:
    """Errors shown above a form: the form's own, and those of its hidden fields (the token)."""
    errors = list(form.non_field_errors())
    for field in form.hidden_fields():
        errors.extend(field.errors)
    return errors
