"""The rule simulator on the earning-rules page: a basket in, what it would earn out, and which
rules applied, from the same quote service as a real purchase (earn_quote). Writes nothing."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.ledger.models import EarningRule, Transaction
from loyalty.ledger.rules import EarnResult, tier_choices
from loyalty.ledger.services import LineInput, earn_quote
from members.models import Member, Store
from members.selectors import member_list_for_staff

MAX_LINES = 6
MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}


class SimulatorForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=Transaction.Channel.choices,
        initial=Transaction.Channel.STORE,
        help_text=_("Where the purchase happens, e.g. Store."),
    )
    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.order_by("code"),
        to_field_name="code",
        required=False,
        empty_label=_("(no store)"),
        help_text=_("e.g. LDN01; leave empty for the web shop."),
    )
    member = forms.CharField(
        label=_("Member card number"),
        required=False,
        max_length=20,
        help_text=_(
            "Optional: their tier multiplier and today's caps count, e.g. 4000000008. "
            "Empty: a customer with no tier, or the tier chosen under “Or a tier”."
        ),
    )
    tier = forms.ChoiceField(
        label=_("Or a tier"),
        required=False,
        choices=(),  # filled in __init__ from the tiers the programme has
        help_text=_(
            "Instead of a member: what any member of this tier would earn (its multiplier "
            "applies; no member's caps count). Empty: no tier."
        ),
    )
    occurred_at = forms.DateTimeField(
        label=_("Date and time"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text=_("When the purchase happens, e.g. next Saturday 11:00. Empty: now."),
    )
    amount = forms.DecimalField(
        label=_("Amount paid"),
        required=False,
        min_value=Decimal("0.01"),
        **MONEY,
        help_text=_("The bill, e.g. 42.50. Empty: the sum of the lines."),
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        tier = self.fields["tier"]
        assert isinstance(tier, forms.ChoiceField)
        tier.choices = [("", _("(no tier)")), *tier_choices()]
        for i in range(MAX_LINES):
            self.fields[f"line{i}_sku"] = forms.CharField(
                label=_("SKU"), required=False, max_length=64
            )
            self.fields[f"line{i}_category"] = forms.CharField(
                label=_("Category"), required=False, max_length=64
            )
            self.fields[f"line{i}_quantity"] = forms.DecimalField(
                label=_("Quantity"),
                required=False,
                min_value=Decimal("0.001"),
                max_digits=12,
                decimal_places=3,
            )
            self.fields[f"line{i}_price"] = forms.DecimalField(
                label=_("Unit price"), required=False, min_value=Decimal("0"), **MONEY
            )

    def line_rows(self) -> list[list[forms.BoundField]]:
        return [
            [self[f"line{i}_{part}"] for part in ("sku", "category", "quantity", "price")]
            for i in range(MAX_LINES)
        ]

    def clean_member(self) -> Member | None:
        number = (self.cleaned_data.get("member") or "").strip()
        if not number:
            return None
        member = member_list_for_staff(user=self.user).filter(member_number=number).first()
        if member is None:
            raise forms.ValidationError(_("No member with this card number."))
        return member

    def clean(self) -> dict[str, Any]:
        super().clean()  # Form.clean returns self.cleaned_data
        data = self.cleaned_data
        if data.get("member") and data.get("tier"):
            self.add_error(
                "tier",
                _("Choose a member or a tier, not both: a member's own tier applies to them."),
            )
        lines = []
        for i in range(MAX_LINES):
            sku = (data.get(f"line{i}_sku") or "").strip()
            quantity = data.get(f"line{i}_quantity")
            price = data.get(f"line{i}_price")
            if not sku and quantity is None and price is None:
                continue
            if not sku or quantity is None or price is None:
                self.add_error(f"line{i}_sku", _("A line needs a SKU, a quantity and a price."))
                continue
            lines.append(
                LineInput(
                    sku=sku,
                    category=(data.get(f"line{i}_category") or "").strip(),
                    quantity=quantity,
                    unit_price=price,
                )
            )
        data["lines"] = lines
        if data.get("amount") is None:
            total = sum((line.total() for line in lines), Decimal("0"))
            if total <= 0:
                self.add_error("amount", _("Give the amount paid or at least one line."))
            data["amount"] = total
        return data


@dataclass(frozen=True)
class AppliedStep:
    text: str
    rule: EarningRule | None = None


def simulate(form: SimulatorForm) -> tuple[EarnResult | None, list[AppliedStep]]:
    """Run the quote for a valid form; a refusal of the service becomes a form error."""
    data = form.cleaned_data
    try:
        result = earn_quote(
            member=data.get("member"),
            channel=data["channel"],
            amount=data["amount"],
            occurred_at=data.get("occurred_at") or timezone.now(),
            store=data.get("store"),
            lines=data["lines"],
            allow_future=True,
            tier_code=data.get("tier") or "",
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
        return None, []
    return result, explain(result)


def explain(result: EarnResult) -> list[AppliedStep]:
    """Each step the engine recorded, in words, with the rule it names."""
    return explain_steps(result.applied)


def explain_steps(applied: list[dict[str, Any]]) -> list[AppliedStep]:
    """The engine's recorded steps (a quote's, or an entry's `rules`) in words."""
    applied = [step for step in applied if isinstance(step, dict)]
    ids = [step["rule"] for step in applied if isinstance(step.get("rule"), int)]
    rules = EarningRule.objects.in_bulk(ids)
    steps = []
    for step in applied:
        rule = rules.get(step["rule"]) if isinstance(step.get("rule"), int) else None
        if step.get("step") == "base_rate" and "points_per_unit" in step:
            text = _("Base rate: %(p)s points per currency unit") % {"p": step["points_per_unit"]}
        elif step.get("step") == "paid_with_points" and "amount" in step:
            text = _("%(a)s paid with points earns nothing") % {"a": step["amount"]}
        elif step.get("step") == "exclusions" and "lines_excluded" in step:
            text = _("%(n)s line(s) excluded by the programme") % {"n": step["lines_excluded"]}
        elif step.get("step") == "minimum_spend" and "minimum" in step:
            text = _("Below the minimum spend of %(m)s: no points") % {"m": step["minimum"]}
        elif "cap" in step and "capped_from" in step:
            text = _("%(name)s: capped from %(p)s points") % {
                "name": step.get("name", ""),
                "p": step["capped_from"],
            }
        elif "multiplier" in step:
            text = _("%(name)s: x%(m)s") % {"name": step.get("name", ""), "m": step["multiplier"]}
            if "share" in step:
                text += " " + str(
                    _("on %(pct)s%% of the basket") % {"pct": round(float(step["share"]) * 100)}
                )
        else:
            text = ", ".join(f"{k}: {v}" for k, v in step.items())
        steps.append(AppliedStep(text=str(text), rule=rule))
    return steps
