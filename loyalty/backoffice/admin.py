"""The members admin as staff use it: balance and tier on the list, filters by tier, balance
and last purchase, enrolment through the service, an export with points and consents, and a
member's whole story on one page.

The members app cannot know points or tiers (they live in apps above it), so the admin the
members app registers is extended here, in the layer above every app, and registered again.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources

from campaigns.engagement.selectors import member_progress
from loyalty.backoffice.selectors import (
    ACTIVE_DAYS,
    LAPSED_DAYS,
    TIMELINE_KIND_KEYS,
    TIMELINE_KINDS,
    member_filter_by_balance,
    member_filter_by_last_purchase,
    member_filter_by_tier,
    member_list_with_points,
    member_story,
    member_timeline,
)
from loyalty.core.csvsafe import NeutraliseExportMixin
from loyalty.core.exceptions import ApplicationError
from loyalty.tiers.selectors import tier_ladder
from members.admin import MemberAdmin
from members.identifiers import normalize_email, normalize_phone
from members.models import Consent, Member
from members.resources import MEMBER_COLUMNS
from members.services import member_enroll

# --- filters -------------------------------------------------------------------------------


class TierFilter(admin.SimpleListFilter):
    title = _("tier")
    parameter_name = "tier"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(tier.code, tier.name) for tier in tier_ladder()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        tier_code = self.value()
        if tier_code:
            return member_filter_by_tier(queryset, tier_code=tier_code)
        return queryset


BALANCE_RANGES: dict[str, tuple[Any, int | None, int | None]] = {
    "0": (_("No points"), None, 1),
    "1-499": (_("1 to 499 points"), 1, 500),
    "500-999": (_("500 to 999 points"), 500, 1000),
    "1000+": (_("1,000 points or more"), 1000, None),
    "5000+": (_("5,000 points or more"), 5000, None),
}


class BalanceFilter(admin.SimpleListFilter):
    title = _("points balance")
    parameter_name = "balance"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(key, label) for key, (label, _low, _high) in BALANCE_RANGES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        key = self.value()
        if key is not None and key in BALANCE_RANGES:
            _label, low, high = BALANCE_RANGES[key]
            return member_filter_by_balance(queryset, at_least=low, below=high)
        return queryset


class LastPurchaseFilter(admin.SimpleListFilter):
    title = _("last purchase")
    parameter_name = "bought"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("active", _("Active: bought in the last %(d)s days") % {"d": ACTIVE_DAYS}),
            (
                "lapsing",
                _("Lapsing: last bought %(a)s to %(b)s days ago")
                % {"a": ACTIVE_DAYS, "b": LAPSED_DAYS},
            ),
            ("lapsed", _("Lapsed: no purchase for %(b)s+ days") % {"b": LAPSED_DAYS}),
            ("never", _("Never bought")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        state = self.value()
        if state is not None and state in ("active", "lapsing", "lapsed", "never"):
            return member_filter_by_last_purchase(queryset, state=state)
        return queryset


# --- enrolment from the admin ----------------------------------------------------------------


class MemberEnrolForm(forms.ModelForm):
    """ "Add member": the fields a clerk asks for; the member is enrolled by member_enroll (card
    number, referral code, consents, history and starting tier), never saved by the form."""

    enrolment_channel = forms.ChoiceField(
        label=_("Enrolled through"),
        choices=[
            (c.value, c.label)
            for c in Member.Channel
            if c not in (Member.Channel.IMPORT, Member.Channel.API)
        ],
        initial=Member.Channel.STORE,
        help_text=_("Where the customer asked to join, e.g. Store."),
    )
    consent_email = forms.BooleanField(
        label=_("E-mail consent"),
        required=False,
        help_text=_("Tick only if the customer agreed to marketing e-mails."),
    )
    consent_sms = forms.BooleanField(
        label=_("SMS consent"),
        required=False,
        help_text=_("Tick only if the customer agreed to marketing text messages."),
    )
    consent_push = forms.BooleanField(
        label=_("Push consent"),
        required=False,
        help_text=_("Tick only if the customer agreed to app notifications."),
    )

    class Meta:
        model = Member
        fields = (
            "full_name",
            "first_name",
            "last_name",
            "email",
            "phone",
            "birth_date",
            "home_store",
        )
        help_texts = {
            "email": _("e.g. jane@example.com"),
            "phone": _("As the customer says it, e.g. 07911 123456 or +44 7911 123456."),
            "birth_date": _("e.g. 1990-05-31"),
        }

    def clean_email(self) -> str | None:
        try:
            email = normalize_email(self.cleaned_data.get("email"))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        if email and Member.objects.filter(email=email).exists():
            raise forms.ValidationError(_("A member with this e-mail is already enrolled."))
        return email

    def clean_phone(self) -> str | None:
        try:
            phone = normalize_phone(self.cleaned_data.get("phone"))
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        if phone and Member.objects.filter(phone=phone).exists():
            raise forms.ValidationError(_("A member with this phone is already enrolled."))
        return phone

    def clean(self) -> dict[str, Any]:
        super().clean()  # Form.clean returns self.cleaned_data
        data = self.cleaned_data
        names = ("full_name", "first_name", "last_name", "email", "phone")
        if not any(data.get(f) for f in names):
            raise forms.ValidationError(_("Give at least a name, an e-mail or a phone."))
        return data


# --- export ------------------------------------------------------------------------------------


class MemberExportResource(NeutraliseExportMixin, resources.ModelResource):
    """The members list as a file: contact columns (the import's, so a file goes back in),
    plus enrolment date, balance, tier and consent per channel, from the list's annotations."""

    home_store = fields.Field(attribute="home_store__code", column_name="home_store")
    enrolled_at = fields.Field(attribute="enrolled_at", column_name="enrolled_at")
    balance = fields.Field(column_name="points_balance")
    tier = fields.Field(column_name="tier")
    email_consent = fields.Field(column_name="email_consent")
    sms_consent = fields.Field(column_name="sms_consent")
    push_consent = fields.Field(column_name="push_consent")

    class Meta:
        model = Member
        fields = (
            *MEMBER_COLUMNS,
            "enrolled_at",
            "balance",
            "tier",
            "email_consent",
            "sms_consent",
            "push_consent",
        )
        export_order = (
            *MEMBER_COLUMNS,
            "enrolled_at",
            "balance",
            "tier",
            "email_consent",
            "sms_consent",
            "push_consent",
        )

    def filter_export(self, queryset: QuerySet, **kwargs: Any) -> QuerySet:
        return member_list_with_points(queryset).prefetch_related("consents")

    def dehydrate_enrolled_at(self, member: Member) -> str:
        return member.enrolled_at.date().isoformat()

    def dehydrate_balance(self, member: Member) -> int:
        return getattr(member, "points_balance", None) or 0

    def dehydrate_tier(self, member: Member) -> str:
        return getattr(member, "tier_name", None) or ""

    def _consent(self, member: Member, channel: str) -> str:
        for consent in member.consents.all():
            if consent.channel == channel:
                return "yes" if consent.granted else "no"
        return ""

    def dehydrate_email_consent(self, member: Member) -> str:
        return self._consent(member, Consent.Channel.EMAIL)

    def dehydrate_sms_consent(self, member: Member) -> str:
        return self._consent(member, Consent.Channel.SMS)

    def dehydrate_push_consent(self, member: Member) -> str:
        return self._consent(member, Consent.Channel.PUSH)


class _EnrolRefused(Exception):
    pass


# --- the admin ---------------------------------------------------------------------------------


class MemberBackofficeAdmin(MemberAdmin):
    list_display = (
        "member_number",
        "name",
        "story_link",
        "tier",
        "balance",
        "email",
        "phone",
        "home_store",
        "enrolled_at",
        "status",
    )
    list_filter = (
        TierFilter,
        BalanceFilter,
        LastPurchaseFilter,
        *MemberAdmin.list_filter,
    )
    add_form = MemberEnrolForm
    add_fieldsets = (
        (
            None,
            {
                "fields": (
                    "full_name",
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "birth_date",
                )
            },
        ),
        (
            _("Programme"),
            {
                "fields": (
                    "home_store",
                    "enrolment_channel",
                    "consent_email",
                    "consent_sms",
                    "consent_push",
                )
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return member_list_with_points(super().get_queryset(request))

    def get_export_resource_classes(self, request: HttpRequest) -> list[type]:
        return [MemberExportResource]

    @admin.display(description=_("Balance"), ordering=F("points_balance").desc(nulls_last=True))
    def balance(self, member: Member) -> str:
        return f"{getattr(member, 'points_balance', None) or 0:,}"

    @admin.display(description=_("Tier"), ordering="tier_rank")
    def tier(self, member: Member) -> str:
        return getattr(member, "tier_name", None) or "-"

    @admin.display(description=_("Whole story"))
    def story_link(self, member: Member) -> str:
        url = reverse("admin:members_member_story", args=[member.pk])
        return format_html('<a href="{}" class="story-link">{}</a>', url, _("Open"))

    # enrolment through the service ------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.add_member")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else super().get_readonly_fields(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return [] if obj is None else super().get_inlines(request, obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Member, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        try:
            member = member_enroll(
                first_name=data.get("first_name") or "",
                last_name=data.get("last_name") or "",
                full_name=data.get("full_name") or "",
                email=data.get("email"),
                phone=data.get("phone"),
                birth_date=data.get("birth_date"),
                home_store=data.get("home_store"),
                channel=data["enrolment_channel"],
                consents={
                    "email": data.get("consent_email", False),
                    "sms": data.get("consent_sms", False),
                    "push": data.get("consent_push", False),
                },
                actor=request.user,
            )
        except ApplicationError as exc:
            # the form checked what the service checks; a race (same e-mail enrolled meanwhile)
            # is the only way here: add_view reports it, the admin's transaction rolls back
            raise _EnrolRefused(exc.message) from exc
        # the admin goes on with `obj` (log entry, redirect): make it the enrolled member
        obj.__dict__.update(
            {f.attname: getattr(member, f.attname) for f in Member._meta.concrete_fields}
        )
        obj._state.adding = False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except _EnrolRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def response_add(self, request: HttpRequest, obj: Member, post_url_continue: Any = None):  # type: ignore[no-untyped-def]
        self.message_user(
            request,
            _("Enrolled %(member)s with card number %(number)s.")
            % {"member": obj.display_name or obj.member_number, "number": obj.member_number},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:members_member_story", args=[obj.pk]))

    # the whole story ------------------------------------------------------------------

    def get_urls(self) -> list:
        story = path(
            "<int:object_id>/story/",
            self.admin_site.admin_view(self.story_view),
            name="members_member_story",
        )
        return [story, *super().get_urls()]

    def story_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        member = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_view_or_change_permission(request, member):
            raise PermissionDenied
        kinds = [k for k in request.GET.getlist("kind") if k in TIMELINE_KIND_KEYS]
        try:
            page = max(int(request.GET.get("page", "1")), 1)
        except ValueError:
            page = 1
        page = min(page, 1000)
        story = member_story(member=member)
        timeline = member_timeline(member=member, kinds=kinds, page=page)
        return TemplateResponse(
            request,
            "admin/backoffice/member_story.html",
            {
                **self.admin_site.each_context(request),
                "title": member.display_name or member.member_number,
                "subtitle": member.member_number,
                "opts": self.opts,
                "original": member,
                "story": story,
                "engagement": member_progress(member=member),
                "timeline": timeline,
                "kinds": TIMELINE_KINDS,
                "selected_kinds": kinds,
                "change_url": reverse("admin:members_member_change", args=[member.pk]),
                "may_change": self.has_change_permission(request, member),
                "kind_query": "".join(f"&kind={k}" for k in kinds),
            },
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "story_url": reverse("admin:members_member_story", args=[object_id])
            if str(object_id).isdigit()
            else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)


admin.site.unregister(Member)
admin.site.register(Member, MemberBackofficeAdmin)
