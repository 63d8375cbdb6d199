"""The KPI dashboard page (marketing and finance) and the read-only daily snapshots."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from analytics.api.views import SELECTORS, kpi_columns
from analytics.dashboard import CSV_TABLES, dashboard_data, default_range
from analytics.exports import kpi_csv
from analytics.models import Dashboard, KpiSnapshot
from analytics.routing import analytics_reads
from analytics.selectors import period_resolve
from analytics.selectors.common import programme_zone
from loyalty.core.admin_mixins import ReadOnlyAdminMixin
from members.models import Store


class DashboardFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("From"),
        widget=forms.DateInput({"type": "date"}, format="%Y-%m-%d"),
        help_text=_("First day of the period, e.g. 2026-11-01."),
    )
    date_to = forms.DateField(
        label=_("To"),
        widget=forms.DateInput({"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Last day, included, e.g. 2026-11-30."),
    )
    store = forms.ModelChoiceField(
        queryset=Store.objects.order_by("code"),
        required=False,
        to_field_name="code",
        empty_label=_("All stores"),
        label=_("Store"),
        help_text=_("Purchases made at this store; members whose home store it is."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to"):
            try:
                self.period = period_resolve(
                    date_from=data["date_from"],
                    date_to=data["date_to"],
                    store=data["store"].code if data.get("store") else None,
                )
            except ValidationError as exc:
                names = {"from": "date_from", "to": "date_to", "store": "store"}
                for field, messages in exc.message_dict.items():
                    self.add_error(names.get(field), messages)
        return data


def _form(request: HttpRequest) -> DashboardFilterForm:
    if request.GET:
        return DashboardFilterForm(request.GET)
    date_from, date_to = default_range(timezone.now().astimezone(programme_zone()).date())
    return DashboardFilterForm({"date_from": date_from, "date_to": date_to})


def _errors(form: DashboardFilterForm) -> JsonResponse:
    return JsonResponse(
        {
            "code": "validation_error",
            "message": str(_("Check the filters.")),
            "extra": {"fields": form.errors.get_json_data()},
        },
        status=400,
    )


@admin.register(Dashboard)
class DashboardAdmin(ModelAdmin):
    """The KPI dashboard: one page, its chart data (JSON) and CSV downloads. Needs
    analytics.view_dashboard; the downloads need analytics.export_kpis."""

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.has_perm("analytics.view_dashboard")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_urls(self) -> list:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name=f"{info}_changelist"),
            path("data/", wrap(self.data_view), name=f"{info}_data"),
            path("csv/<slug:table>/", wrap(self.csv_view), name=f"{info}_csv"),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = _form(request)
        form.is_valid()
        can_export = request.user.has_perm("analytics.export_kpis")
        return TemplateResponse(
            request,
            "admin/analytics/dashboard.html",
            {
                **self.admin_site.each_context(request),
                "title": _("KPI dashboard"),
                "opts": self.opts,
                "form": form,
                "data_url": reverse("admin:analytics_dashboard_data"),
                "csv_url": reverse("admin:analytics_dashboard_csv", args=["TABLE"]),
                "csv_tables": CSV_TABLES if can_export else (),
            },
        )

    def data_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = DashboardFilterForm(request.GET)
        if not form.is_valid():
            return _errors(form)
        with analytics_reads():
            data = dashboard_data(form.period)
        return JsonResponse(data)

    def csv_view(self, request: HttpRequest, table: str) -> HttpResponse:
        if not request.user.has_perm("analytics.export_kpis"):
            raise PermissionDenied
        if table not in SELECTORS:
            return JsonResponse(
                {"code": "not_found", "message": str(_("No such table.")), "extra": {}}, status=404
            )
        form = DashboardFilterForm(request.GET)
        if not form.is_valid():
            return _errors(form)
        period = form.period
        with analytics_reads():
            body = kpi_csv(SELECTORS[table](period), kpi_columns(table))
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        filename = f"{table}_{period.date_from}_{period.date_to}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


@admin.register(KpiSnapshot)
class KpiSnapshotAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "day",
        "store_label",
        "purchases",
        "revenue",
        "new_members",
        "points_issued",
        "points_redeemed",
        "outstanding_points",
    )
    list_filter = ("day",)
    list_select_related = ("store",)
    date_hierarchy = "day"

    @admin.display(description=_("store"), ordering="store__code")
    def store_label(self, obj: KpiSnapshot) -> str:
        return str(obj.store) if obj.store_id else str(_("All stores"))
