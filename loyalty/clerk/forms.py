"""The clerk screen's forms: input checks only; the rules live in the services."""

import secrets
from decimal import Decimal
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from members.identifiers import is_valid_member_number

TOKEN = RegexValidator(r"^[0-9a-f]{32}$", "This form is out of date. Open the member again.")


def new_token() -> str:
    """A one-off key per rendered form: sending the form twice records the action once."""
    return secrets.token_hex(16)


class ClerkForm(forms.Form):
    """Field ids are prefixed per form: one page holds several forms with an `amount`."""

    id_prefix = "f"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}-%s")
        super().__init__(*args, **kwargs)


class TokenForm(ClerkForm):
    token = forms.CharField(widget=forms.HiddenInput, validators=[TOKEN])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("token", new_token())


def money_field(label: Any, *, required: bool = True, help_text: Any = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        help_text=help_text,
        error_messages={
            "invalid": _("Type an amount such as 12.50."),
            "min_value": _("The amount must be more than zero."),
            "max_decimal_places": _("At most 2 decimals (pence)."),
            "max_digits": _("That amount is too large."),
        },
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


class SearchForm(ClerkForm):
    id_prefix = "search"

    q = forms.CharField(required=False, max_length=120, strip=True)


class PurchaseForm(TokenForm):
    id_prefix = "purchase"

    amount = money_field(_("Amount paid"))
    receipt = forms.CharField(
        label=_("Receipt number"),
        required=False,
        max_length=64,
        help_text=_("Optional. The same receipt is never recorded twice."),
    )

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        whole = amount == amount.to_integral_value()
        if whole and is_valid_member_number(str(int(amount))):
            # a card scanned while the cursor was in the amount box
            raise forms.ValidationError(
                _(
                    "That looks like a card number, not an amount. To serve another member, "
                    "press F2 and scan the card again."
                )
            )
        return amount


class ReturnForm(TokenForm):
    id_prefix = "return"

    purchase = forms.IntegerField(
        min_value=1,
        error_messages={"required": _("Choose the purchase being returned.")},
    )
    amount = money_field(
        _("Amount returned"), required=False, help_text=_("Leave empty to return all that is left.")
    )


class RedeemForm(TokenForm):
    id_prefix = "redeem"

    # sent by the offer's own hidden input: hidden, so top_errors shows its errors in words
    reward = forms.IntegerField(
        min_value=1,
        widget=forms.HiddenInput,
        error_messages={
            "invalid": _("That reward was not found. Open the member again."),
            "min_value": _("That reward was not found. Open the member again."),
            "required": _("Choose a reward."),
        },
    )
    quantity = forms.IntegerField(
        label=_("How many"),
        required=False,
        min_value=1,
        max_value=100,
        help_text=_("One voucher each, e.g. 2 for two coffees; all of them or none."),
        error_messages={
            "invalid": _("Type how many, from 1 to 100."),
            "min_value": _("Type how many, from 1 to 100."),
            "max_value": _("Type how many, from 1 to 100."),
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": 1, "max": 100}),
    )

    def clean_quantity(self) -> int:
        return self.cleaned_data.get("quantity") or 1


class PointsPaymentForm(TokenForm):
    id_prefix = "pay"

    order_ref = forms.CharField(label=_("Order or receipt number"), max_length=100)
    points = forms.IntegerField(
        label=_("Points to use"),
        required=False,
        min_value=1,
        error_messages={"invalid": _("Type a whole number of points.")},
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    amount = money_field(_("or amount to pay with points"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("points") is None and data.get("amount") is None and not self.errors:
            raise forms.ValidationError(_("Type either the points to use or the amount to pay."))
        if data.get("points") is not None and data.get("amount") is not None:
            raise forms.ValidationError(_("Type the points or the amount, not both."))
        return data


class ConsentForm(ClerkForm):
    id_prefix = "consent"

    email = forms.BooleanField(label=_("E-mail"), required=False)
    sms = forms.BooleanField(label=_("SMS"), required=False)
    push = forms.BooleanField(label=_("App notifications"), required=False)


class EnrolForm(TokenForm):
    id_prefix = "enrol"

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.CharField(
        label=_("E-mail"),
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    consent_email = forms.BooleanField(label=_("May we send offers by e-mail?"), required=False)
    consent_sms = forms.BooleanField(label=_("May we send offers by SMS?"), required=False)
    consent_push = forms.BooleanField(label=_("May we send app notifications?"), required=False)

    def clean(self):
        data = super().clean()
        if not (data.get("first_name") or data.get("last_name")):
            self.add_error("first_name", _("Type the member's name."))
        if not (data.get("email") or data.get("phone")):
            self.add_error("email", _("Type an e-mail address or a phone number (or both)."))
        return data


class VoucherCheckForm(ClerkForm):
    id_prefix = "voucher"

    code = forms.CharField(label=_("Voucher code"), max_length=40)


class VoucherConsumeForm(ClerkForm):
    id_prefix = "use"

    code = forms.CharField(widget=forms.HiddenInput, max_length=40)
    order_ref = forms.CharField(label=_("Order or receipt number"), max_length=100)
    member_number = forms.CharField(
        label=_("Member's card number"),
        max_length=20,
        required=False,
        help_text=_("Needed for a voucher that is only for its member: scan their card."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class EventCheckInForm(ClerkForm):
    """Check a member in at one of the events open now: the clerk scans the card."""

    id_prefix = "event"

    event = forms.TypedChoiceField(label=_("Event"), coerce=int)
    member_number = forms.CharField(
        label=_("Member's card number"),
        max_length=20,
        help_text=_("Scan the member's card or type its number."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, events: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["event"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(event.pk, event.name) for event in events]
