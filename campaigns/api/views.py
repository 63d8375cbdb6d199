"""Campaigns API: action events, referral codes, a member's offers, campaigns and their
results, segment counts; and the public unsubscribe page of the e-mails."""

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.messaging import unsubscribe
from campaigns.models import ActionEvent, Campaign
from campaigns.results import campaign_results, results_dict
from campaigns.segments import segment_count
from campaigns.selectors import campaign_get, campaign_list, member_offers, segment_get
from campaigns.services import action_record, referral_code_validate
from loyalty.core.api.mixins import ApiAuthMixin, paginate
from loyalty.core.api.pagination import paginated
from loyalty.core.api.strict import StrictSerializer
from loyalty.core.scopes import (
    ANALYTICS_READ,
    MEMBERS_READ,
    MEMBERS_WRITE,
    TRANSACTIONS_WRITE,
)
from loyalty.ledger.api.views import (
    MEMBER_REQUIRED,
    AwareDateTimeField,
    MemberRefMixin,
    resolve_member,
)
from members.api.access import viewer
from members.selectors import member_get

EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)


class CampaignSerializer(serializers.ModelSerializer):
    segment = serializers.CharField(source="segment.name", allow_null=True, read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "goal",
            "mechanic",
            "status",
            "segment",
            "starts_at",
            "ends_at",
            "priority",
            "stacking",
            "points_budget",
            "points_awarded",
            "holdout_percent",
        ]


class OfferSerializer(serializers.ModelSerializer):
    action = serializers.CharField(help_text="Points for actions: the action that earns.")
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        help_text="Double-points days: only purchases on these weekdays (0 = Monday), in the "
        "programme time zone; empty: every day.",
    )
    dates = serializers.ListField(
        child=serializers.CharField(),
        help_text="Only purchases on these days of every year, month-day (e.g. 11-11).",
    )
    reward = serializers.CharField(
        source="reward.code",
        allow_null=True,
        default=None,
        help_text="Birthday and win-back: the code of the reward given as a voucher (no points "
        "charged) instead of bonus points.",
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "goal",
            "mechanic",
            "starts_at",
            "ends_at",
            "multiplier",
            "bonus_points",
            "min_spend",
            "purchase_number",
            "action",
            "weekdays",
            "dates",
            "reward",
        ]


class ActionEventCreateApi(ApiAuthMixin, APIView):
    """Report a member's action (review, survey with its 0-10 score, share, recycling, app
    download, profile completed). The same (action, action_id) again changes nothing."""

    required_scope = TRANSACTIONS_WRITE

    class InputSerializer(MemberRefMixin):
        schema_constraints = MEMBER_REQUIRED
        action = serializers.ChoiceField(choices=Campaign.Action.choices)
        action_id = serializers.CharField(max_length=64)
        occurred_at = AwareDateTimeField(required=False)
        score = serializers.IntegerField(min_value=0, max_value=10, required=False)

    class OutputSerializer(serializers.ModelSerializer):
        action = serializers.CharField(source="kind")

        class Meta:
            model = ActionEvent
            fields = [
                "id",
                "member_id",
                "action",
                "action_id",
                "occurred_at",
                "score",
                "points_awarded",
            ]

    @extend_schema(
        operation_id="campaign_actions_create",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        before = ActionEvent.objects.filter(
            kind=data["action"], action_id=data["action_id"]
        ).exists()
        event = action_record(
            member=resolve_member(data, request),
            kind=data["action"],
            action_id=data["action_id"],
            occurred_at=data.get("occurred_at") or timezone.now(),
            score=data.get("score"),
        )
        code = status.HTTP_200_OK if before else status.HTTP_201_CREATED
        return Response(self.OutputSerializer(event).data, status=code)


class ReferralCodeValidateApi(ApiAuthMixin, APIView):
    """Check a referral code before enrolling someone with it: the code must name an active
    member, and the new member's e-mail or phone must not be the referrer's (422 / 422
    referral_refused with the reason)."""

    required_scope = MEMBERS_WRITE

    class InputSerializer(StrictSerializer):
        code = serializers.CharField(max_length=12)
        email = serializers.EmailField(required=False)
        phone = serializers.CharField(max_length=20, required=False)

    class OutputSerializer(serializers.Serializer):
        valid = serializers.BooleanField()
        referrer_member_number = serializers.CharField()

    @extend_schema(
        operation_id="campaign_referral_code_validate",
        request=InputSerializer,
        responses={200: OutputSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        referrer = referral_code_validate(**serializer.validated_data)
        return Response({"valid": True, "referrer_member_number": referrer.member_number})


class MemberOfferListApi(ApiAuthMixin, APIView):
    """The active campaigns a member is targeted by now (not held out)."""

    required_scope = MEMBERS_READ

    @extend_schema(
        operation_id="campaign_member_offers", responses={200: OfferSerializer(many=True)}
    )
    def get(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        return Response(OfferSerializer(member_offers(member=member), many=True).data)


class CampaignListApi(ApiAuthMixin, APIView):
    required_scope = ANALYTICS_READ

    class FilterSerializer(StrictSerializer):
        status = serializers.ChoiceField(choices=Campaign.Status.choices, required=False)

    @extend_schema(
        operation_id="campaigns_list",
        parameters=[FilterSerializer],
        responses=paginated(CampaignSerializer),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginate(
            view=self,
            queryset=campaign_list(status=filters.validated_data.get("status")),
            serializer_class=CampaignSerializer,
        )


class GroupSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    purchasers = serializers.IntegerField()
    repeaters = serializers.IntegerField()
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    redemptions = serializers.IntegerField()
    response_rate = serializers.FloatField(allow_null=True)
    repeat_rate = serializers.FloatField(allow_null=True)
    revenue_per_member = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)


class ResultsSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    targeted = GroupSerializer()
    holdout = GroupSerializer()
    participants = serializers.IntegerField()
    points_awarded = serializers.IntegerField()
    points_budget = serializers.IntegerField(allow_null=True)
    lift = serializers.FloatField(allow_null=True, help_text="Percentage points.")
    lift_low = serializers.FloatField(allow_null=True)
    lift_high = serializers.FloatField(allow_null=True)


class CampaignResultsApi(ApiAuthMixin, APIView):
    """Targeted vs holdout over the campaign's window (or start/end), lift with a 95% CI."""

    required_scope = ANALYTICS_READ

    class FilterSerializer(StrictSerializer):
        start = AwareDateTimeField(required=False)
        end = AwareDateTimeField(required=False)

    @extend_schema(
        operation_id="campaign_results",
        parameters=[FilterSerializer],
        responses={200: ResultsSerializer},
    )
    def get(self, request: Request, campaign_id: int) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        campaign = campaign_get(campaign_id=campaign_id)
        for name, value in filters.validated_data.items():
            if not EARLIEST <= value.date() <= LATEST:
                raise DjangoValidationError({name: [_("A date from 1900-01-01 to 2999-12-31.")]})
        results = campaign_results(campaign, **filters.validated_data)
        return Response(ResultsSerializer(results_dict(results)).data)


class SegmentCountApi(ApiAuthMixin, APIView):
    """How many members a segment holds now, or as of a date."""

    required_scope = ANALYTICS_READ

    class FilterSerializer(StrictSerializer):
        as_of = serializers.DateField(required=False)

    class OutputSerializer(serializers.Serializer):
        segment_id = serializers.IntegerField()
        as_of = serializers.DateField(allow_null=True)
        count = serializers.IntegerField()

    @extend_schema(
        operation_id="segment_count",
        parameters=[
            FilterSerializer,
            OpenApiParameter("segment_id", int, location=OpenApiParameter.PATH),
        ],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request, segment_id: int) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        segment = segment_get(segment_id=segment_id)
        as_of = filters.validated_data.get("as_of")
        if as_of is not None and not EARLIEST <= as_of <= LATEST:  # a rule the schema cannot state
            raise DjangoValidationError({"as_of": [_("A date from 1900-01-01 to 2999-12-31.")]})
        return Response(
            {"segment_id": segment.pk, "as_of": as_of, "count": segment_count(segment, as_of=as_of)}
        )


@csrf_exempt  # the link is the credential (signed); one-click unsubscribe POSTs (RFC 8058)
def unsubscribe_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation button (mail scanners follow links); POST withdraws consent."""
    context: dict[str, Any] = {"token": token, "done": False, "invalid": False}
    if request.method == "POST":
        member = unsubscribe(token=token)
        context["done"], context["invalid"] = member is not None, member is None
    return render(
        request, "campaigns/unsubscribe.html", context, status=400 if context["invalid"] else 200
    )
