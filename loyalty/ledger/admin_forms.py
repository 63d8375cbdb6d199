"""Admin forms of the ledger: earning rules and programme settings with real widgets.

No JSON box in a staff form: SKUs and categories are tag inputs, stores and channels are
checkboxes, weekdays are the seven days. The rule form also refuses contradictions (a field the
rule's kind does not use) and asks for a confirmation before saving a rule that would change
every purchase a lot.
"""

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.core.widgets import TagListField
from loyalty.ledger.models import WEEKDAY_NAMES, EarningRule, ProgrammeSettings, Transaction
from members.identifiers import phone_regions
from members.models import Store

# a whole-basket multiplier above this (or 0), or a minimum spend above this, needs a tick
SWEEPING_MULTIPLIER = Decimal("3")
SWEEPING_MINIMUM_SPEND = Decimal("500")


def _store_choices() -> list[tuple[str, str]]:
    return [(s.code, f"{s.code} {s.name}") for s in Store.objects.order_by("code")]


class ChoiceCheckboxes(forms.CheckboxSelectMultiple):
    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__({"class": "bo-choices", **(attrs or {})})


class EarningRuleForm(forms.ModelForm):
    skus = TagListField(
        label=_("SKUs"),
        help_text=_(
            "Products this rule applies to, e.g. COFFEE-250G; press Enter after each. "
            "Empty: the whole basket."
        ),
    )
    categories = TagListField(
        label=_("Categories"),
        help_text=_("Product categories this rule applies to, e.g. Bakery. Empty: all."),
    )
    store_codes = forms.MultipleChoiceField(
        label=_("Stores"),
        required=False,
        widget=ChoiceCheckboxes,
        help_text=_("Only purchases in these stores, e.g. LDN01. None ticked: every store."),
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        required=False,
        choices=Transaction.Channel.choices,
        widget=ChoiceCheckboxes,
        help_text=_("Only purchases through these channels. None ticked: every channel."),
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Days of the week"),
        required=False,
        coerce=int,
        choices=[(i, name) for i, name in enumerate(WEEKDAY_NAMES)],
        widget=ChoiceCheckboxes,
        help_text=_(
            "Only purchases on these days (programme time), e.g. Saturday and Sunday for a "
            "weekend offer. None ticked: every day."
        ),
    )
    required_skus = TagListField(
        label=_("Requires one of these products"),
        help_text=_(
            "Applies only when the basket holds at least one of these SKUs, e.g. 85123A, "
            "22423; press Enter after each. Empty: no such condition."
        ),
    )
    confirm_sweeping = forms.BooleanField(
        label=_("Yes, change every purchase this much"),
        required=False,
        help_text=_("Needed for a rule that changes most purchases a lot (see the warning)."),
    )

    class Meta:
        model = EarningRule
        fields = (
            "name",
            "kind",
            "active",
            "priority",
            "multiplier",
            "points",
            "amount",
            "skus",
            "categories",
            "store_codes",
            "channels",
            "weekdays",
            "starts_at",
            "ends_at",
        )
        labels = {
            "multiplier": _("Multiplier"),
            "points": _("Points"),
            "amount": _("Minimum spend"),
            "starts_at": _("Starts"),
            "ends_at": _("Ends"),
        }
        help_texts = {
            "name": _("What staff call it, e.g. Weekend double points."),
            "kind": _("What the rule does to a purchase's points."),
            "active": _("Untick to pause the rule without deleting it."),
            "priority": _("Lower runs first, e.g. 10 before 100."),
            "multiplier": _("Multiply rules only, e.g. 1.5 for half as many points again."),
            "points": _("Fixed bonus or cap rules only, in points, e.g. 50."),
            "amount": _("Minimum spend rules only, in the programme currency, e.g. 10.00."),
            "starts_at": _("First moment the rule applies; empty: from now on."),
            "ends_at": _("First moment it no longer applies, e.g. 2027-01-01 00:00; empty: open."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        store_codes = self.fields["store_codes"]
        assert isinstance(store_codes, forms.MultipleChoiceField)
        store_codes.choices = _store_choices()
        self.sweeping: list[str] = []

    def clean(self) -> dict[str, Any]:
        super().clean()  # Form.clean returns self.cleaned_data
        data = self.cleaned_data
        kind: str = data.get("kind") or ""  # empty when the kind itself was refused
        uses_by_kind: dict[str, set[str]] = {
            EarningRule.Kind.MULTIPLIER: {"multiplier"},
            EarningRule.Kind.FIXED_BONUS: {"points"},
            EarningRule.Kind.MINIMUM_SPEND: {"amount"},
            EarningRule.Kind.CAP_TRANSACTION: {"points"},
            EarningRule.Kind.CAP_DAY: {"points"},
            EarningRule.Kind.CAP_MONTH: {"points"},
        }
        uses = uses_by_kind.get(kind, set())
        label = dict(EarningRule.Kind.choices).get(kind, "")
        for name in ("multiplier", "points", "amount"):
            if data.get(name) is not None and name not in uses:
                self.add_error(
                    name,
                    _("A “%(kind)s” rule has no %(field)s: leave it empty.")
                    % {"kind": label, "field": str(self.fields[name].label or name).lower()},
                )
        # only multiplier rules work on part of the basket (the engine ignores lines otherwise)
        if kind != EarningRule.Kind.MULTIPLIER:
            for name in ("skus", "categories"):
                if data.get(name):
                    self.add_error(
                        name,
                        _("Only multiply rules can be limited to products or categories."),
                    )
        amount = data.get("amount")
        if amount is not None and amount < 0:
            self.add_error("amount", _("A minimum spend cannot be negative."))
        self.sweeping = self._sweeping(data)
        if self.sweeping and not data.get("confirm_sweeping"):
            self.add_error(
                "confirm_sweeping",
                _("This rule changes most purchases a lot: %(why)s. Tick to confirm.")
                % {"why": "; ".join(str(r) for r in self.sweeping)},
            )
        return data

    def _sweeping(self, data: dict[str, Any]) -> list[str]:
        if not data.get("active"):
            return []
        scoped = any(data.get(n) for n in ("skus", "categories", "store_codes", "channels"))
        reasons = []
        kind = data.get("kind")
        multiplier = data.get("multiplier")
        if kind == EarningRule.Kind.MULTIPLIER and multiplier is not None and not scoped:
            if multiplier > SWEEPING_MULTIPLIER:
                reasons.append(
                    _("x%(m)s on every product in every store") % {"m": multiplier.normalize()}
                )
            elif multiplier == 0:
                reasons.append(str(_("no points at all on any purchase it matches")))
        amount = data.get("amount")
        if kind == EarningRule.Kind.MINIMUM_SPEND and amount and amount > SWEEPING_MINIMUM_SPEND:
            reasons.append(_("no points below a spend of %(a)s") % {"a": amount})
        return reasons


class ProgrammeSettingsForm(forms.ModelForm):
    excluded_skus = TagListField(
        label=_("Excluded SKUs"),
        help_text=_("Products that never earn points, e.g. GIFTCARD-25; press Enter after each."),
    )
    excluded_categories = TagListField(
        label=_("Excluded categories"),
        help_text=_("Categories that never earn points, e.g. Tobacco."),
    )

    phone_region = forms.ChoiceField(
        label=_("Phone region"),
        choices=phone_regions,
        help_text=ProgrammeSettings._meta.get_field("phone_region").help_text,
    )

    class Meta:
        model = ProgrammeSettings
        fields = (
            "name",
            "currency",
            "time_zone",
            "phone_region",
            "points_per_unit",
            "rounding",
            "minimum_spend",
            "excluded_skus",
            "excluded_categories",
            "pending_days",
            "expiry_policy",
            "expiry_months",
            "expiry_warning_days",
            "point_value",
            "return_policy",
        )
