"""Single-row validation of segment conditions, campaign settings and message templates.

Called by the models' clean() (so the admin forms and the services refuse bad input field by
field); kept apart from the models so that no module of the app imports another in a cycle."""

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.template import Template, TemplateSyntaxError
from django.utils.translation import gettext as _

from campaigns.choices import ConditionField, ConditionOperator
from loyalty.ledger.models import Transaction
from members.models import Consent, Member, Store

FIELD = ConditionField
Op = ConditionOperator
CHOICE_OPS = {Op.IS, Op.IS_NOT}
DATE_OPS = {Op.BEFORE, Op.AFTER, Op.WITHIN_DAYS, Op.NOT_WITHIN_DAYS}
NUMBER_OPS = {Op.AT_LEAST, Op.AT_MOST, Op.IS}
ALLOWED = {
    FIELD.TIER: CHOICE_OPS,
    FIELD.STATUS: CHOICE_OPS,
    FIELD.HOME_STORE: CHOICE_OPS,
    FIELD.ENROLMENT_CHANNEL: CHOICE_OPS,
    FIELD.CONSENT: CHOICE_OPS,
    FIELD.BIRTHDAY_MONTH: CHOICE_OPS,
    FIELD.REFERRED: {Op.IS},
    FIELD.IN_SEGMENT: CHOICE_OPS,
    FIELD.TAG: CHOICE_OPS,
    FIELD.ENROLLED: DATE_OPS,
    FIELD.LAST_PURCHASE: DATE_OPS,
    FIELD.PURCHASE_COUNT: NUMBER_OPS,
    FIELD.SPEND: NUMBER_OPS,
    FIELD.POINTS_BALANCE: NUMBER_OPS,
    FIELD.RFM_RECENCY: NUMBER_OPS,
    FIELD.RFM_FREQUENCY: NUMBER_OPS,
    FIELD.RFM_MONETARY: NUMBER_OPS,
    FIELD.LIFECYCLE_STAGE: CHOICE_OPS,
    FIELD.VIP_OF_MONTH: {Op.IS},
}
YES = {"yes", "true", "1", "y"}
NO = {"no", "false", "0", "n"}


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except (ValueError, AttributeError):
        return None


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        return None
    return number if number.is_finite() else None


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None


def condition_errors(cond: Any) -> dict[str, str]:
    """Field-by-field errors of one condition (empty when it is valid)."""
    field, op, value = cond.field, cond.operator, (cond.value or "").strip()
    if field not in ALLOWED:
        return {"field": _("Choose a field.")}
    if op not in ALLOWED[field]:
        names = ", ".join(str(Op(o).label) for o in sorted(ALLOWED[field]))
        return {"operator": _("For this field use one of: %(ops)s.") % {"ops": names}}
    if not value:
        return {"value": _("Enter a value.")}
    if cond.window_days is not None and field not in (FIELD.PURCHASE_COUNT, FIELD.SPEND):
        return {"window_days": _("Only purchases and spend are counted over a window.")}
    if field in DATE_OPS_FIELDS:
        if op in (Op.WITHIN_DAYS, Op.NOT_WITHIN_DAYS):
            days = _int(value)
            if days is None or not 0 < days <= 36500:
                return {"value": _("A number of days, e.g. 90.")}
        elif _date(value) is None:
            return {"value": _("A date like 2026-01-31.")}
        return {}
    if field == FIELD.TIER:
        from loyalty.tiers.models import Tier

        if not Tier.objects.filter(code=value).exists():
            return {"value": _("No tier with the code %(code)s.") % {"code": value}}
    elif field == FIELD.STATUS:
        if value not in Member.Status.values:
            return {"value": _("One of: %(v)s.") % {"v": ", ".join(Member.Status.values)}}
    elif field == FIELD.HOME_STORE:
        if not Store.objects.filter(code=value).exists():
            return {"value": _("No store with the code %(code)s.") % {"code": value}}
    elif field == FIELD.ENROLMENT_CHANNEL:
        if value not in Member.Channel.values:
            return {"value": _("One of: %(v)s.") % {"v": ", ".join(Member.Channel.values)}}
    elif field == FIELD.CONSENT:
        if value not in Consent.Channel.values:
            return {"value": _("One of: %(v)s.") % {"v": ", ".join(Consent.Channel.values)}}
    elif field == FIELD.BIRTHDAY_MONTH:
        month = _int(value)
        if month is None or not 1 <= month <= 12:
            return {"value": _("A month number from 1 to 12.")}
    elif field == FIELD.REFERRED:
        if value.lower() not in YES | NO:
            return {"value": _("yes or no.")}
    elif field == FIELD.TAG:
        if len(value) > 40 or '"' in value or "\\" in value:
            return {"value": _("A tag as members carry it, e.g. running.")}
    elif field == FIELD.IN_SEGMENT:
        segment_model = apps.get_model("campaigns", "Segment")
        if not segment_model.objects.filter(name=value, kind="static").exists():
            return {"value": _("No static list named %(name)s.") % {"name": value}}
    elif field == FIELD.LIFECYCLE_STAGE:
        # the stages live in campaigns.engagement, which imports this app's models: read lazily
        stage_field = apps.get_model("engagement", "MemberStage")._meta.get_field("stage")
        stages = [str(v) for v, _label in stage_field.choices or []]
        if value not in stages:
            return {"value": _("One of: %(v)s.") % {"v": ", ".join(stages)}}
    elif field == FIELD.VIP_OF_MONTH:
        if value.lower() not in YES | NO:
            return {"value": _("yes or no.")}
    elif field in (FIELD.RFM_RECENCY, FIELD.RFM_FREQUENCY, FIELD.RFM_MONETARY):
        q = _int(value)
        if q is None or not 1 <= q <= 5:
            return {"value": _("A quintile from 1 to 5.")}
    elif field in (FIELD.PURCHASE_COUNT, FIELD.POINTS_BALANCE):
        number = _int(value)
        if number is None or number < 0:
            return {"value": _("A whole number, e.g. 3.")}
    elif field == FIELD.SPEND:
        amount = _decimal(value)
        if amount is None or amount < 0:
            return {"value": _("An amount, e.g. 250.00.")}
    return {}


DATE_OPS_FIELDS = {FIELD.ENROLLED, FIELD.LAST_PURCHASE}


REQUIRED: dict[str, tuple[str, ...]] = {
    "multiplier": ("multiplier",),
    "fixed_bonus": ("bonus_points", "min_spend"),
    "nth_purchase": ("bonus_points", "purchase_number"),
    "first_purchase": ("bonus_points",),
    "birthday": (),  # bonus points or a reward voucher (VOUCHER_OR_POINTS)
    "referral": ("bonus_points", "referee_points"),
    "action": ("bonus_points", "action"),
    "win_back": ("lapsed_days",),
}
FILTERABLE = {"multiplier", "fixed_bonus"}
FILTERS = ("categories", "skus", "store_codes", "channels", "weekdays", "dates")
VOUCHER_OR_POINTS = {"birthday", "win_back"}


def month_day(value: Any) -> str | None:
    """'11-11' (month-day) as stored, or None when it is not a day of the year (29 February is
    one: it matches only in leap years)."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != "-":
        return None
    try:
        day = date(2000, int(value[:2]), int(value[3:]))  # a leap year: 02-29 exists
    except ValueError:
        return None
    return f"{day.month:02d}-{day.day:02d}"


def settings_errors(campaign: Any) -> dict[str, str]:
    """Each mechanic's own settings: what is required, and the filters it accepts."""
    errors: dict[str, str] = {}
    for name in REQUIRED.get(campaign.mechanic, ()):
        if getattr(campaign, name) in (None, ""):
            errors[name] = _("Required for this mechanic.")
    if campaign.mechanic in VOUCHER_OR_POINTS:
        has_points = campaign.bonus_points not in (None, "")
        has_reward = getattr(campaign, "reward_id", None) is not None
        if has_points == has_reward:
            message = (
                _("Give either bonus points or a reward voucher, not both.")
                if has_points
                else _("Enter the bonus points or choose a reward voucher.")
            )
            errors["bonus_points"] = errors["reward"] = message
    elif getattr(campaign, "reward_id", None) is not None:
        errors["reward"] = _("Only birthday and win-back campaigns give a reward voucher.")
    if campaign.mechanic != "birthday" and campaign.birthday_window not in ("", "day"):
        errors["birthday_window"] = _("Only birthday campaigns have a birthday window.")
    if campaign.mechanic not in FILTERABLE:
        for name in FILTERS:
            if getattr(campaign, name):
                errors[name] = _("Only multiplier and fixed-bonus campaigns filter purchases.")
    weekdays = campaign.weekdays
    if not isinstance(weekdays, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in weekdays
    ):
        errors["weekdays"] = _("Days of the week from 0 (Monday) to 6 (Sunday).")
    dates = campaign.dates
    if not isinstance(dates, list) or not all(month_day(d) == d for d in dates):
        errors["dates"] = _("Days of the year as month-day, e.g. 11-11 or 12-24.")
    for name in ("categories", "skus", "store_codes", "channels"):
        value = getattr(campaign, name)
        if not isinstance(value, list) or not all(
            isinstance(v, str) and 0 < len(v) <= 64 for v in value
        ):
            errors[name] = _("A list of codes.")
    if campaign.channels and not set(campaign.channels) <= set(Transaction.Channel.values):
        errors["channels"] = _("Unknown channel.")
    return errors


def template_errors(template: Any) -> dict[str, str]:
    errors = {}
    for name in ("subject", "text", "html"):
        try:
            Template(getattr(template, name) or "")
        except TemplateSyntaxError as exc:
            errors[name] = _("Template error: %(e)s") % {"e": exc}
    return errors
