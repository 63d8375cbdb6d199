"""Rewards admin: the catalogue with stock and redemption counts, partner-code upload, and
redemptions/vouchers with filters, actions that go through the services, and a CSV export."""

import csv
import io
from datetime import datetime, time, timedelta
from decimal import Decimal
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
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportModelAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from loyalty.core import csvsafe
from loyalty.core.admin_mixins import AuditedAdminMixin, ReadOnlyAdminMixin, SingletonAdminMixin
from loyalty.core.exceptions import ApplicationError
from loyalty.core.formatting import format_day_month
from loyalty.ledger.models import ProgrammeSettings
from members.admin import MemberAdmin
from members.admin_scope import MemberScopedAdminMixin
from members.models import Member
from rewards.models import (
    POINTS_COST_MESSAGE,
    POINTS_COST_VALIDATORS,
    Cause,
    Donation,
    Redemption,
    Reward,
    RewardCode,
    RewardsSettings,
    Voucher,
    VoucherBatch,
)
from rewards.resources import RewardResource
from rewards.selectors import (
    DONATION_PERIODS,
    donation_totals,
    format_day,
    programme_zone,
    redemption_list_for_export,
    reward_list_with_counts,
    voucher_last_day,
)
from rewards.services import (
    redemption_cancel,
    reward_codes_upload,
    reward_restock,
    voucher_batch_import,
    voucher_issue,
    voucher_mark_used,
    voucher_sell,
    voucher_void,
)

MAX_CODES_FILE = 5 * 1024 * 1024


def voucher_valid_until_text(voucher: Voucher) -> str:
    """The voucher's last day in the programme's time zone, as tills and the API show it."""
    redemption = voucher.redemption
    if voucher.status == Voucher.Status.USED and redemption and redemption.kind == "points_payment":
        return "—"
    tz = getattr(voucher, "programme_tz", None)  # annotated by the list querysets: no N+1
    return format_day(voucher_last_day(voucher.expires_at, ZoneInfo(tz) if tz else None))


def voucher_reward_text(voucher: Voucher) -> str:
    reward = voucher.reward
    if reward is not None:
        return reward.name
    return f"Paid {voucher.redemption.value} with points"  # type: ignore[union-attr]


def with_programme_tz(queryset: QuerySet) -> QuerySet:
    """Annotate each row with the programme's time zone (one subquery, not a query a row)."""
    return queryset.annotate(
        programme_tz=Subquery(ProgrammeSettings.objects.filter(pk=1).values("time_zone")[:1])
    )


def _errors(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    raise exc


@admin.register(RewardsSettings)
class RewardsSettingsAdmin(AuditedAdminMixin, SingletonAdminMixin, ModelAdmin):
    fieldsets = (
        (
            _("Paying with points at the till"),
            {"fields": ("points_payment_minimum", "points_payment_step")},
        ),
        (_("Vouchers"), {"fields": ("voucher_undo_window_days",)}),
        (_("Stock alerts"), {"fields": ("low_stock_email",)}),
    )


def _uploaded_file_name(request: HttpRequest) -> str:
    """The name of the file the form took (its own validation made sure there is one)."""
    upload = request.FILES.get("file")
    return (upload.name if upload is not None else None) or ""


class CodesUploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV or text: one code per line (a header line 'code' is skipped)."),
    )

    def clean_file(self) -> list[str]:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CODES_FILE:
            raise forms.ValidationError(_("The file is larger than 5 MB; split it."))
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
        reader = csv.reader(io.StringIO(text))
        try:
            rows = [row[0] if row else "" for row in reader]
        except csv.Error as exc:  # a field over csv.field_size_limit(), a stray quote
            raise forms.ValidationError(
                _("Line %(line_num)s: %(exc)s.") % {"line_num": reader.line_num, "exc": exc}
            ) from None
        if rows and rows[0].strip().lower() == "code":
            rows = rows[1:]
        if not rows:
            raise forms.ValidationError(_("The file holds no codes."))
        return rows


class RewardAdminForm(forms.ModelForm):
    """The reward form: one message for a bad points cost, and no alert level above the stock."""

    points_cost = forms.IntegerField(
        label=_("Points cost"),
        validators=POINTS_COST_VALIDATORS,
        error_messages={"invalid": POINTS_COST_MESSAGE, "required": POINTS_COST_MESSAGE},
        help_text=Reward._meta.get_field("points_cost").help_text,
    )

    class Meta:
        model = Reward
        fields = ("points_cost", "stock", "low_stock_threshold")  # the admin adds its fieldsets

    def clean(self) -> dict:
        super().clean()  # Form.clean returns self.cleaned_data
        data = self.cleaned_data
        stock, level = data.get("stock"), data.get("low_stock_threshold")
        touched = {"stock", "low_stock_threshold"} & set(self.changed_data)
        # judged when staff set either number: redemptions may take the stock below the level
        # later, and editing the name of a reward that ran low must still save
        if level is not None and touched:
            if stock is None:
                self.add_error(
                    "low_stock_threshold",
                    _(
                        "The stock is unlimited, so there is nothing to run low: set a stock or "
                        "leave the alert level empty."
                    ),
                )
            elif level > stock:
                self.add_error(
                    "low_stock_threshold",
                    _(
                        "The alert level (%(level)s) is above the stock (%(stock)s): the alert would "
                        "go off at once. Choose a level up to %(stock)s."
                    )
                    % {"level": level, "stock": stock},
                )
        return data


def reward_window_words(reward: Reward, *, now: datetime, zone: ZoneInfo) -> str:
    """When a reward can be redeemed, in words: "always", "from 1 Dec", "until 24 Dec",
    "from 1 Dec until 24 Dec", "ended 31 Aug". "until" names the last day it can be redeemed
    (an end at local midnight belongs to the day before); the year shows only when it is not
    this year."""
    this_year = now.astimezone(zone).year

    def day(moment: datetime, *, last: bool = False) -> str:
        local = moment.astimezone(zone)
        at_midnight = local.time() == time.min
        if last and at_midnight:
            local -= timedelta(days=1)  # ends at 00:00: the day before is the last day
        # in the staff language: "3 Dec" / "12月3日", with the year when not this year
        text = format_day(local.date()) if local.year != this_year else format_day_month(local)
        return text if at_midnight else f"{text} {local:%H:%M}"

    start, end = reward.available_from, reward.available_until
    if end is not None and end <= now:
        return str(_("ended %(day)s") % {"day": day(end, last=True)})
    parts = []
    if start is not None and start > now:
        parts.append(str(_("from %(day)s") % {"day": day(start)}))
    if end is not None:
        parts.append(str(_("until %(day)s") % {"day": day(end, last=True)}))
    if reward.daily_hours:
        parts.append(str(_("daily %(hours)s") % {"hours": reward.daily_hours}))
    return " ".join(parts) if parts else str(_("always"))


class RestockForm(forms.Form):
    quantity = forms.IntegerField(label=_("Quantity"), min_value=1, max_value=10_000_000)


@admin.register(Reward)
class RewardAdmin(AuditedAdminMixin, ImportExportModelAdmin, ModelAdmin):
    form = RewardAdminForm
    resource_classes = [RewardResource]
    import_form_class = ImportForm
    export_form_class = ExportForm
    list_display = (
        "name",
        "code",
        "kind",
        "points_cost",
        "visibility",
        "active",
        "stock_display",
        "redeemed",
        "window",
    )
    list_filter = ("active", "kind", "visibility", "min_tier")
    search_fields = ("name", "code", "product_sku")
    list_select_related = ("min_tier",)
    readonly_fields = ("low_stock_alerted_at", "pool")
    actions = ("activate", "deactivate")
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "image", "active", "sort_order")}),
        (
            _("Benefit"),
            {
                "fields": (
                    "kind",
                    "amount_off",
                    "percent_off",
                    "max_discount",
                    "product_sku",
                    "cause",
                )
            },
        ),
        (
            _("Cost and validity"),
            {
                "fields": (
                    "points_cost",
                    "available_from",
                    "available_until",
                    "daily_from",
                    "daily_until",
                    "voucher_valid_days",
                    "refund_points_on_expiry",
                    "vouchers_member_bound",
                )
            },
        ),
        (
            _("Who may redeem"),
            {
                "fields": (
                    "visibility",
                    "min_tier",
                    "limit_per_member",
                    "limit_per_period",
                    "limit_period",
                )
            },
        ),
        (_("Stock"), {"fields": ("stock", "low_stock_threshold", "low_stock_alerted_at", "pool")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return with_programme_tz(reward_list_with_counts())

    @admin.display(description=_("Stock"))
    def stock_display(self, reward: Reward) -> str:
        if reward.kind == Reward.Kind.PARTNER_CODE:
            return str(_("%(n)s codes") % {"n": reward.codes_left})  # type: ignore[attr-defined]
        return str(_("unlimited")) if reward.stock is None else str(reward.stock)

    @admin.display(description=_("Redeemed"), ordering="redeemed")
    def redeemed(self, reward: Reward) -> int:
        return reward.redeemed  # type: ignore[attr-defined]

    @admin.display(description=_("Can be redeemed"), ordering="available_from")
    def window(self, reward: Reward) -> str:
        tz = getattr(reward, "programme_tz", None)  # annotated by get_queryset: no N+1
        zone = ZoneInfo(tz) if tz else programme_zone()
        return reward_window_words(reward, now=timezone.now(), zone=zone)

    @admin.display(description=_("Partner codes / restock"))
    def pool(self, reward: Reward) -> str:
        if not reward.pk:
            return str(_("Save the reward first."))
        links = []
        if reward.kind == Reward.Kind.PARTNER_CODE:
            left = reward.codes.filter(voucher__isnull=True).count()
            url = reverse("admin:rewards_reward_upload_codes", args=[reward.pk])
            links.append(
                format_html(str(_('{} codes left. <a href="{}">Upload codes (CSV)</a>')), left, url)
            )
        if reward.stock is not None:
            url = reverse("admin:rewards_reward_restock", args=[reward.pk])
            links.append(format_html(str(_('<a href="{}">Add stock</a>')), url))
        return format_html(" &middot; ".join(["{}"] * len(links)), *links) if links else "—"

    @admin.action(description=_("Activate selected rewards"))
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = Reward.objects.filter(pk__in=queryset.values("pk")).update(active=True)
        self.message_user(
            request, _("%(count)s reward(s) active.") % {"count": count}, level=messages.SUCCESS
        )

    @admin.action(description=_("Deactivate selected rewards"))
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = Reward.objects.filter(pk__in=queryset.values("pk")).update(active=False)
        self.message_user(
            request, _("%(count)s reward(s) withdrawn.") % {"count": count}, level=messages.SUCCESS
        )

    def get_urls(self) -> list:
        own = [
            path(
                "<int:reward_id>/upload-codes/",
                self.admin_site.admin_view(self.upload_codes_view),
                name="rewards_reward_upload_codes",
            ),
            path(
                "<int:reward_id>/restock/",
                self.admin_site.admin_view(self.restock_view),
                name="rewards_reward_restock",
            ),
        ]
        return own + super().get_urls()

    def _page(
        self, request: HttpRequest, reward: Reward, title: str, form: forms.Form, **extra: object
    ) -> HttpResponse:
        return TemplateResponse(
            request,
            "admin/rewards/reward_form_page.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "reward": reward,
                "form": form,
                "opts": self.model._meta,
                **extra,
            },
        )

    def upload_codes_view(self, request: HttpRequest, reward_id: int) -> HttpResponse:
        reward = get_object_or_404(Reward, pk=reward_id)
        if not self.has_change_permission(request, reward):
            return HttpResponse(status=403)
        form = CodesUploadForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            try:
                report = reward_codes_upload(
                    reward=reward,
                    codes=form.cleaned_data["file"],
                    batch=_uploaded_file_name(request),
                )
            except ValidationError as exc:
                form.add_error(None, "; ".join(exc.messages))
            else:
                self.message_user(
                    request,
                    _(
                        "Added %(added)s code(s); %(duplicates)s already in the pool; %(len)s row(s) refused."
                    )
                    % {
                        "added": report["added"],
                        "duplicates": report["duplicates"],
                        "len": len(report["errors"]),
                    },
                    level=messages.WARNING if report["errors"] else messages.SUCCESS,
                )
        return self._page(
            request,
            reward,
            _("Upload partner codes: %(name)s") % {"name": reward.name},
            form,
            report=report,
            multipart=True,
        )

    def restock_view(self, request: HttpRequest, reward_id: int) -> HttpResponse:
        reward = get_object_or_404(Reward, pk=reward_id)
        if not self.has_change_permission(request, reward):
            return HttpResponse(status=403)
        form = RestockForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            if reward.stock is None:
                form.add_error(None, _("This reward has unlimited stock."))
            else:
                reward = reward_restock(
                    reward=reward, quantity=form.cleaned_data["quantity"], actor=request.user
                )
                self.message_user(
                    request,
                    _("Stock of %(name)s is now %(stock)s.")
                    % {"name": reward.name, "stock": reward.stock},
                    level=messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:rewards_reward_change", args=[reward.pk])
                )
        return self._page(request, reward, _("Add stock: %(name)s") % {"name": reward.name}, form)


@admin.register(RewardCode)
class RewardCodeAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("code", "reward", "batch", "voucher", "created_at")
    list_filter = ("reward", ("voucher", admin.EmptyFieldListFilter))
    search_fields = ("code",)
    list_select_related = ("reward", "voucher")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text=_("Kept with the record and your name."))


def _reason_action(
    modeladmin: ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str | Promise,
    apply: object,
    form_class: type[forms.Form] | None = None,
) -> HttpResponse | None:
    """An action that asks for a reason (or the fields of `form_class`) on an intermediate page,
    then calls the service per row (with the reason, or with the form's cleaned data)."""
    form = (form_class or ReasonForm)(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        done = 0
        for obj in queryset:
            try:
                value = form.cleaned_data if form_class else form.cleaned_data["reason"]
                apply(obj, value)  # type: ignore[operator]
                done += 1
            except (ApplicationError, ValidationError) as exc:
                modeladmin.message_user(
                    request,
                    _("%(obj)s: %(errors)s") % {"obj": obj, "errors": _errors(exc)},
                    level=messages.ERROR,
                )
        if done:
            modeladmin.message_user(
                request,
                _("%(title)s: %(done)s done.") % {"title": title, "done": done},
                level=messages.SUCCESS,
            )
        return None
    return TemplateResponse(
        request,
        "admin/rewards/reason_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "form": form,
            "objects": queryset,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )


@admin.register(Redemption)
class RedemptionAdmin(MemberScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "member_link",
        "what",
        "points",
        "value",
        "status",
        "channel",
        "store",
        "voucher_code",
    )
    list_filter = (
        "status",
        "kind",
        "channel",
        "reward",
        ("created_at", admin.DateFieldListFilter),
        "store",
    )
    search_fields = ("member__member_number", "voucher__code", "reward__code", "reward__name")
    list_select_related = ("member", "reward", "voucher", "store")
    date_hierarchy = "created_at"
    actions = ("cancel_redemptions", "export_csv")
    show_full_result_count = False

    @admin.display(description=_("Member"), ordering="member__member_number")
    def member_link(self, redemption: Redemption) -> str:
        url = reverse("admin:members_member_change", args=[redemption.member_id])
        return format_html('<a href="{}">{}</a>', url, redemption.member.member_number)

    @admin.display(description=_("Reward"))
    def what(self, redemption: Redemption) -> str:
        return redemption.reward.name if redemption.reward else "Paid with points"

    @admin.display(description=_("Voucher"))
    def voucher_code(self, redemption: Redemption) -> str:
        voucher = getattr(redemption, "voucher", None)
        return f"{voucher.display_code} ({voucher.status})" if voucher else "—"

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description=_("Cancel (points back, stock restored)"), permissions=["cancel"])
    def cancel_redemptions(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return _reason_action(
            self,
            request,
            queryset.select_related("member"),
            action="cancel_redemptions",
            title=_("Cancel redemptions"),
            apply=lambda r, reason: redemption_cancel(
                redemption=r, reason=reason, actor=request.user
            ),
        )

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("rewards.cancel_redemption")

    @admin.action(description=_("Export selected redemptions as CSV"), permissions=["export"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return redemptions_csv(redemption_list_for_export().filter(pk__in=queryset.values("pk")))

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("rewards.export_redemption")


def redemptions_csv(queryset: QuerySet) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="redemptions.csv"'
    writer = csvsafe.writer(response)
    writer.writerow(
        [
            "id",
            "created_at",
            "member_number",
            "kind",
            "reward_code",
            "reward_name",
            "points",
            "value",
            "status",
            "channel",
            "store",
            "voucher",
            "voucher_status",
            "order_ref",
            "cancelled_at",
            "cancel_reason",
        ]
    )
    for r in queryset.iterator(chunk_size=2000):
        voucher = getattr(r, "voucher", None)
        writer.writerow(
            [
                r.pk,
                r.created_at.isoformat(),
                r.member.member_number,
                r.kind,
                r.reward.code if r.reward else "",
                r.reward.name if r.reward else "",
                r.points,
                r.value if r.value is not None else "",
                r.status,
                r.channel,
                r.store.code if r.store else "",
                voucher.display_code if voucher else "",
                voucher.status if voucher else "",
                voucher.order_ref if voucher else "",
                r.cancelled_at.isoformat() if r.cancelled_at else "",
                r.cancel_reason,
            ]
        )
    return response


@admin.register(Voucher)
class VoucherAdmin(MemberScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "display_code",
        "member_link",
        "reward_name",
        "status",
        "valid_until",
        "used_at",
        "order_ref",
    )
    list_filter = (
        "status",
        ("expires_at", admin.DateFieldListFilter),
        ("used_at", admin.DateFieldListFilter),
        "redemption__reward",
    )
    search_fields = ("code", "order_ref", "member__member_number", "partner_code")
    list_select_related = ("member", "redemption__reward", "batch__reward", "gift_reward")
    list_display_links = ("display_code",)
    actions = ("mark_used", "cancel", "issue_to_member", "sell")
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return with_programme_tz(super().get_queryset(request))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple:
        # staff type codes as printed (with dashes): search the stored form too
        from rewards.codes import voucher_code_lookup

        normal = voucher_code_lookup(search_term)
        if normal:
            return queryset.filter(code=normal), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("Member"), ordering="member__member_number")
    def member_link(self, voucher: Voucher) -> str:
        if voucher.member_id is None or voucher.member is None:  # pre-printed, or sold to a bearer
            return str(_("sold (anyone)")) if voucher.sale_ref else str(_("not issued"))
        url = reverse("admin:members_member_change", args=[voucher.member_id])
        return format_html('<a href="{}">{}</a>', url, voucher.member.member_number)

    @admin.display(description=_("Reward"))
    def reward_name(self, voucher: Voucher) -> str:
        return voucher_reward_text(voucher)

    @admin.display(description=_("Valid until (end of day)"), ordering="expires_at")
    def valid_until(self, voucher: Voucher) -> str:
        return voucher_valid_until_text(voucher)

    @admin.action(description=_("Mark used (with a reason)"), permissions=["cancel"])
    def mark_used(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return _reason_action(
            self,
            request,
            queryset,
            action="mark_used",
            title=_("Mark vouchers used"),
            apply=lambda v, reason: voucher_mark_used(voucher=v, reason=reason, actor=request.user),
        )

    @admin.action(description=_("Cancel (points back)"), permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return _reason_action(
            self,
            request,
            queryset.select_related("redemption__member"),
            action="cancel",
            title=_("Cancel vouchers"),
            apply=lambda v, reason: (
                redemption_cancel(redemption=v.redemption, reason=reason, actor=request.user)
                if v.redemption_id
                else voucher_void(voucher=v, reason=reason, actor=request.user)
            ),
        )

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("rewards.cancel_redemption")

    @admin.action(description=_("Issue to a member (pre-printed)"), permissions=["cancel"])
    def issue_to_member(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return _reason_action(
            self,
            request,
            queryset,
            action="issue_to_member",
            title=str(_("Issue pre-printed vouchers to a member")),
            form_class=IssueForm,
            apply=lambda v, data: voucher_issue(
                code=v.code, member=data["member"], actor=request.user, note=data["note"]
            ),
        )

    @admin.action(description=_("Sell (pre-printed)"), permissions=["cancel"])
    def sell(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return _reason_action(
            self,
            request,
            queryset,
            action="sell",
            title=str(_("Sell pre-printed vouchers")),
            form_class=SellForm,
            apply=lambda v, data: voucher_sell(
                code=v.code, sale_ref=data["sale_ref"], actor=request.user
            ),
        )


class IssueForm(forms.Form):
    member_number = forms.CharField(
        label=_("Member number"),
        max_length=20,
        help_text=_("The card number of the member who gets the voucher, e.g. 100000017."),
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=300,
        required=False,
        help_text=_("Why, e.g. 'apology for a late delivery'."),
    )

    def clean(self) -> dict:
        super().clean()  # Form.clean returns self.cleaned_data
        data = self.cleaned_data
        number = (data.get("member_number") or "").strip()
        member = Member.objects.filter(member_number=number).first() if number else None
        if number and member is None:
            self.add_error("member_number", _("No member has this number."))
        data["member"] = member
        return data


class SellForm(forms.Form):
    sale_ref = forms.CharField(
        label=_("Sale receipt"),
        max_length=100,
        help_text=_("The receipt number of the sale, e.g. LDN01-2026-00042."),
    )


class VoucherBatchImportForm(forms.Form):
    name = forms.CharField(
        label=_("Batch name"),
        max_length=120,
        help_text=VoucherBatch._meta.get_field("name").help_text,
    )
    reward = forms.ModelChoiceField(
        label=_("Reward"),
        queryset=Reward.objects.order_by("name"),
        help_text=VoucherBatch._meta.get_field("reward").help_text,
    )
    valid_until = forms.DateField(
        label=_("Valid until"),
        help_text=VoucherBatch._meta.get_field("valid_until").help_text,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    file = forms.FileField(
        label=_("Codes (CSV)"),
        help_text=_("One code per line, 6 to 20 letters and digits, e.g. GIFT2026A0001."),
    )

    def clean_file(self) -> list[str]:
        return CodesUploadForm.clean_file(self)  # type: ignore[arg-type]


@admin.register(VoucherBatch)
class VoucherBatchAdmin(AuditedAdminMixin, ModelAdmin):
    """Pre-printed codes: 'Add' imports a CSV through voucher_batch_import (all or nothing)."""

    list_display = ("name", "reward", "valid_until", "unissued", "issued", "used", "created_at")
    list_select_related = ("reward",)
    search_fields = ("name", "reward__name", "file_name")
    readonly_fields = ("name", "reward", "valid_until", "file_name", "created_by")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_unissued=Count("vouchers", filter=Q(vouchers__status="unissued")),
                n_issued=Count("vouchers", filter=Q(vouchers__status="issued")),
                n_used=Count("vouchers", filter=Q(vouchers__status="used")),
            )
        )

    @admin.display(description=_("Not issued"), ordering="n_unissued")
    def unissued(self, batch: VoucherBatch) -> int:
        return batch.n_unissued  # type: ignore[attr-defined]

    @admin.display(description=_("Issued or sold"), ordering="n_issued")
    def issued(self, batch: VoucherBatch) -> int:
        return batch.n_issued  # type: ignore[attr-defined]

    @admin.display(description=_("Used"), ordering="n_used")
    def used(self, batch: VoucherBatch) -> int:
        return batch.n_used  # type: ignore[attr-defined]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        form = VoucherBatchImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report = voucher_batch_import(
                    name=data["name"],
                    reward=data["reward"],
                    valid_until=data["valid_until"],
                    codes=data["file"],
                    actor=request.user,
                    file_name=_uploaded_file_name(request),
                )
            except ValidationError as exc:
                for field, messages_ in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages_)
            else:
                if report.batch is not None:
                    self.message_user(
                        request,
                        _("Imported %(n)s pre-printed voucher(s) into “%(batch)s”.")
                        % {"n": report.added, "batch": report.batch.name},
                        level=messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:rewards_voucherbatch_changelist"))
        return TemplateResponse(
            request,
            "admin/rewards/voucher_batch_import.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Import pre-printed voucher codes"),
                "form": form,
                "report": report,
                "opts": self.model._meta,
            },
            status=200 if report is None or report.batch is not None else 400,
        )


class MemberVoucherInline(ReadOnlyAdminMixin, TabularInline):
    """The member page lists their latest vouchers (members cannot import rewards)."""

    model = Voucher
    fk_name = "member"
    fields = ("display_code", "reward_name", "status", "valid_until", "used_at", "order_ref")
    readonly_fields = fields
    verbose_name_plural = _("Vouchers")
    can_delete = False
    show_change_link = True
    max_num = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return with_programme_tz(super().get_queryset(request).select_related("redemption__reward"))

    @admin.display(description=_("Reward"))
    def reward_name(self, voucher: Voucher) -> str:
        return voucher_reward_text(voucher)

    @admin.display(description=_("Valid until (end of day)"))
    def valid_until(self, voucher: Voucher) -> str:
        return voucher_valid_until_text(voucher)


MemberAdmin.inlines = [*MemberAdmin.inlines, MemberVoucherInline]


# ---------------------------------------------------------------------------------- donations
@admin.register(Cause)
class CauseAdmin(AuditedAdminMixin, ModelAdmin):
    list_display = ("name", "code", "kind", "matching", "active", "points_given")
    list_filter = ("active", "kind", "matching")
    search_fields = ("name", "code")
    fieldsets = (
        (None, {"fields": ("code", "name", "description", "kind", "sort_order", "active")}),
        (_("Brand matching"), {"fields": ("matching",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        from django.db.models import Sum

        return super().get_queryset(request).annotate(given=Sum("donations__points"))

    @admin.display(description=_("Points given"), ordering="given")
    def points_given(self, cause: Cause) -> int:
        return getattr(cause, "given", None) or 0

    def get_urls(self) -> list:
        own = [
            path(
                "totals/",
                self.admin_site.admin_view(self.totals_view),
                name="rewards_cause_totals",
            )
        ]
        return own + super().get_urls()

    def totals_view(self, request: HttpRequest) -> HttpResponse:
        """Donations per cause and per period for finance, on screen or as CSV."""
        if not (
            request.user.has_perm("rewards.view_donation")
            or request.user.has_perm("rewards.view_cause")
        ):
            raise PermissionDenied
        form = DonationTotalsForm(request.GET or None)
        rows = []
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            rows = donation_totals(start=data["start"], end=data["end"], period=data["period"])
            if "csv" in request.GET:
                if not request.user.has_perm("rewards.export_donations"):
                    raise PermissionDenied
                return _donation_totals_csv(rows, data)
        elif not form.is_bound:
            rows = donation_totals(period="month")
        return TemplateResponse(
            request,
            "admin/rewards/donation_totals.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Donations per cause"),
                "form": form,
                "rows": rows,
                "total_points": sum(row.points for row in rows),
                "total_value": sum((row.value for row in rows), Decimal("0")),
                "total_matched": sum((row.matched_value for row in rows), Decimal("0")),
                "can_export": request.user.has_perm("rewards.export_donations"),
                "opts": self.model._meta,
            },
        )


class DonationTotalsForm(forms.Form):
    start = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("First day counted (programme time zone); empty: since the first donation."),
    )
    end = forms.DateField(
        label=_("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Last day counted, included; empty: up to today."),
    )
    period = forms.ChoiceField(
        label=_("Per"),
        initial="month",
        choices=[
            ("day", _("day")),
            ("week", _("week")),
            ("month", _("month")),
            ("year", _("year")),
        ],
        help_text=_("One row per cause and per day, week (from Monday), month or year."),
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", _("The last day is before the first day."))
        if data.get("period") not in DONATION_PERIODS:
            data["period"] = "month"
        return data


def _donation_totals_csv(rows: list, data: dict) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"donations-{data['period']}-{data.get('start') or 'all'}-{data.get('end') or 'today'}"
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    out = csvsafe.writer(response)
    out.writerow(
        [
            "period_start",
            "cause_code",
            "cause",
            "donations",
            "members",
            "points",
            "value",
            "brand_matched_points",
            "brand_matched_value",
        ]
    )
    for row in rows:
        out.writerow(
            [
                row.period.isoformat(),
                row.cause_code,
                row.cause_name,
                row.donations,
                row.members,
                row.points,
                row.value,
                row.matched_points,
                row.matched_value,
            ]
        )
    return response


@admin.register(Donation)
class DonationAdmin(MemberScopedAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("created_at", "member", "cause", "points", "value", "matched_points")
    list_filter = ("cause",)
    search_fields = ("member__member_number", "member__last_name", "cause__name")
    list_select_related = ("member", "cause")
    date_hierarchy = "created_at"
