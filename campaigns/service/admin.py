"""Customer service in the admin: feedback and complaints (record, own, resolve, goodwill
points), the open complaints with their age, a member's feedback on the member page, and the
bought-together table (read-only)."""

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin, TabularInline

from campaigns.service.models import (
    GOODWILL_MAX_POINTS,
    BoughtTogether,
    Feedback,
    OpenComplaint,
    ProductStats,
)
from campaigns.service.selectors import complaints_open, feedback_age
from campaigns.service.services import (
    TRANSITIONS,
    feedback_create,
    feedback_goodwill_grant,
    feedback_status_set,
    goodwill_allowed,
)
from loyalty.core.admin_mixins import ReadOnlyAdminMixin
from loyalty.core.exceptions import ApplicationError
from members.admin import member_admin_inline_register


def age_in_words(age: timedelta) -> str:
    days = age.days
    if days >= 1:
        return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    hours = int(age.total_seconds() // 3600)
    return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}


class FeedbackForm(forms.ModelForm):
    grant_points = forms.IntegerField(
        label=_("Give goodwill points"),
        required=False,
        min_value=1,
        max_value=GOODWILL_MAX_POINTS,
        help_text=_(
            "Points added to the member's balance as an apology, e.g. 200; once per complaint, "
            "recorded in the points ledger under your name with this complaint as the reason."
        ),
    )

    class Meta:
        model = Feedback
        fields = (
            "member",
            "kind",
            "channel",
            "category",
            "store",
            "text",
            "score",
            "received_at",
            "status",
            "owner",
            "resolution",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        instance = self.instance
        status = data.get("status")
        moving = bool(instance.pk and status and status != instance.status)
        if moving and status not in TRANSITIONS.get(instance.status, ()):
            self.add_error("status", _("It cannot move from this status to that one."))
        if status == Feedback.Status.RESOLVED and not (data.get("resolution") or "").strip():
            self.add_error("resolution", _("Say how it was resolved."))
        if data.get("grant_points") and instance.goodwill_entry_id:
            self.add_error("grant_points", _("Goodwill points were already given for this."))
        return data


@admin.register(Feedback)
class FeedbackAdmin(ModelAdmin):
    form = FeedbackForm
    list_display = (
        "number",
        "member",
        "kind",
        "category",
        "channel",
        "status",
        "owner",
        "received_at",
        "age",
        "goodwill_points",
    )
    list_filter = ("status", "kind", "category", "channel", "owner")
    list_select_related = ("member", "owner", "store")
    search_fields = ("member__member_number", "member__last_name", "member__email", "text")
    search_help_text = _("Card number, member's last name or e-mail, or words of the feedback")
    autocomplete_fields = ("member",)
    date_hierarchy = "received_at"
    list_per_page = 50

    add_fieldsets = (
        (None, {"fields": ("member", "kind", "channel", "category", "store")}),
        (_("What the member said"), {"fields": ("text", "score", "received_at")}),
        (_("Handling"), {"fields": ("owner",)}),
    )
    change_fieldsets = (
        (
            _("What the member said"),
            {
                "fields": (
                    "member",
                    "kind",
                    "channel",
                    "category",
                    "store",
                    "text",
                    "score",
                    "received_at",
                    "created_by",
                )
            },
        ),
        (
            _("Handling"),
            {"fields": ("status", "owner", "resolution", "resolved_at", "resolved_by")},
        ),
        (_("Goodwill"), {"fields": ("goodwill_points", "goodwill_entry_link", "grant_points")}),
    )
    change_readonly = (
        "member",
        "kind",
        "channel",
        "category",
        "store",
        "text",
        "score",
        "received_at",
        "created_by",
        "resolved_at",
        "resolved_by",
        "goodwill_points",
        "goodwill_entry_link",
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        if goodwill_allowed(request.user) and not obj.goodwill_entry_id:
            return self.change_fieldsets
        *rest, (name, _opts) = self.change_fieldsets
        return (*rest, (name, {"fields": ("goodwill_points", "goodwill_entry_link")}))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.change_readonly

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None or obj.goodwill_entry_id or not goodwill_allowed(request.user):
            # a declared field is in every form class: take it out where it is not offered
            form.base_fields.pop("grant_points", None)
        return form

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("received_at", timezone.now())
        return initial

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # what a member told us stays on record

    @admin.display(description=_("No."), ordering="id")
    def number(self, obj: Feedback) -> str:
        return f"#{obj.pk}"

    @admin.display(description=_("Age (open) / time to resolve"))
    def age(self, obj: Feedback) -> str:
        return age_in_words(feedback_age(obj))

    @admin.display(description=_("Goodwill ledger entry"))
    def goodwill_entry_link(self, obj: Feedback) -> str:
        if not obj.goodwill_entry_id:
            return "-"
        url = reverse("admin:ledger_ledgerentry_change", args=[obj.goodwill_entry_id])
        return format_html(
            '<a href="{}">{}</a>',
            url,
            _("Entry %(id)s: +%(points)s points")
            % {"id": obj.goodwill_entry_id, "points": obj.goodwill_points},
        )

    def save_model(self, request: HttpRequest, obj: Feedback, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            if not change:
                created = feedback_create(
                    member=data["member"],
                    kind=data["kind"],
                    channel=data["channel"],
                    category=data["category"],
                    store=data.get("store"),
                    text=data["text"],
                    score=data.get("score"),
                    received_at=data.get("received_at"),
                    owner=data.get("owner"),
                    actor=request.user,
                )
                obj.pk = created.pk
                obj._state.adding = False
                return
            original = Feedback.objects.get(pk=obj.pk)
            current = original
            if data.get("grant_points"):
                current = feedback_goodwill_grant(
                    feedback=current, points=data["grant_points"], actor=request.user
                )
                self.message_user(
                    request,
                    _("%(points)s goodwill points given to %(member)s.")
                    % {"points": data["grant_points"], "member": current.member},
                    messages.SUCCESS,
                )
            if (
                data["status"] != original.status
                or (data.get("resolution") or "") != original.resolution
                or data.get("owner") != original.owner
            ):
                feedback_status_set(
                    feedback=current,
                    status=data["status"],
                    resolution=data.get("resolution") or "",
                    owner=data.get("owner"),
                    actor=request.user,
                )
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)


@admin.register(OpenComplaint)
class OpenComplaintAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Complaints not resolved yet, the one waiting longest on top; open one to handle it."""

    list_display = ("number", "member", "category", "channel", "status", "owner", "age", "summary")
    list_filter = ("status", "category", "owner")
    ordering = ("received_at", "id")  # the one waiting longest on top
    list_display_links = None
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return complaints_open()

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("service.view_feedback")

    @admin.display(description=_("No."))
    def number(self, obj: Feedback) -> str:
        url = reverse("admin:service_feedback_change", args=[obj.pk])
        return format_html('<a href="{}">#{}</a>', url, obj.pk)

    @admin.display(description=_("Waiting for"), ordering="received_at")
    def age(self, obj: Feedback) -> str:
        return age_in_words(feedback_age(obj))

    @admin.display(description=_("What the member said"))
    def summary(self, obj: Feedback) -> str:
        return Truncator(obj.text).chars(80)


class MemberFeedbackInline(TabularInline):
    """The member's feedback and complaints on the member page (newest first)."""

    model = Feedback
    fk_name = "member"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("received_at", "kind", "category", "status", "said", "goodwill_points")
    readonly_fields = fields
    ordering = ("-received_at", "-id")
    verbose_name = _("feedback or complaint")
    verbose_name_plural = _("feedback and complaints")

    @admin.display(description=_("What the member said"))
    def said(self, obj: Feedback) -> str:
        return Truncator(obj.text).chars(80)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("service.view_feedback")


member_admin_inline_register(MemberFeedbackInline)


@admin.register(BoughtTogether)
class BoughtTogetherAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Rebuilt every night from the purchases (or `manage.py build_bought_together`)."""

    list_display = ("sku", "rank", "other_sku", "purchases", "created_at")
    search_fields = ("=sku",)
    search_help_text = _("Exact product code (sku), e.g. 85123A")
    list_per_page = 50
    show_full_result_count = False


@admin.register(ProductStats)
class ProductStatsAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("sku", "category", "purchases", "created_at")
    search_fields = ("=sku", "category")
    search_help_text = _("Exact product code (sku), or a category")
    list_per_page = 50
    show_full_result_count = False
