"""KPI API: GET /api/v1/analytics/<kpi>/?from=&to=[&store=][&tier=] answers
{"filters": {...}, "data": <the KPI>}; GET .../<kpi>/csv/ the same as a CSV table.

One view class per KPI (generated below from one template, so the twenty classes cannot
drift apart): each runs its selector inside analytics_reads() (the read replica when one is
configured) and declares its exact output shape for the OpenAPI schema and the contract test.
"""

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.exports import kpi_csv
from analytics.routing import analytics_reads
from analytics.selectors import KPIS, REPORTS, Period, period_resolve
from analytics.selectors.snapshots import SERIES_FIELDS, snapshot_series
from loyalty.core.api.mixins import ApiAuthMixin
from loyalty.core.api.strict import StrictSerializer
from loyalty.core.scopes import ANALYTICS_READ

FilterSerializer = type(
    "KpiFilterSerializer",
    (StrictSerializer,),
    {
        "from": serializers.DateField(help_text="First day (programme time zone), 2026-01-01."),
        "to": serializers.DateField(help_text="Last day, included, 2026-01-31."),
        "store": serializers.CharField(
            max_length=20, required=False, help_text="Store code, e.g. S001."
        ),
        "tier": serializers.CharField(
            max_length=30, required=False, help_text="Tier code (held at the end), e.g. gold."
        ),
    },
)


def _rate() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)


def _money(null: bool = False) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=null)


def _ints(*names: str) -> dict[str, serializers.IntegerField]:
    return {name: serializers.IntegerField() for name in names}


def _ser(cls_name: str, /, **fields: Any) -> type[serializers.Serializer]:
    return type(cls_name, (serializers.Serializer,), fields)


NotAvailable = _ser(
    "KpiNotAvailable",
    available=serializers.BooleanField(),
    status=serializers.CharField(),
    reason=serializers.CharField(),
)
AovGroup = _ser(
    "AverageOrderValueGroup",
    purchases=serializers.IntegerField(),
    revenue=_money(),
    aov=_money(null=True),
)
SHAPES: dict[str, Any] = {
    "enrolment_rate": _ser(
        "EnrolmentRate",
        **_ints("new_members", "customers", "member_customers", "non_member_customers"),
        rate=_rate(),
    )(),
    "member_transaction_share": _ser(
        "MemberTransactionShare", **_ints("transactions", "member_transactions"), share=_rate()
    )(),
    "active_members": _ser(
        "ActiveMembers",
        **_ints("active_members", "members", "days"),
        as_of=serializers.DateTimeField(),
        share=_rate(),
    )(),
    "monthly_active_members": _ser(
        "MonthlyActiveMembers",
        month=serializers.CharField(),
        active_members=serializers.IntegerField(),
    )(many=True),
    "repeat_purchase_rate": _ser(
        "RepeatPurchaseRate", **_ints("buyers", "repeat_buyers"), rate=_rate()
    )(),
    "average_order_value": _ser(
        "AverageOrderValue", members=AovGroup(), non_members=AovGroup(), all=AovGroup()
    )(),
    "tier_distribution": _ser(
        "TierDistributionRow",
        tier=serializers.CharField(allow_blank=True),
        name=serializers.CharField(),
        members=serializers.IntegerField(),
        share=_rate(),
    )(many=True),
    "earn_burn": _ser(
        "EarnBurn",
        **_ints("issued", "reversed", "redeemed", "expired", "adjusted", "net_change"),
        redemption_rate=_rate(),
        breakage_rate=_rate(),
    )(),
    "points_liability": _ser(
        "PointsLiability",
        as_of=serializers.DateTimeField(),
        **_ints("outstanding_points", "available_points", "pending_points"),
        point_value=serializers.DecimalField(max_digits=10, decimal_places=4),
        currency=serializers.CharField(),
        value=_money(),
        pending_value=_money(),
    )(),
    "customer_lifetime_value": _ser(
        "CustomerLifetimeValue",
        members=serializers.IntegerField(),
        net_revenue=_money(),
        average=_money(null=True),
        by_tier=_ser(
            "LifetimeValueByTier",
            tier=serializers.CharField(allow_blank=True),
            name=serializers.CharField(),
            members=serializers.IntegerField(),
            net_revenue=_money(),
            average=_money(),
        )(many=True),
        by_cohort=_ser(
            "LifetimeValueByCohort",
            cohort=serializers.CharField(),
            members=serializers.IntegerField(),
            net_revenue=_money(),
            average=_money(),
        )(many=True),
    )(),
    "lapsed_members": _ser(
        "LapsedMembers",
        **_ints("days", "lapsed_members", "never_purchased", "lapsed_at_start", "won_back"),
        win_back_rate=_rate(),
        campaign_win_back=NotAvailable(),
    )(),
    "net_promoter_score": NotAvailable(),
    "referrals": _ser(
        "Referrals",
        **_ints("referred_enrolments", "first_purchases", "converted", "referrers"),
        conversion_rate=_rate(),
    )(),
    "campaign_lift": NotAvailable(),
    "members_by_country": _ser(
        "MembersByCountry",
        country=serializers.CharField(allow_blank=True),
        members=serializers.IntegerField(),
    )(many=True),
    "top_rewards": _ser(
        "TopReward",
        reward=serializers.CharField(),
        name=serializers.CharField(),
        **_ints("redemptions", "points"),
    )(many=True),
    "paid_membership": _ser(
        "PaidMembership",
        **_ints("paid_members", "terms_due", "terms_renewed"),
        renewal_rate=_rate(),
        fee_revenue=_money(),
        refunds=_money(),
        net_fee_revenue=_money(),
    )(),
    "liability": _ser(
        "LiabilityMonth",
        month=serializers.CharField(),
        **_ints("opening", "issued", "reversed", "redeemed", "expired", "adjusted", "closing"),
        **{
            f"{name}_value": _money()
            for name in ("opening", "closing", "issued", "reversed", "redeemed", "expired")
        },
        adjusted_value=_money(),
    )(many=True),
    "cohorts": _ser(
        "Cohort",
        cohort=serializers.CharField(),
        members=serializers.IntegerField(),
        retention=_ser("CohortMonth", **_ints("month", "members"), share=_rate())(many=True),
    )(many=True),
    "rfm": _ser(
        "RfmCounts",
        grid=_ser("RfmCell", **_ints("recency", "frequency", "members"))(many=True),
        segments=_ser(
            "RfmSegment",
            segment=serializers.CharField(),
            label=serializers.CharField(),
            members=serializers.IntegerField(),
            share=_rate(),
            revenue=_money(),
        )(many=True),
    )(),
    "daily": _ser(
        "DailyFigures",
        day=serializers.DateField(),
        source=serializers.ChoiceField(choices=["snapshot", "live", "missing"]),
        **{
            name: _money()
            if "revenue" in name or name == "returned_amount"
            else serializers.IntegerField()
            for name in SERIES_FIELDS
        },
    )(many=True),
}
SELECTORS: dict[str, Callable[[Period], Any]] = {**KPIS, **REPORTS, "daily": snapshot_series}
SUMMARIES = {
    "daily": "Daily figures (nightly snapshots; today and unbuilt days computed live).",
    "liability": "Points liability per month: opening, movements, closing, values (finance).",
    "cohorts": "Monthly enrolment cohorts with retention by month since enrolment.",
    "rfm": "RFM grid (recency x frequency) and segment counts.",
}

FiltersOut = _ser(
    "KpiFilters",
    **{
        "from": serializers.DateField(),
        "to": serializers.DateField(),
        "store": serializers.CharField(allow_null=True),
        "tier": serializers.CharField(allow_null=True),
    },
)


class CsvRenderer(BaseRenderer):
    """Lets a client ask for text/csv; errors are still JSON documents (CsvErrorsAsJson)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):  # type: ignore[no-untyped-def]
        return data.encode() if isinstance(data, str) else json.dumps(data).encode()


class CsvErrorsAsJson:
    """A refused CSV request (even with ?format=csv) answers the standard JSON error document,
    with a JSON content type, like every other error under /api/."""

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # type: ignore[misc]
        self.request.accepted_renderer = JSONRenderer()  # type: ignore[attr-defined]
        self.request.accepted_media_type = JSONRenderer.media_type  # type: ignore[attr-defined]
        return response  # type: ignore[no-any-return]


def _period(request: Request) -> Period:
    params = FilterSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    data = params.validated_data
    return period_resolve(
        date_from=data["from"], date_to=data["to"], store=data.get("store"), tier=data.get("tier")
    )


def kpi_compute(name: str, period: Period) -> Any:
    """The KPI `name` for the period, read through the analytics database (replica or primary)."""
    with analytics_reads():
        return SELECTORS[name](period)


def kpi_columns(name: str) -> list[str]:
    """The scalar fields of a KPI's rows: the header of its CSV when it has no row."""
    shape = SHAPES[name]
    fields = getattr(shape, "child", shape).fields
    return [
        key for key, field in fields.items() if not isinstance(field, serializers.BaseSerializer)
    ]


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _make_views(name: str) -> tuple[type[APIView], type[APIView]]:
    shape = SHAPES[name]
    summary = SUMMARIES.get(name) or (SELECTORS[name].__doc__ or name).strip().splitlines()[0]
    output = _ser(f"{_camel(name)}Response", filters=FiltersOut(), data=shape)

    class KpiApi(ApiAuthMixin, APIView):
        required_scope = ANALYTICS_READ

        @extend_schema(
            operation_id=f"analytics_{name}",
            summary=summary,
            description=SELECTORS[name].__doc__ or "",
            parameters=[FilterSerializer],
            responses={200: output},
        )
        def get(self, request: Request) -> Response:
            period = _period(request)
            result = kpi_compute(name, period)
            return Response(output({"filters": period.filters(), "data": result}).data)

    class KpiCsvApi(CsvErrorsAsJson, ApiAuthMixin, APIView):
        required_scope = ANALYTICS_READ
        renderer_classes = [JSONRenderer, CsvRenderer]

        @extend_schema(
            operation_id=f"analytics_{name}_csv",
            summary=f"{summary} As CSV.",
            parameters=[FilterSerializer],
            responses={(200, "text/csv"): OpenApiTypes.STR},
        )
        def get(self, request: Request) -> HttpResponse:
            period = _period(request)
            result = kpi_compute(name, period)
            response = HttpResponse(
                kpi_csv(result, kpi_columns(name)), content_type="text/csv; charset=utf-8"
            )
            filename = f"{name}_{period.date_from}_{period.date_to}.csv"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response

    KpiApi.__name__ = KpiApi.__qualname__ = f"Kpi{_camel(name)}Api"
    KpiCsvApi.__name__ = KpiCsvApi.__qualname__ = f"Kpi{_camel(name)}CsvApi"
    return KpiApi, KpiCsvApi


VIEWS: dict[str, tuple[type[APIView], type[APIView]]] = {
    name: _make_views(name) for name in SELECTORS
}
