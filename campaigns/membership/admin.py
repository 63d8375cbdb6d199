"""Paid club admin: plans (benefits in words, members-only rewards as a picker), memberships
(join with the payment reference, record a renewal, cancel with the pro-rata refund shown),
their terms read-only. Every write goes through campaigns.membership.services."""

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from campaigns.membership.models import ClubMembership, ClubPlan, ClubTerm
from campaigns.membership.selectors import local_day, membership_state
from campaigns.membership.services import (
    club_membership_cancel,
    club_membership_join,
    club_membership_renew,
    pro_rata_refund,
)
from loyalty.core.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin
from loyalty.core.exceptions import ApplicationError
from loyalty.core.formatting import format_day
from loyalty.ledger.models import ProgrammeSettings
from members.admin import MemberAdmin
from members.admin_scope import MemberScopedAdminMixin
from members.models import Member

STATE_WORDS = {
    "active": _("Active"),
    "grace": _("In grace period"),
    "lapsed": _("Lapsed"),
    "cancelled": _("Cancelled"),
    "none": _("Not a member"),
}


def _message(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return str(exc.message)
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    raise exc


@admin.register(ClubPlan)
class ClubPlanAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ("name", "code", "fee", "term_months", "benefits_text", "members", "active")
    list_filter = ("active", "term_months", "free_delivery")
    search_fields = ("name", "code")
    filter_horizontal = ("exclusive_rewards",)
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "active")}),
        (_("Fee and term"), {"fields": ("fee", "term_months", "grace_days")}),
        (
            _("Benefits"),
            {
                "fields": (
                    "points_multiplier",
                    "reward_discount_percent",
                    "free_delivery",
                    "exclusive_rewards",
                )
            },
        ),
        (_("Renewal reminder"), {"fields": ("reminder_days", "reminder_template")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(open_count=Count("memberships", filter=Q(memberships__status="active")))
        )

    @admin.display(description=_("benefits"))
    def benefits_text(self, plan: ClubPlan) -> str:
        return plan.benefits

    @admin.display(description=_("open memberships"), ordering="open_count")
    def members(self, plan: ClubPlan) -> int:
        return getattr(plan, "open_count", 0)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # memberships point at it; close it to new members instead


class ClubTermInline(ReadOnlyAdminMixin, TabularInline):
    model = ClubTerm
    extra = 0
    fields = (
        "number",
        "kind",
        "starts_on",
        "ends_on",
        "fee",
        "payment_reference",
        "paid_at",
        "refund",
    )
    readonly_fields = fields
    can_delete = False


class JoinForm(forms.Form):
    """Joining from the admin: the member, the plan and the payment that paid the first term."""

    member = forms.CharField(
        label=_("member number"),
        max_length=20,
        help_text=_("The number on the member's card, e.g. 8260971315."),
    )
    plan = forms.ModelChoiceField(
        label=_("plan"),
        queryset=ClubPlan.objects.filter(active=True),
        help_text=_("Only plans open to new members."),
    )
    auto_renew = forms.BooleanField(
        label=_("renews automatically"),
        required=False,
        initial=True,
        help_text=ClubMembership._meta.get_field("auto_renew").help_text,
    )
    payment_reference = forms.CharField(
        label=_("payment reference"),
        max_length=100,
        help_text=_("The payment's reference in the shop or payment system, e.g. 'PAY-2026-0042'."),
    )
    amount = forms.DecimalField(
        label=_("amount paid"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("Must be the plan's fee, e.g. 49.00."),
    )

    def __init__(self, *args: Any, members: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = members  # those this staff member may see

    def clean_member(self) -> Member:
        number = self.cleaned_data["member"].strip()
        member = self.members.filter(member_number=number).first()
        if member is None:
            raise forms.ValidationError(_("No member has the number %(n)s.") % {"n": number})
        return member


class RenewForm(forms.Form):
    payment_reference = forms.CharField(
        label=_("payment reference"),
        max_length=100,
        help_text=_("The renewal payment's reference, e.g. 'PAY-2027-0042'."),
    )
    amount = forms.DecimalField(
        label=_("amount paid"),
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text=_("Must be the plan's fee."),
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("reason"),
        max_length=300,
        help_text=_("Why the membership ends, e.g. 'member asked by phone'. Shown in the history."),
    )


@admin.register(ClubMembership)
class ClubMembershipAdmin(MemberScopedAdminMixin, AuditedAdminMixin, ModelAdmin):
    list_display = (
        "member",
        "plan",
        "state",
        "started_on",
        "ends_on",
        "auto_renew",
        "refund",
    )
    list_filter = ("status", "plan", "auto_renew")
    search_fields = ("member__member_number", "member__last_name", "member__email")
    list_select_related = ("member", "plan")
    inlines = [ClubTermInline]
    actions = ("cancel_selected",)
    readonly_fields = (
        "member",
        "plan",
        "status",
        "started_on",
        "ends_on",
        "cancelled_at",
        "cancel_reason",
        "refund",
        "lapsed_on",
        "created_by",
        "renew_link",
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return (
            (None, {"fields": ("member", "plan", "status", "auto_renew", "renew_link")}),
            (_("Term"), {"fields": ("started_on", "ends_on", "lapsed_on")}),
            (_("Cancellation"), {"fields": ("cancelled_at", "cancel_reason", "refund")}),
            (None, {"fields": ("created_by",)}),
        )

    def save_model(
        self, request: HttpRequest, obj: ClubMembership, form: Any, change: bool
    ) -> None:
        # only the auto-renew choice is editable here; the rest goes through the services
        ClubMembership.objects.filter(pk=obj.pk).update(
            auto_renew=obj.auto_renew, updated_at=timezone.now()
        )

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        """Join: a page of its own (the service is a durable transaction, so it must not run
        inside the admin's change-form transaction)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        members = MemberAdmin(Member, self.admin_site).get_queryset(request)
        form = JoinForm(request.POST or None, members=members)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                membership = club_membership_join(
                    member=data["member"],
                    plan=data["plan"],
                    payment_reference=data["payment_reference"],
                    amount=data["amount"],
                    auto_renew=data["auto_renew"],
                    actor=request.user,
                )
            except (ApplicationError, ValidationError) as exc:
                form.add_error(None, _message(exc))
            else:
                self.message_user(
                    request,
                    _("%(member)s joined %(plan)s, paid until %(day)s.")
                    % {
                        "member": membership.member,
                        "plan": membership.plan,
                        "day": format_day(membership.ends_on),
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:membership_clubmembership_change", args=[membership.pk])
                )
        return TemplateResponse(
            request,
            "admin/membership/join.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Join the paid club"),
                "form": form,
                "opts": self.model._meta,
            },
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(  # the programme's zone in the same query: no query per row for "today"
                programme_tz=Subquery(
                    ProgrammeSettings.objects.filter(pk=1).values("time_zone")[:1]
                )
            )
        )

    @admin.display(description=_("state"))
    def state(self, membership: ClubMembership) -> str:
        tz = getattr(membership, "programme_tz", None)
        today = local_day(timezone.now(), ZoneInfo(tz) if tz else None)
        return str(STATE_WORDS[membership_state(membership, today)])

    @admin.display(description=_("renew"))
    def renew_link(self, membership: ClubMembership) -> str:
        if not membership.pk or membership.status != ClubMembership.Status.ACTIVE:
            return "—"
        url = reverse("admin:membership_clubmembership_renew", args=[membership.pk])
        return format_html('<a href="{}">{}</a>', url, _("Record a renewal payment"))

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if not request.user.has_perm("membership.cancel_clubmembership"):
            actions.pop("cancel_selected", None)
        return actions

    @admin.action(description=_("Cancel selected memberships (pro-rata refund)"))
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> Any:
        if not request.user.has_perm("membership.cancel_clubmembership"):
            raise PermissionDenied
        form = CancelForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for membership in queryset.select_related("member", "plan"):
                try:
                    cancelled = club_membership_cancel(
                        membership=membership,
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                    )
                except (ApplicationError, ValidationError) as exc:
                    self.message_user(request, f"{membership}: {_message(exc)}", messages.ERROR)
                    continue
                done += 1
                self.message_user(
                    request,
                    _("%(m)s cancelled; refund due %(r)s.")
                    % {"m": membership.member, "r": cancelled.refund},
                    messages.SUCCESS,
                )
            return None
        today = local_day(timezone.now())
        previews = []
        for membership in queryset.select_related("member", "plan"):
            refund = sum(
                (
                    pro_rata_refund(term=term, cancelled_on=today)
                    for term in membership.terms.filter(ends_on__gt=today)
                ),
                Decimal("0"),
            )
            previews.append((membership, refund))
        return TemplateResponse(
            request,
            "admin/membership/cancel.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Cancel club memberships"),
                "form": form,
                "previews": previews,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )

    def get_urls(self) -> list:
        own = [
            path(
                "<int:membership_id>/renew/",
                self.admin_site.admin_view(self.renew_view),
                name="membership_clubmembership_renew",
            )
        ]
        return own + super().get_urls()

    def renew_view(self, request: HttpRequest, membership_id: int) -> HttpResponse:
        membership = get_object_or_404(self.get_queryset(request), pk=membership_id)
        if not self.has_change_permission(request, membership):
            raise PermissionDenied
        form = RenewForm(request.POST or None, initial={"amount": membership.plan.fee})
        if request.method == "POST" and form.is_valid():
            try:
                renewed = club_membership_renew(
                    membership=membership,
                    payment_reference=form.cleaned_data["payment_reference"],
                    amount=form.cleaned_data["amount"],
                    actor=request.user,
                )
            except (ApplicationError, ValidationError) as exc:
                form.add_error(None, _message(exc))
            else:
                self.message_user(
                    request,
                    _("Renewed: paid until %(day)s.") % {"day": format_day(renewed.ends_on)},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:membership_clubmembership_change", args=[membership.pk])
                )
        return TemplateResponse(
            request,
            "admin/membership/renew.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Record a renewal payment"),
                "membership": membership,
                "form": form,
                "opts": self.model._meta,
            },
        )
