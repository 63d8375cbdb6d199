"""Form widgets for staff screens: lists of short texts typed as tags, not as JSON.

TagListField reads "A12, B7" or one tag per line into ["A12", "B7"]; its widget is a plain text
box that static/backoffice/tags.js turns into removable chips (Enter or comma adds a tag), so
the form also works without JavaScript.
"""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

TAG_MAX_LENGTH = 64


class TagInput(forms.TextInput):
    template_name = "django/forms/widgets/text.html"

    class Media:
        js = ("backoffice/tags.js",)
        css = {"all": ("backoffice/backoffice.css",)}

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"data-tags": "1", "autocomplete": "off", **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return super().format_value(value)


def split_tags(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    parts: Iterable[str] = (
        value.replace("\n", ",").split(",") if isinstance(value, str) else [str(v) for v in value]
    )
    tags: list[str] = []
    for part in parts:
        tag = part.strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


class TagListField(forms.Field):
    widget = TagInput
    default_error_messages = {
        "too_long": _("Each entry may have at most %(max)s characters: %(tag)s"),
        "too_many": _("At most %(max)s entries."),
        "null": _("Null characters are not allowed."),
    }

    def __init__(self, *, max_tags: int = 500, max_length: int = TAG_MAX_LENGTH, **kwargs: Any):
        self.max_tags = max_tags
        self.max_length = max_length
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return value

    def to_python(self, value: Any) -> list[str]:
        return split_tags(value)

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for tag in value:
            if "\x00" in tag:  # PostgreSQL's jsonb refuses it: a 500 otherwise
                raise forms.ValidationError(self.error_messages["null"], code="null")
            if len(tag) > self.max_length:
                raise forms.ValidationError(
                    self.error_messages["too_long"],
                    code="too_long",
                    params={"max": self.max_length, "tag": tag[:80]},
                )
        if len(value) > self.max_tags:
            raise forms.ValidationError(
                self.error_messages["too_many"], code="too_many", params={"max": self.max_tags}
            )

    def has_changed(self, initial: Any, data: Any) -> bool:
        return split_tags(initial) != split_tags(data)
