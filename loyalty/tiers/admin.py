"""Tier admin: the ladder and the policy are editable; history is read-only; the member page
shows the current tier with progress and the history, and offers a 'set tier' action."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from loyalty.core.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin, SingletonAdminMixin
from loyalty.core.exceptions import ApplicationError
from loyalty.core.formatting import format_day
from loyalty.tiers.models import Tier, TierAssignment, TierFloor, TierPolicy
from loyalty.tiers.selectors import tier_member_progress, tier_policy_get
from loyalty.tiers.services import tier_assign, tier_floor_remove, tier_floor_set
from members.admin import MemberAdmin
from members.admin_scope import MemberScopedAdminMixin
from members.models import Member


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = [
            "name",
            "code",
            "rank",
            "threshold",
            "description",
            "earn_multiplier",
            "entry_gift_points",
            "free_shipping",
            "birthday_gift",
            "exclusive_rewards",
        ]

    def clean(self) -> dict:
        super().clean()  # Form.clean returns self.cleaned_data
        data = self.cleaned_data
        rank, threshold = data.get("rank"), data.get("threshold")
        if rank is None or threshold is None:
            return data
        if rank == 0 and threshold != 0:
            self.add_error("threshold", _("The entry tier (rank 0) has a threshold of 0."))
        others = Tier.objects.exclude(pk=self.instance.pk)
        lower = others.filter(rank__lt=rank, threshold__gte=threshold).order_by("-rank").first()
        higher = others.filter(rank__gt=rank, threshold__lte=threshold).order_by("rank").first()
        if lower is not None:
            self.add_error(
                "threshold",
                _("Must be higher than %(name)s's threshold (%(threshold)s).")
                % {"name": lower.name, "threshold": lower.threshold},
            )
        if higher is not None:
            self.add_error(
                "threshold",
                _("Must be lower than %(name)s's threshold (%(threshold)s).")
                % {"name": higher.name, "threshold": higher.threshold},
            )
        return data


@admin.register(Tier)
class TierAdmin(AuditedAdminMixin, ModelAdmin):
    form = TierForm
    list_display = (
        "name",
        "code",
        "rank",
        "threshold",
        "earn_multiplier",
        "entry_gift_points",
        "free_shipping",
        "birthday_gift",
        "exclusive_rewards",
        "current_members",
    )
    ordering = ("rank",)
    fieldsets = (
        (None, {"fields": ("name", "code", "rank", "threshold", "description")}),
        (_("Benefits"), {"fields": ("earn_multiplier", "entry_gift_points")}),
        (
            _("Flags for rewards and campaigns"),
            {"fields": ("free_shipping", "birthday_gift", "exclusive_rewards")},
        ),
    )

    @admin.display(description=_("Members now"))
    def current_members(self, tier: Tier) -> int:
        return tier.assignments.filter(valid_to__isnull=True).count()

    def has_delete_permission(self, request: HttpRequest, obj: Tier | None = None) -> bool:
        if obj is not None and obj.assignments.exists():
            return False  # history points at it (PROTECT); rename or re-rank instead
        return super().has_delete_permission(request, obj)


class TierPolicyForm(forms.ModelForm):
    class Meta:
        model = TierPolicy
        fields = [
            "basis",
            "window",
            "downgrade_mode",
            "grace_days",
            "one_tier_down",
            "floor_max_tier",
        ]

    def clean(self) -> dict:
        super().clean()  # Form.clean returns self.cleaned_data
        data = self.cleaned_data
        mode, grace = data.get("downgrade_mode"), data.get("grace_days")
        if grace and mode and mode != TierPolicy.DowngradeMode.PERIOD_END:
            self.add_error(
                "grace_days",
                _(
                    "Grace days only apply when members are downgraded at period end: set them "
                    "to 0, or choose 'Downgrade at period end'."
                ),
            )
        cap = data.get("floor_max_tier")
        if cap is not None:
            above = TierFloor.objects.filter(tier__rank__gt=cap.rank)
            example = above.select_related("member").first()
            if example is not None:
                self.add_error(
                    "floor_max_tier",
                    _(
                        "%(count)s member(s) have a floor above %(cap)s (e.g. %(example)s): "
                        "lower their floors first."
                    )
                    % {
                        "count": above.count(),
                        "cap": cap.name,
                        "example": example.member,
                    },
                )
        return data


@admin.register(TierPolicy)
class TierPolicyAdmin(AuditedAdminMixin, SingletonAdminMixin, ModelAdmin):
    form = TierPolicyForm
    fields = (
        "basis",
        "window",
        "downgrade_mode",
        "grace_days",
        "one_tier_down",
        "floor_max_tier",
    )


class TierFloorForm(forms.ModelForm):
    class Meta:
        model = TierFloor
        fields = ["member", "tier", "reason"]

    def clean_tier(self) -> Tier:
        tier = self.cleaned_data["tier"]
        cap = tier_policy_get().floor_max_tier
        if cap is not None and tier.rank > cap.rank:
            raise forms.ValidationError(
                _(
                    "%(tier)s is above the highest floor tier of the programme (%(cap)s). "
                    "Choose %(cap)s or a lower tier, or raise the limit in the tier policy."
                )
                % {"tier": tier.name, "cap": cap.name}
            )
        return tier


@admin.register(TierFloor)
class TierFloorAdmin(AuditedAdminMixin, ModelAdmin):
    """Members who keep at least a tier (staff, partners): saved through tier_floor_set, which
    raises a member below the floor at once."""

    form = TierFloorForm
    list_display = ("member", "tier", "reason", "set_by", "updated_at")
    list_select_related = ("member", "tier", "set_by")
    list_filter = ("tier",)
    search_fields = ("member__member_number", "member__last_name", "reason")
    raw_id_fields = ("member",)
    readonly_fields = ("set_by",)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple:
        return ("member", "set_by") if obj is not None else ("set_by",)

    def save_model(
        self, request: HttpRequest, obj: TierFloor, form: forms.Form, change: bool
    ) -> None:
        saved = tier_floor_set(
            member=obj.member, tier=obj.tier, reason=obj.reason, actor=request.user
        )
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: TierFloor) -> None:
        tier_floor_remove(floor=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for floor in queryset:
            tier_floor_remove(floor=floor, actor=request.user)


@admin.register(TierAssignment)
class TierAssignmentAdmin(MemberScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "member",
        "tier",
        "previous_tier",
        "reason",
        "valid_from",
        "valid_to",
        "qualifying_value",
        "manual_until",
        "downgrade_due_on",
        "actor",
    )
    list_select_related = ("member", "tier", "previous_tier", "actor")
    list_filter = ("reason", "tier", ("valid_to", admin.EmptyFieldListFilter))
    search_fields = ("member__member_number", "note")
    date_hierarchy = "valid_from"
    show_full_result_count = False


class TierPanelInline(ReadOnlyAdminMixin, StackedInline):
    """The member's current tier with progress (the open assignment row)."""

    model = TierAssignment
    fk_name = "member"
    fields = ("tier_summary", "progress")
    readonly_fields = fields
    verbose_name = _("Tier")
    verbose_name_plural = _("Tier")
    can_delete = False
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(valid_to__isnull=True).select_related("tier")

    @admin.display(description=_("Current tier"))
    def tier_summary(self, row: TierAssignment) -> str:
        until = (
            _(", manual until %(day)s") % {"day": format_day(row.manual_until)}
            if row.manual_until
            else ""
        )
        return format_html(
            str(_("<strong>{}</strong> since {} ({}{})")),
            row.tier.name,
            format_day(timezone.localtime(row.valid_from)),
            row.get_reason_display(),
            until,
        )

    @admin.display(description=_("Progress"))
    def progress(self, row: TierAssignment) -> str:
        p = tier_member_progress(member=row.member)
        if p is None:
            return str(_("no tiers defined"))
        ends = (
            _("window ends %(day)s") % {"day": format_day(p.window_end)}
            if p.window_end
            else _("lifetime window")
        )
        basis = _("points") if p.basis == "points" else _("spend")
        parts = [
            _("qualifying %(basis)s %(value)s (%(ends)s)")
            % {"basis": basis, "value": p.qualifying_value, "ends": ends}
        ]
        if p.next_tier is not None:
            parts.append(
                _("%(needed)s more for %(tier)s")
                % {"needed": p.needed_for_next, "tier": p.next_tier.name}
            )
        parts.append(
            _("%(needed)s more to keep %(tier)s")
            % {"needed": p.needed_to_keep, "tier": p.tier.name}
        )
        if p.downgrade_due_on:
            parts.append(
                _("drops to %(tier)s on %(day)s")
                % {"tier": p.downgrade_to, "day": format_day(p.downgrade_due_on)}
            )
        return str(_("; ")).join(str(part) for part in parts)


class TierHistoryInline(ReadOnlyAdminMixin, TabularInline):
    model = TierAssignment
    fk_name = "member"
    fields = ("tier", "previous_tier", "reason", "note", "valid_from", "valid_to", "actor")
    readonly_fields = fields
    verbose_name_plural = _("Tier history")
    extra = 0
    tab = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("tier", "previous_tier", "actor")


class SetTierForm(forms.Form):
    tier = forms.ModelChoiceField(queryset=Tier.objects.order_by("rank"), to_field_name="code")
    reason = forms.CharField(max_length=255, help_text=_("Kept on the history row with your name."))
    manual_until = forms.DateField(
        required=False, help_text=_("Optional: not downgraded by the job before this date.")
    )
    give_gift = forms.BooleanField(required=False, help_text=_("Give the tier's entry gift."))


def has_set_tier_permission(modeladmin: ModelAdmin, request: HttpRequest) -> bool:
    return request.user.has_perm("tiers.set_tier")


# Offered only to users holding tiers.set_tier (finance and clerks do not), like adjust_points.
@admin.action(description=_("Set tier (with a reason)"), permissions=["set_tier"])
def set_tier(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    if not request.user.has_perm("tiers.set_tier"):
        modeladmin.message_user(request, _("You may not set tiers."), level=messages.ERROR)
        return None
    form = SetTierForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        done = 0
        for member in queryset:
            try:
                tier_assign(
                    member=member,
                    tier=form.cleaned_data["tier"],
                    reason=form.cleaned_data["reason"],
                    manual_until=form.cleaned_data["manual_until"],
                    give_gift=form.cleaned_data["give_gift"],
                    actor=request.user,
                )
                done += 1
            except ApplicationError as exc:
                modeladmin.message_user(
                    request,
                    _("%(member_number)s: %(message)s")
                    % {"member_number": member.member_number, "message": exc.message},
                    level=messages.ERROR,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
                break
        if done:
            modeladmin.message_user(
                request,
                _("Set the tier of %(done)s member(s).") % {"done": done},
                level=messages.SUCCESS,
            )
        if not form.errors:
            return None
    return TemplateResponse(
        request,
        "admin/tiers/set_tier.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Set tier",
            "form": form,
            "members": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


# The member page shows the tier, progress and history (members cannot import tiers).
MemberAdmin.inlines = [*MemberAdmin.inlines, TierPanelInline, TierHistoryInline]
MemberAdmin.actions = [*MemberAdmin.actions, set_tier]
MemberAdmin.has_set_tier_permission = has_set_tier_permission  # type: ignore[attr-defined]
assert admin.site.is_registered(Member)
