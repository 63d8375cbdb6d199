"""Campaigns admin for marketing staff: segments with a live count and sample, static lists
from CSV, campaigns with launch / pause / end actions, a timeline, budget burn-down and results
with a chart, message templates with a preview for a chosen member, and read-only logs."""

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from campaigns.messaging import template_render
from campaigns.models import (
    ActionEvent,
    Campaign,
    CampaignAward,
    CampaignStatusChange,
    MessageDelivery,
    MessageTemplate,
    Referral,
    Segment,
    SegmentCondition,
)
from campaigns.results import campaign_results
from campaigns.segments import condition_errors, segment_members
from campaigns.services import campaign_save, campaign_status_change, segment_list_import
from campaigns.validation import month_day
from loyalty.core import csvsafe
from loyalty.core.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin
from loyalty.core.exceptions import ApplicationError
from loyalty.ledger.models import Transaction
from members.models import Member, Store

if TYPE_CHECKING:
    from django.utils.functional import _StrOrPromise

SAMPLE = 10


class _TimelineRow(TypedDict):
    campaign: Campaign
    left: float  # % of the timeline's width
    width: float
    overlaps: list[str]  # names of the campaigns running at the same time


# ------------------------------------------------------------------------------ form fields
class CodeListField(forms.Field):
    """A list of codes typed as 'shoes, bags' (stored as a JSON list)."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(value)
        if isinstance(value, str) and value.startswith("["):
            try:
                return ", ".join(json.loads(value))
            except ValueError:
                return value
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        text = "" if value in self.empty_values else str(value)
        codes = [c.strip() for c in text.replace("\n", ",").split(",") if c.strip()]
        for code in codes:
            if "\x00" in code:  # PostgreSQL's jsonb refuses it: a 500 otherwise
                raise ValidationError(_("Null characters are not allowed."), code="null")
            if len(code) > 64:
                raise ValidationError(_("Each code has at most 64 characters."))
        return list(dict.fromkeys(codes))


WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class DayOfYearListField(forms.Field):
    """Days of the year typed as '11.11, 24.12' (day.month), stored as ['11-11', '12-24']."""

    widget = forms.TextInput

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        if isinstance(value, list):
            return ", ".join(
                f"{v[3:]}.{v[:2]}" for v in value if isinstance(v, str) and len(v) == 5
            )
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        text = str(value or "")
        days: list[str] = []
        for item in text.replace(";", ",").replace("\n", ",").split(","):
            item = item.strip().rstrip(".")
            if not item:
                continue
            day, sep, month = item.replace("/", ".").partition(".")
            stored = month_day(f"{month.strip():0>2}-{day.strip():0>2}") if sep else None
            if stored is None:
                raise ValidationError(
                    _("“%(item)s” is not a day of the year; write day.month, e.g. 11.11 or 24.12.")
                    % {"item": item}
                )
            days.append(stored)
        return sorted(dict.fromkeys(days))


def _store_choices() -> list[tuple[str, str]]:
    return [(s.code, str(s)) for s in Store.objects.filter(active=True).order_by("code")]


# ---------------------------------------------------------------------------------- segments
class SegmentConditionInline(TabularInline):
    model = SegmentCondition
    extra = 1
    fields = ("group", "field", "operator", "value", "window_days")
    verbose_name = _("condition")
    verbose_name_plural = _(
        "Conditions (same group number: all must hold; different groups: any group holds)"
    )


class ListUploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "A column member_number (or card), email or phone; one member per row, e.g. "
            "'member_number' then '5505172360'. Any unknown member refuses the whole file."
        ),
    )


@admin.register(Segment)
class SegmentAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ("name", "kind", "member_count", "updated_at")
    search_fields = ("name",)
    inlines = (SegmentConditionInline,)
    readonly_fields = ("preview",)
    fields = ("name", "kind", "description", "preview")
    actions = ("export_members",)
    change_form_template = "admin/campaigns/segment/change_form.html"

    @admin.display(description=_("members now"))
    def member_count(self, segment: Segment) -> int:
        return segment_members(segment).order_by().count()

    @admin.display(description=_("count and sample"))
    def preview(self, segment: Segment) -> str:
        if segment.pk is None:
            return gettext("Add conditions: the count appears as you edit them.")
        qs = segment_members(segment)
        count = qs.order_by().count()
        sample = ", ".join(str(m) for m in qs.order_by("pk")[:SAMPLE])
        return format_html(
            '<span data-segment-count="{}">{}</span><br><small>{}</small>',
            count,
            gettext("%(n)s members") % {"n": count},
            sample,
        )

    def get_urls(self) -> list:
        own = [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="campaigns_segment_preview",
            ),
            path(
                "<int:segment_id>/upload/",
                self.admin_site.admin_view(self.upload_view),
                name="campaigns_segment_upload",
            ),
        ]
        return own + super().get_urls()

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """The count and a sample for the conditions being edited (not saved)."""
        if request.method != "POST" or not self.has_view_permission(request):
            raise PermissionDenied
        prefix = "conditions"
        try:
            total = int(request.POST.get(f"{prefix}-TOTAL_FORMS", "0"))
        except ValueError:
            total = 0
        conditions, errors = [], []
        for index in range(min(total, 100)):
            data = {
                key: (request.POST.get(f"{prefix}-{index}-{key}") or "").strip()
                for key in ("group", "field", "operator", "value", "window_days", "DELETE")
            }
            if data["DELETE"] or not (data["field"] or data["value"]):
                continue
            cond = SegmentCondition(
                field=data["field"],
                operator=data["operator"],
                value=data["value"],
                group=int(data["group"]) if data["group"].isdigit() else 1,
                window_days=int(data["window_days"]) if data["window_days"].isdigit() else None,
            )
            problems = condition_errors(cond)
            if problems:
                errors.append(
                    gettext("Condition %(n)s: %(e)s")
                    % {"n": index + 1, "e": " ".join(str(v) for v in problems.values())}
                )
                continue
            conditions.append(cond)
        if errors:
            return JsonResponse({"count": None, "errors": errors, "sample": []})
        segment = Segment(kind=request.POST.get("kind") or Segment.Kind.RULES)
        if segment.kind == Segment.Kind.STATIC:
            return JsonResponse({"count": None, "errors": [], "sample": []})
        qs = segment_members(segment, conditions=conditions)
        return JsonResponse(
            {
                "count": qs.order_by().count(),
                "label": gettext("members match"),
                "errors": [],
                "sample": [str(m) for m in qs.order_by("pk")[:SAMPLE]],
            }
        )

    def upload_view(self, request: HttpRequest, segment_id: int) -> HttpResponse:
        segment = self.get_object(request, str(segment_id))
        if segment is None or not self.has_change_permission(request, segment):
            raise PermissionDenied
        if not request.user.has_perm("members.import_member") and not request.user.is_superuser:
            raise PermissionDenied
        report = None
        form = ListUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            report = segment_list_import(segment=segment, data=upload.read())
            if not report.errors:
                self.message_user(
                    request,
                    gettext("%(a)s members added, %(b)s already in the list.")
                    % {"a": report.added, "b": report.already},
                    level=messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:campaigns_segment_change", args=[segment.pk])
                )
        return TemplateResponse(
            request,
            "admin/campaigns/segment/upload.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Import members into %(s)s") % {"s": segment.name},
                "form": form,
                "segment": segment,
                "report": report,
            },
        )

    @admin.action(description=_("Export members as CSV"))
    def export_members(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        if not request.user.has_perm("campaigns.export_segment"):
            self.message_user(request, gettext("You may not export members."), messages.ERROR)
            return None
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="segment-members.csv"'
        writer = csvsafe.writer(response)
        writer.writerow(["segment", "member_number", "first_name", "last_name", "email", "phone"])
        for segment in queryset:
            for member in segment_members(segment).order_by("pk").iterator(chunk_size=2000):
                writer.writerow(
                    [
                        segment.name,
                        member.member_number,
                        member.first_name,
                        member.last_name,
                        member.email or "",
                        member.phone or "",
                    ]
                )
        return response


# --------------------------------------------------------------------------------- campaigns
class CampaignForm(forms.ModelForm):
    categories = CodeListField(
        label=_("categories"),
        required=False,
        help_text=_("Only lines in these categories, comma separated, e.g. shoes, bags."),
    )
    skus = CodeListField(
        label=_("SKUs"),
        required=False,
        help_text=_("Only these SKUs, comma separated, e.g. 85123A, 22423."),
    )
    store_codes = forms.MultipleChoiceField(
        label=_("stores"),
        required=False,
        choices=_store_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only purchases in these stores; none ticked: every store."),
    )
    channels = forms.MultipleChoiceField(
        label=_("channels"),
        required=False,
        choices=Transaction.Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Only purchases on these channels; none ticked: every channel."),
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("days of the week"),
        required=False,
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Double-points days: only purchases on these days, in the programme time zone, e.g. "
            "tick Tuesday for 'double points every Tuesday'; none ticked: every day."
        ),
    )
    dates = DayOfYearListField(
        label=_("dates every year"),
        required=False,
        help_text=_(
            "Only purchases on these days of the year, day.month, comma separated, e.g. 11.11 "
            "for 11 November; with days of the week ticked too, either one counts."
        ),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "goal",
            "segment",
            "mechanic",
            "starts_at",
            "ends_at",
            "priority",
            "stacking",
            "points_budget",
            "holdout_percent",
            "multiplier",
            "bonus_points",
            "referee_points",
            "min_spend",
            "purchase_number",
            "lapsed_days",
            "action",
            "cap_count",
            "cap_period",
            "categories",
            "skus",
            "store_codes",
            "channels",
            "weekdays",
            "dates",
            "reward",
            "birthday_window",
            "message_template",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "birthday_window" in self.fields:  # only birthday campaigns use it: "on the day"
            self.fields["birthday_window"].required = False

    def clean_birthday_window(self) -> str:
        return self.cleaned_data.get("birthday_window") or Campaign.BirthdayWindow.DAY


class StatusChangeInline(ReadOnlyAdminMixin, TabularInline):
    model = CampaignStatusChange
    fields = ("created_at", "from_status", "to_status", "actor", "reason")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("Status changes (audit)")


def _move(to_status: str, label: "_StrOrPromise") -> Any:
    @admin.action(description=label, permissions=["change_status"])
    def action(modeladmin: "CampaignAdmin", request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for campaign in queryset:
            try:
                campaign_status_change(
                    campaign=campaign,
                    to_status=to_status,
                    actor=request.user,
                    reason=gettext("by staff"),
                )
                done += 1
            except ApplicationError as exc:
                modeladmin.message_user(
                    request,
                    _("%(name)s: %(message)s") % {"name": campaign.name, "message": exc.message},
                    messages.ERROR,
                )
        if done:
            modeladmin.message_user(
                request, gettext("%(n)s campaign(s) updated.") % {"n": done}, messages.SUCCESS
            )

    action.__name__ = f"move_to_{to_status}"
    return action


@admin.register(Campaign)
class CampaignAdmin(AuditedAdminMixin, ModelAdmin):
    form = CampaignForm
    list_display = (
        "name",
        "mechanic",
        "gives",
        "status",
        "segment",
        "starts_at",
        "ends_at",
        "budget_used",
        "priority",
        "stacking",
    )
    list_filter = ("status", "mechanic")
    list_select_related = ("segment", "reward")
    search_fields = ("name",)
    readonly_fields = ("status", "points_awarded", "launched_at", "burn_down")
    inlines = (StatusChangeInline,)
    change_form_template = "admin/campaigns/campaign/change_form.html"
    change_list_template = "admin/campaigns/campaign/change_list.html"
    actions = (
        _move(Campaign.Status.ACTIVE, _("Launch / resume (schedule if it starts later)")),
        _move(Campaign.Status.PAUSED, _("Pause")),
        _move(Campaign.Status.ENDED, _("End now")),
    )
    fieldsets = (
        (None, {"fields": ("name", "goal", "segment", "mechanic", "status", "launched_at")}),
        (_("When"), {"fields": ("starts_at", "ends_at")}),
        (
            _("Budget, priority and control group"),
            {
                "fields": (
                    "points_budget",
                    "points_awarded",
                    "burn_down",
                    "priority",
                    "stacking",
                    "holdout_percent",
                )
            },
        ),
        (
            _("Mechanic settings (only those of the chosen mechanic are used)"),
            {
                "fields": (
                    "multiplier",
                    "bonus_points",
                    "reward",
                    "birthday_window",
                    "referee_points",
                    "min_spend",
                    "purchase_number",
                    "lapsed_days",
                    "action",
                    "cap_count",
                    "cap_period",
                )
            },
        ),
        (
            _("Which purchases (multiplier and fixed bonus)"),
            {"fields": ("categories", "skus", "store_codes", "channels", "weekdays", "dates")},
        ),
        (_("Message"), {"fields": ("message_template",)}),
    )

    def has_change_status_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.change_campaign_status")

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        return False

    @admin.display(description=_("gives"))
    def gives(self, campaign: Campaign) -> str:
        """The mechanic's settings in words, e.g. "x2 on Tuesday, 11 Nov"."""
        M = Campaign.Mechanic
        days = campaign.days_display()
        if campaign.mechanic == M.MULTIPLIER:
            text = f"x{campaign.multiplier}"
        elif campaign.mechanic == M.FIXED_BONUS:
            text = gettext("%(n)s points from %(spend)s") % {
                "n": campaign.bonus_points,
                "spend": campaign.min_spend,
            }
        elif campaign.mechanic in (M.BIRTHDAY, M.WIN_BACK):
            text = campaign.gift_display()
            if campaign.mechanic == M.BIRTHDAY:
                text += f" ({campaign.get_birthday_window_display()})"
        else:
            text = gettext("%(n)s points") % {"n": campaign.bonus_points or 0}
        return gettext("%(gives)s on %(days)s") % {"gives": text, "days": days} if days else text

    @admin.display(description=_("budget used"))
    def budget_used(self, campaign: Campaign) -> str:
        if campaign.points_budget is None:
            return gettext("%(n)s points (no limit)") % {"n": campaign.points_awarded}
        share = (
            100 * campaign.points_awarded / campaign.points_budget
            if campaign.points_budget
            else 100
        )
        return f"{campaign.points_awarded} / {campaign.points_budget} ({share:.0f}%)"

    @admin.display(description=_("burn-down"))
    def burn_down(self, campaign: Campaign) -> str:
        if campaign.pk is None:
            return "-"
        return self.budget_used(campaign)

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        campaign_save(campaign=obj, actor=request.user)

    def get_urls(self) -> list:
        own = [
            path(
                "timeline/",
                self.admin_site.admin_view(self.timeline_view),
                name="campaigns_campaign_timeline",
            ),
        ]
        return own + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        campaign = self.get_object(request, object_id)
        if campaign is not None and campaign.launched_at:
            results = campaign_results(campaign)
            extra["results"] = results
            extra["chart"] = _chart_data(campaign, results)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def timeline_view(self, request: HttpRequest) -> HttpResponse:
        """Campaigns as bars over the months around today, so overlaps are visible."""
        today = timezone.localdate()
        start = (today.replace(day=1) - timedelta(days=62)).replace(day=1)
        end = (today.replace(day=1) + timedelta(days=190)).replace(day=1)
        span = (end - start).days
        rows: list[_TimelineRow] = []
        for campaign in (
            Campaign.objects.exclude(
                status=Campaign.Status.ENDED, ends_at__lt=timezone.now() - timedelta(days=62)
            )
            .filter(starts_at__date__lt=end, ends_at__date__gt=start)
            .order_by("starts_at", "pk")
        ):
            left = max((timezone.localdate(campaign.starts_at) - start).days, 0)
            right = min((timezone.localdate(campaign.ends_at) - start).days, span)
            rows.append(
                {
                    "campaign": campaign,
                    "left": round(100 * left / span, 2),
                    "width": max(round(100 * (right - left) / span, 2), 0.5),
                    "overlaps": [],
                }
            )
        for row in rows:
            c = row["campaign"]
            row["overlaps"] = [
                o["campaign"].name
                for o in rows
                if o is not row
                and o["campaign"].starts_at < c.ends_at
                and c.starts_at < o["campaign"].ends_at
            ]
        months = []
        cursor = start
        while cursor < end:
            months.append(
                {
                    "label": date_format(cursor, "M Y"),  # Dec 2026, in the staff language
                    "left": round(100 * (cursor - start).days / span, 2),
                }
            )
            cursor = (cursor + timedelta(days=32)).replace(day=1)
        return TemplateResponse(
            request,
            "admin/campaigns/campaign/timeline.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Campaign timeline"),
                "rows": rows,
                "months": months,
                "today_left": round(100 * (today - start).days / span, 2),
                "opts": self.model._meta,
            },
        )


def _chart_data(campaign: Campaign, results: Any) -> dict[str, Any]:
    def pct(value: float | None) -> float:
        return round(100 * value, 2) if value is not None else 0

    return {
        "labels": [
            gettext("Purchased in window %"),
            gettext("Repeat rate %"),
        ],
        "targeted": [pct(results.targeted.response_rate), pct(results.targeted.repeat_rate)],
        "holdout": [pct(results.holdout.response_rate), pct(results.holdout.repeat_rate)],
        "targeted_label": gettext("Targeted"),
        "holdout_label": gettext("Holdout"),
        "burn": _burn_down(campaign),
        "burn_label": gettext("Points awarded (cumulative)"),
        "budget_label": gettext("Budget"),
        "budget": campaign.points_budget,
    }


def _burn_down(campaign: Campaign) -> list[dict[str, Any]]:
    """Cumulative points awarded per day (the budget burn-down), one grouped query."""
    from django.db.models import Sum
    from django.db.models.functions import TruncDate

    per_day = (
        CampaignAward.objects.filter(campaign=campaign, status=CampaignAward.Status.AWARDED)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(points=Sum("points"))
        .order_by("day")
    )
    total, series = 0, []
    for row in per_day:
        total += row["points"]
        series.append({"day": row["day"].isoformat(), "points": total})
    return series


# --------------------------------------------------------------------------------- messages
class PreviewForm(forms.Form):
    member_number = forms.CharField(
        label=_("member number"),
        max_length=20,
        help_text=_("Preview the message as this member would get it, e.g. 5505172360."),
    )

    def clean_member_number(self) -> Member:
        member = Member.objects.filter(
            member_number=self.cleaned_data["member_number"].strip()
        ).first()
        if member is None:
            raise ValidationError(_("No member with this number."))
        return member


@admin.register(MessageTemplate)
class MessageTemplateAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ("name", "kind", "subject", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name", "subject")
    change_form_template = "admin/campaigns/messagetemplate/change_form.html"

    def get_urls(self) -> list:
        own = [
            path(
                "<int:template_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="campaigns_messagetemplate_preview",
            )
        ]
        return own + super().get_urls()

    def preview_view(self, request: HttpRequest, template_id: int) -> HttpResponse:
        template = self.get_object(request, str(template_id))
        if template is None or not self.has_view_permission(request, template):
            raise PermissionDenied
        form = PreviewForm(request.GET or None)
        rendered = None
        if form.is_valid():
            rendered = template_render(
                template,
                member=form.cleaned_data["member_number"],
                payload={"campaign": gettext("(campaign name)"), "points": 100},
            )
        return TemplateResponse(
            request,
            "admin/campaigns/messagetemplate/preview.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("Preview of %(t)s") % {"t": template.name},
                "form": form,
                "template_obj": template,
                "rendered": rendered,
            },
        )


# ---------------------------------------------------------------------------- read-only logs
@admin.register(CampaignAward)
class CampaignAwardAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("created_at", "campaign", "member", "points", "status", "detail")
    list_filter = ("status", "campaign")
    list_select_related = ("campaign", "member")
    search_fields = ("member__member_number", "campaign__name")


@admin.register(ActionEvent)
class ActionEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("occurred_at", "kind", "member", "action_id", "score", "points_awarded")
    list_filter = ("kind",)
    list_select_related = ("member",)
    search_fields = ("member__member_number", "action_id")


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "created_at",
        "referrer",
        "referee",
        "campaign",
        "status",
        "reason",
        "release_at",
    )
    list_filter = ("status",)
    list_select_related = ("referrer", "referee", "campaign")


@admin.register(MessageDelivery)
class MessageDeliveryAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("created_at", "member", "channel", "status", "attempts", "reason", "sent_at")
    list_filter = ("status", "channel")
    list_select_related = ("member",)
    search_fields = ("member__member_number",)
