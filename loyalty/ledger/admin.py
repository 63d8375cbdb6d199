"""Ledger admin: programme settings and rules editable; transactions and entries read-only;
balances on the member page; an 'adjust points' action with a mandatory reason."""

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from loyalty.core import csvsafe
from loyalty.core.admin_mixins import (
    AuditedAdminMixin,
    ReadOnlyAdminMixin,
    SingletonAdminMixin,
)
from loyalty.core.exceptions import ApplicationError
from loyalty.core.formatting import format_day, format_moment, format_money
from loyalty.ledger.admin_forms import EarningRuleForm, ProgrammeSettingsForm
from loyalty.ledger.admin_simulator import AppliedStep, SimulatorForm, explain_steps, simulate
from loyalty.ledger.models import (
    EarningRule,
    LedgerEntry,
    PointsAccount,
    PointsExpiryRun,
    ProgrammeSettings,
    PromoCode,
    Transaction,
    TransactionLine,
)
from loyalty.ledger.policy import local_date, programme_settings_get
from loyalty.ledger.rules import EarnResult
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import points_adjust
from loyalty.ledger.services.expire_all import points_expiry_run_create, points_expiry_run_start
from members.admin import MemberAdmin
from members.admin_scope import MemberScopedAdminMixin
from members.models import Member


@admin.register(ProgrammeSettings)
class ProgrammeSettingsAdmin(AuditedAdminMixin, SingletonAdminMixin, ModelAdmin):
    form = ProgrammeSettingsForm
    fieldsets = (
        (_("Programme"), {"fields": ("name", "currency", "time_zone", "phone_region")}),
        (
            _("Earning"),
            {
                "fields": (
                    "points_per_unit",
                    "rounding",
                    "minimum_spend",
                    "excluded_skus",
                    "excluded_categories",
                )
            },
        ),
        (
            _("Pending and expiry"),
            {
                "fields": (
                    "pending_days",
                    "expiry_policy",
                    "expiry_months",
                    "expiry_days",
                    "expiry_warning_days",
                )
            },
        ),
        (_("Value and returns"), {"fields": ("point_value", "return_policy")}),
    )


@admin.register(EarningRule)
class EarningRuleAdmin(AuditedAdminMixin, ModelAdmin):
    form = EarningRuleForm
    change_list_template = "admin/ledger/earningrule/change_list.html"
    list_display = ("name", "kind", "active", "priority", "description", "times_used")
    list_filter = ("kind", "active")
    list_editable = ("active", "priority")
    search_fields = ("name",)
    readonly_fields = ("times_used",)
    fieldsets = (
        (None, {"fields": ("name", "kind", "active", "priority", "stop_further")}),
        (_("Effect"), {"fields": ("multiplier", "points", "amount")}),
        (
            _("Conditions"),
            {
                "fields": (
                    "min_quantity",
                    "min_matching_amount",
                    "required_skus",
                    "requires_promo_code",
                )
            },
        ),
        (
            _("Usage caps"),
            {
                "fields": (
                    "max_uses_total",
                    "max_uses_per_member",
                    "max_uses_per_period",
                    "usage_period",
                    "times_used",
                )
            },
        ),
        (
            _("Applies to"),
            {
                "fields": (
                    "skus",
                    "categories",
                    "store_codes",
                    "channels",
                    "weekdays",
                    "starts_at",
                    "ends_at",
                )
            },
        ),
        (_("Confirmation"), {"fields": ("confirm_sweeping",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(uses_count=Count("uses"))

    @admin.display(description=_("times used (capped rules)"), ordering="uses_count")
    def times_used(self, rule: EarningRule) -> int:
        count = getattr(rule, "uses_count", None)
        if count is None:
            count = rule.uses.count() if rule.pk else 0
        return count

    @admin.display(description=_("What it does"))
    def description(self, rule: EarningRule) -> str:
        return rule.describe()

    def get_urls(self) -> list:
        simulator = path(
            "simulate/",
            self.admin_site.admin_view(self.simulator_view),
            name="ledger_earningrule_simulate",
        )
        return [simulator, *super().get_urls()]

    def simulator_view(self, request: HttpRequest) -> HttpResponse:
        """What a basket would earn under the active rules (earn_quote); writes nothing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = SimulatorForm(request.GET if "channel" in request.GET else None, user=request.user)
        result: EarnResult | None = None
        steps: list[AppliedStep] = []
        if form.is_bound and form.is_valid():
            result, steps = simulate(form)
        return TemplateResponse(
            request,
            "admin/ledger/earningrule/simulator.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Rule simulator"),
                "opts": self.opts,
                "form": form,
                "result": result,
                "steps": steps,
                "rules": [r for r in EarningRule.objects.filter(active=True)],
            },
        )


@admin.register(PromoCode)
class PromoCodeAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ("code", "rule", "active", "max_uses", "times_used", "starts_at", "ends_at")
    list_filter = ("active",)
    list_select_related = ("rule",)
    search_fields = ("code", "rule__name")
    autocomplete_fields = ("rule",)
    readonly_fields = ("times_used",)
    fields = ("code", "rule", "active", "max_uses", "starts_at", "ends_at", "times_used")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(uses_count=Count("transactions"))

    @admin.display(description=_("times used"), ordering="uses_count")
    def times_used(self, code: PromoCode) -> int:
        count = getattr(code, "uses_count", None)
        if count is None:
            count = code.transactions.count() if code.pk else 0
        return count


class TransactionLineInline(ReadOnlyAdminMixin, TabularInline):
    model = TransactionLine
    fields = ("sku", "category", "quantity", "unit_price", "amount")
    readonly_fields = fields
    extra = 0


@admin.register(Transaction)
class TransactionAdmin(MemberScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "occurred_at",
        "kind",
        "channel",
        "external_id",
        "member_link",
        "store",
        "amount_money",
        "points_earned",
        "points_reversed",
    )
    list_filter = ("kind", "channel", "store", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("external_id", "member__member_number", "customer_ref")
    list_select_related = ("member", "store")
    show_full_result_count = False
    date_hierarchy = "occurred_at"
    inlines = [TransactionLineInline]
    readonly_fields = ("entries",)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_money(self, txn: Transaction) -> str:
        """£1,234.50 / ¥1,234.50: the transaction's currency, the staff member's language."""
        return format_money(txn.amount, txn.currency)

    @admin.display(description=_("Member"))
    def member_link(self, txn: Transaction) -> str:
        if txn.member_id is None or txn.member is None:
            return str(_("anonymous"))
        url = reverse("admin:members_member_change", args=[txn.member_id])
        return format_html('<a href="{}">{}</a>', url, txn.member.member_number)

    @admin.display(description=_("Ledger entries"))
    def entries(self, txn: Transaction) -> str:
        rows = LedgerEntry.objects.filter(source_type=txn.kind, source_id=str(txn.pk)).order_by(
            "pk"
        )
        return format_html_join(
            "",
            '<div><a href="{}">{} {}</a></div>',
            (
                (
                    reverse("admin:ledger_ledgerentry_change", args=[e.pk]),
                    e.get_kind_display(),
                    f"{e.amount:+d}",
                )
                for e in rows
            ),
        ) or str(_("none"))


@admin.register(LedgerEntry)
class LedgerEntryAdmin(MemberScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    member_path = "account__member"
    list_display = (
        "effective_at",
        "member_number",
        "kind",
        "amount",
        "balance_after",
        "source",
        "reason",
        "created_by",
    )
    list_filter = ("kind", ("effective_at", admin.DateFieldListFilter), "source_type")
    search_fields = ("account__member__member_number", "idempotency_key", "source_id")
    list_select_related = ("account__member", "created_by")
    show_full_result_count = False
    actions = ["export_csv"]
    # the stored steps and metadata in words, not as JSON
    fields = (
        "account",
        "kind",
        "amount",
        "balance_after",
        "effective_at",
        "source",
        "reason",
        "created_by",
        "idempotency_key",
        "reverses",
        "how_worked_out",
        "created_at",
    )
    readonly_fields = ("source", "how_worked_out")

    @admin.display(description=_("How it was worked out"))
    def how_worked_out(self, entry: LedgerEntry) -> str:
        steps = explain_steps(entry.rules if isinstance(entry.rules, list) else [])
        return format_html_join("", "<div>{}</div>", ((step.text,) for step in steps)) or "-"

    @admin.display(description=_("Member"), ordering="account__member__member_number")
    def member_number(self, entry: LedgerEntry) -> str:
        return entry.account.member.member_number

    @admin.display(description=_("Source"))
    def source(self, entry: LedgerEntry) -> str:
        if entry.source_type in ("purchase", "return") and entry.source_id:
            url = reverse("admin:ledger_transaction_change", args=[entry.source_id])
            return format_html('<a href="{}">{} {}</a>', url, entry.source_type, entry.source_id)
        return f"{entry.source_type} {entry.source_id}".strip()

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.export_ledgerentry")

    @admin.action(description=_("Export selected entries as CSV"), permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="ledger-entries.csv"'
        writer = csvsafe.writer(response)
        writer.writerow(
            [
                "id",
                "effective_at",
                "member_number",
                "kind",
                "amount",
                "balance_after",
                "source_type",
                "source_id",
                "reason",
            ]
        )
        for e in (
            queryset.select_related("account__member").order_by("pk").iterator(chunk_size=2000)
        ):
            writer.writerow(
                [
                    e.pk,
                    e.effective_at.isoformat(),
                    e.account.member.member_number,
                    e.kind,
                    e.amount,
                    e.balance_after,
                    e.source_type,
                    e.source_id,
                    e.reason,
                ]
            )
        return response


class PointsAccountInline(ReadOnlyAdminMixin, StackedInline):
    model = PointsAccount
    fields = ("points_summary", "recent_entries")
    readonly_fields = fields
    verbose_name_plural = _("Points")
    can_delete = False

    @admin.display(description=_("Balance"))
    def points_summary(self, account: PointsAccount) -> str:
        b = account_balance(member=account.member)
        expiry = (
            _(", %(points)s expire after %(day)s")
            % {"points": b.next_expiry_points, "day": format_day(b.next_expiry_date)}
            if b.next_expiry_date
            else ""
        )
        return format_html(
            str(
                _(
                    "<strong>{}</strong> available, {} pending, {} debt (balance {}); "
                    "lifetime earned {}{}"
                )
            ),
            b.available,
            b.pending,
            b.debt,
            b.balance,
            b.lifetime_earned,
            expiry,
        )

    @admin.display(description=_("Recent entries"))
    def recent_entries(self, account: PointsAccount) -> str:
        if account.pk is None:  # the inline's blank form for a member without an account
            return str(_("no entries yet"))
        entries = account.entries.select_related("created_by", "created_by__api_client").order_by(
            "-effective_at", "-id"
        )[:10]
        return format_html_join(
            "",
            "<div>{} &middot; {} {} &rarr; {} <em>{}</em> {}</div>",
            (
                (
                    format_moment(e.effective_at),
                    e.get_kind_display(),
                    # signed here: format_html escapes its arguments into strings first,
                    # and "{:+d}" on a string raised (hidden by the admin as "-")
                    f"{e.amount:+d}",
                    e.balance_after,
                    e.reason,
                    _actor_label(e.created_by),
                )
                for e in entries
            ),
        ) or str(_("no entries yet"))


def _actor_label(user: object) -> str:
    """'by <staff user>' or 'by API client <name>' ('' for the system)."""
    if user is None:
        return ""
    client = getattr(user, "api_client", None)
    if client is not None:
        return str(_("by API client %(name)s") % {"name": client.name})
    return str(_("by %(user)s") % {"user": user.get_username()})  # type: ignore[attr-defined]


class AdjustPointsForm(forms.Form):
    points = forms.IntegerField(
        min_value=-(10**9), max_value=10**9, help_text=_("Negative to take points away.")
    )
    reason = forms.CharField(max_length=255, help_text=_("Kept on the entry with your name."))

    def clean_points(self) -> int:
        if self.cleaned_data["points"] == 0:
            raise forms.ValidationError(_("Adjust by at least one point."))
        return self.cleaned_data["points"]


def has_adjust_points_permission(modeladmin: ModelAdmin, request: HttpRequest) -> bool:
    return request.user.has_perm("ledger.adjust_points")


# Offered only to users holding ledger.adjust_points (clerks do not): Django drops the action
# from the list and refuses a posted action name it did not offer.
@admin.action(description=_("Adjust points (with a reason)"), permissions=["adjust_points"])
def adjust_points(
    modeladmin: ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    if not request.user.has_perm("ledger.adjust_points"):
        modeladmin.message_user(request, _("You may not adjust points."), level=messages.ERROR)
        return None
    form = AdjustPointsForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        batch = request.POST.get("batch") or uuid.uuid4().hex
        done = 0
        for member in queryset:
            try:
                points_adjust(
                    member=member,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    idempotency_key=f"admin:{batch}:{member.pk}",
                )
                done += 1
            except ApplicationError as exc:
                modeladmin.message_user(
                    request,
                    _("%(member_number)s: %(message)s")
                    % {"member_number": member.member_number, "message": exc.message},
                    level=messages.ERROR,
                )
        if done:
            modeladmin.message_user(
                request,
                _("Adjusted the points of %(done)s member(s).") % {"done": done},
                level=messages.SUCCESS,
            )
        return None
    return TemplateResponse(
        request,
        "admin/ledger/adjust_points.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Adjust points",
            "form": form,
            "members": queryset,
            "batch": uuid.uuid4().hex,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


# The member page shows points and offers the adjustment (members cannot import the ledger).
MemberAdmin.inlines = [PointsAccountInline, *MemberAdmin.inlines]
MemberAdmin.actions = [*MemberAdmin.actions, adjust_points]
MemberAdmin.has_adjust_points_permission = has_adjust_points_permission  # type: ignore[attr-defined]
assert admin.site.is_registered(Member)


class PointsExpiryRunForm(forms.ModelForm):
    class Meta:
        model = PointsExpiryRun
        fields = ("as_of_date", "reason")

    def clean_as_of_date(self) -> Any:
        day = self.cleaned_data["as_of_date"]
        if day and day > local_date(programme_settings_get(), timezone.now()):
            raise forms.ValidationError(_("Choose today or a day in the past."))
        return day


@admin.register(PointsExpiryRun)
class PointsExpiryRunAdmin(AuditedAdminMixin, ModelAdmin):
    """Expire all / reset: add a run to see its preview, then start it with the action; the
    worker's progress shows in the list (reload the page)."""

    form = PointsExpiryRunForm
    list_display = (
        "__str__",
        "status",
        "preview_members",
        "preview_points",
        "preview_liability",
        "progress",
        "points_expired",
        "created_by",
        "started_by",
        "finished_at",
    )
    list_filter = ("status",)
    list_select_related = ("created_by", "started_by")
    actions = ("start_runs",)
    readonly_fields = (
        "status",
        "preview_members",
        "preview_points",
        "preview_liability",
        "members_done",
        "points_expired",
        "created_by",
        "started_by",
        "started_at",
        "finished_at",
        "error",
    )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("as_of_date", "reason")
        return ("as_of_date", "reason", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ("as_of_date", "reason", *self.readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.run_points_expiry")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a run is created, then started; never edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit entry of what was expired

    def has_run_points_expiry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.run_points_expiry")

    @admin.display(description=_("progress"))
    def progress(self, run: PointsExpiryRun) -> str:
        return _("%(done)s of %(total)s members") % {
            "done": run.members_done,
            "total": run.preview_members,
        }

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return
        try:
            run = points_expiry_run_create(
                as_of_date=obj.as_of_date, reason=obj.reason, actor=request.user
            )
        except DjangoValidationError as error:  # checked by the form first; kept as a guard
            self.message_user(request, "; ".join(error.messages), level=messages.ERROR)
            return
        obj.pk = run.pk
        obj._state.adding = False
        self.message_user(
            request,
            _(
                "Preview: %(members)s members, %(points)s points, liability %(liability)s. "
                "Nothing is expired yet: select the run and choose 'Start the selected expiry "
                "runs'."
            )
            % {
                "members": run.preview_members,
                "points": run.preview_points,
                "liability": run.preview_liability,
            },
            level=messages.WARNING,
        )

    @admin.action(
        description=_("Start the selected expiry runs (expires every live point)"),
        permissions=["run_points_expiry"],
    )
    def start_runs(self, request: HttpRequest, queryset: QuerySet) -> None:
        for run in queryset.order_by("pk"):
            try:
                points_expiry_run_start(run=run, actor=request.user)
            except ApplicationError as error:
                self.message_user(
                    request,
                    _("%(run)s: %(message)s") % {"run": run, "message": error.message},
                    level=messages.ERROR,
                )
                continue
            self.message_user(
                request,
                _("%(run)s: queued; the list shows its progress.") % {"run": run},
                level=messages.SUCCESS,
            )
