"""Errors in words a clerk understands.

The services raise ApplicationError subclasses (with a `code` and details in `extra`) and
Django ValidationErrors (per field). The API renders them as JSON; the clerk screen turns them
into a sentence on the page, or an error under the form field it concerns.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext as _

from loyalty.core.exceptions import ApplicationError


def _status(extra: dict[str, Any]) -> str:
    return str(extra.get("status") or _("not active"))


_MESSAGES: dict[str, Callable[[ApplicationError], str]] = {
    "member_not_found": lambda e: _("No such member, or the member belongs to another store."),
    "member_not_active": lambda e: (
        _(
            "This member's account is %(status)s: no points can be earned or spent. "
            "A manager can reactivate it in the back office."
        )
        % {"status": _status(e.extra)}
    ),
    "member_erased": lambda e: _(
        "This member's personal data was erased; the card cannot be used."
    ),
    "duplicate_member": lambda e: (
        _("%(message)s Search for that member instead of enrolling them again.")
        % {"message": e.message}
    ),
    "invalid_card_number": lambda e: _(
        "That card number is not valid (a digit is wrong). Scan or type it again."
    ),
    "insufficient_points": lambda e: (
        _("Not enough points: %(available)s available, %(requested)s needed.")
        % {"available": e.extra["available"], "requested": e.extra["requested"]}
        if {"available", "requested"} <= e.extra.keys()
        else _("Not enough points available.")
    ),
    "return_exceeds_purchase": lambda e: (
        _(
            "That is more than is left to return on this purchase: "
            "%(bought)s bought, %(returned)s already returned."
        )
        % {
            "bought": e.extra.get("purchase_amount", "?"),
            "returned": e.extra.get("already_returned", "0"),
        }
    ),
    "transaction_conflict": lambda e: (
        _(
            "This receipt number was already recorded for a different purchase "
            "(amount %(amount)s). Check the receipt number."
        )
        % {"amount": e.extra.get("amount", "?")}
    ),
    "original_transaction_not_found": lambda e: _("That purchase was not found for this member."),
    "reward_not_found": lambda e: _("That reward no longer exists. Open the member again."),
    "reward_not_available": lambda e: _(
        "This reward cannot be redeemed now (it is switched off or outside its dates)."
    ),
    "reward_not_eligible": lambda e: _("This reward is not open to this member's tier."),
    "reward_out_of_stock": lambda e: _("This reward is out of stock."),
    "reward_limit_reached": lambda e: _(
        "This member has already redeemed this reward as often as allowed."
    ),
    "voucher_not_found": lambda e: (
        _("No voucher has the code %(code)s. Check the code and type it again.")
        % {"code": e.extra.get("code", "")}
    ),
    "voucher_member_mismatch": lambda e: (
        _("This voucher belongs to another member: it can only be used by its own member.")
        if e.extra.get("member_given")
        else _(
            "This voucher can only be used by its own member: scan the member's card "
            "(card number below) and press Use voucher again."
        )
    ),
    "idempotency_key_reused": lambda e: _(
        "This form was already sent with other values. Open the member again and retry."
    ),
    "already_checked_in": lambda e: _(
        "Already checked in: this member was checked in at this event before. Nothing changed."
    ),
    "event_full": lambda e: _(
        "Every place is taken: a member without a confirmed RSVP cannot be checked in."
    ),
    "not_invited": lambda e: _("This event is by invitation only and the member was not invited."),
    "event_not_open_for_check_in": lambda e: _("Check-in for this event is not open now."),
    "event_cancelled": lambda e: _("This event was cancelled."),
}


# Codes whose service messages speak of ids and transactions: always reworded for the till.
_ALWAYS_REWORDED = {
    "member_not_found",
    "invalid_card_number",
    "duplicate_member",
    "transaction_conflict",
    "return_exceeds_purchase",
    "original_transaction_not_found",
    "reward_not_found",
    "voucher_not_found",
    "voucher_member_mismatch",
    "idempotency_key_reused",
}


def clerk_message(exc: ApplicationError) -> str:
    """One sentence for the clerk. A service message written for this very case (it names the
    reward, the tier, the voucher, the points rule) is kept; generic ones are reworded."""
    render = _MESSAGES.get(exc.code)
    specific = exc.message != str(type(exc).default_message)
    if render is not None and (exc.code in _ALWAYS_REWORDED or not specific):
        return render(exc)
    return exc.message


def add_validation_errors(
    form: forms.Form, exc: ValidationError, *, field_map: dict[str, str] | None = None
) -> None:
    """Put a service's ValidationError on the form: known fields under the field, the rest at
    the top. `field_map` renames service fields to form fields."""
    field_map = field_map or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            name = field_map.get(field, field)
            target = name if name in form.fields else None
            for message in errors:
                if target is None and field not in (NON_FIELD_ERRORS, "__all__"):
                    message = _("%(field)s: %(message)s") % {
                        "field": field.replace("_", " ").capitalize(),
                        "message": message,
                    }
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)
