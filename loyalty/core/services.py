"""Shared write helpers."""

from collections.abc import Iterable
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


def model_update(*, instance: M, fields: Iterable[str], data: dict[str, Any]) -> tuple[M, bool]:
    """Set the listed fields that are present in `data`, validate, and save only what changed.

    Returns (instance, has_updated). Raises django ValidationError from full_clean().
    """
    changed: list[str] = []
    for field in fields:
        if field not in data:
            continue
        if getattr(instance, field) != data[field]:
            setattr(instance, field, data[field])
            changed.append(field)
    if not changed:
        return instance, False
    instance.full_clean()
    if any(f.name == "updated_at" for f in instance._meta.fields):
        changed.append("updated_at")
    instance.save(update_fields=changed)
    return instance, True
