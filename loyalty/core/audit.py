"""The audit trail across models: every change kept by django-simple-history, newest first.

Each audited model declares `history = HistoricalRecords()` (programme settings, earning rules,
tiers and the tier policy, members, stores, rewards and their settings; campaigns when they
exist); its admin shows a per-object History page (loyalty.core.admin_mixins.AuditedAdminMixin)
and this module feeds the "Audit log" page that lists them all together.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.db.models import Model, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

HIDDEN_FIELDS = {"updated_at", "created_at"}  # every save touches them; noise in a diff
MAX_VALUE = 120  # characters of a value shown in the list
ACTIONS = {"+": _("Created"), "~": _("Changed"), "-": _("Deleted")}


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class AuditEntry:
    when: datetime
    user: Any
    model_label: str
    model_name: str
    object_id: Any
    object_repr: str
    action: str
    reason: str
    changes: list[FieldChange] = field(default_factory=list)
    url: str = ""


def audited_models() -> list[type[Model]]:
    """Every model with a simple-history audit trail, by verbose name."""
    found = [
        model
        for model in apps.get_models()
        if getattr(model._meta, "simple_history_manager_attribute", None)
    ]
    return sorted(found, key=lambda m: str(m._meta.verbose_name))


def _shown(value: Any) -> str:
    text = "—" if value in (None, "") else str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _history(model: type[Model]) -> Any:
    return getattr(model, model._meta.simple_history_manager_attribute).model  # type: ignore[attr-defined]


def _previous_versions(history_model: Any, records: list[Any]) -> dict[int, Any]:
    """history_id -> the version just before it, for `records` of one model, in one query."""
    if not records:
        return {}
    ids = {r.id for r in records}
    newest = max(r.history_date for r in records)
    earlier = history_model.objects.filter(id__in=ids, history_date__lt=newest).order_by(
        "id", "-history_date", "-history_id"
    )
    by_object: dict[Any, list[Any]] = {}
    for version in earlier:
        by_object.setdefault(version.id, []).append(version)
    previous = {}
    for record in records:
        for version in by_object.get(record.id, []):
            if (version.history_date, version.history_id) < (
                record.history_date,
                record.history_id,
            ):
                previous[record.history_id] = version
                break
    return previous


def _changes(record: Any, before: Any) -> list[FieldChange]:
    if before is None:
        return []
    delta = record.diff_against(before, excluded_fields=HIDDEN_FIELDS)
    return [FieldChange(c.field, _shown(c.old), _shown(c.new)) for c in delta.changes]


def _object_url(model: type[Model], pk: Any) -> str:
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    except NoReverseMatch:
        return ""


def audit_log_list(
    *,
    model_label: str | None = None,
    user_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The latest `limit` changes across the audited models, newest first, with old -> new
    values per field. Filters: one model ("app_label.model_name"), the staff user who made the
    change, and a date range (inclusive, in the site's time zone). Two queries per model."""
    tz = timezone.get_current_timezone()
    where = Q()
    if user_id is not None:
        where &= Q(history_user_id=user_id)
    if since is not None:
        where &= Q(history_date__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until is not None:
        where &= Q(
            history_date__lt=datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz)
        )

    picked: list[tuple[type[Model], Any]] = []
    for model in audited_models():
        if model_label and model._meta.label_lower != model_label:
            continue
        history_model = _history(model)
        rows = (
            history_model.objects.filter(where)
            .select_related("history_user")
            .order_by("-history_date", "-history_id")[:limit]
        )
        picked += [(model, row) for row in rows]
    picked.sort(key=lambda pair: (pair[1].history_date, pair[1].history_id), reverse=True)
    picked = picked[:limit]

    previous: dict[tuple[str, int], Any] = {}
    for model in {m for m, _record in picked}:
        records = [r for m, r in picked if m is model]
        for history_id, version in _previous_versions(_history(model), records).items():
            previous[(model._meta.label_lower, history_id)] = version

    return [
        AuditEntry(
            when=record.history_date,
            user=record.history_user,
            model_label=model._meta.label_lower,
            model_name=str(model._meta.verbose_name).capitalize(),
            object_id=record.id,
            object_repr=_shown(str(record.instance)),
            action=ACTIONS.get(record.history_type, record.history_type),
            reason=record.history_change_reason or "",
            changes=_changes(record, previous.get((model._meta.label_lower, record.history_id))),
            url=_object_url(model, record.id),
        )
        for model, record in picked
    ]
