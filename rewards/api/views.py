"""Rewards API: catalogue, redeem, pay with points, cancel, and voucher check/consume/undo."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.core.api.mixins import ApiAuthMixin, paginate
from loyalty.core.api.pagination import paginated
from loyalty.core.api.strict import StrictSerializer
from loyalty.core.scopes import MEMBERS_READ, REWARDS_REDEEM, VOUCHERS_CONSUME
from loyalty.ledger.api.views import (
    IDEMPOTENCY_HEADER,
    MEMBER_REQUIRED,
    BalanceSerializer,
    MemberRefMixin,
    idempotency_header,
    resolve_member,
    store_from_request,
)
from loyalty.ledger.selectors import account_balance
from members.api.access import viewer
from members.selectors import member_get, member_visible
from rewards.exceptions import RedemptionNotFound
from rewards.models import Redemption, Reward, Voucher
from rewards.selectors import (
    cause_get,
    cause_list_open,
    programme_zone,
    redemption_batch,
    redemption_get,
    reward_catalogue_for_member,
    reward_get,
    reward_list_public,
    voucher_check,
    voucher_last_day,
    voucher_list_for_member,
)
from rewards.services import (
    MAX_QUANTITY,
    points_payment_create,
    redemption_cancel,
    redemption_create,
    voucher_consume,
    voucher_consume_undo,
    voucher_issue,
    voucher_sell,
)

CODE_PATH = OpenApiParameter(
    "code", str, location=OpenApiParameter.PATH, description="Voucher code (dashes optional)."
)
CHANNELS = Redemption.Channel.choices


class RewardSerializer(serializers.ModelSerializer):
    min_tier: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    benefit = serializers.CharField(read_only=True)
    cause: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text="Donation rewards: the cause they go to (null: the member chooses).",
    )
    daily_from = serializers.TimeField(
        read_only=True,
        allow_null=True,
        help_text="Flash hours: redeemable from this time of day (programme time zone).",
    )
    daily_until = serializers.TimeField(
        read_only=True,
        allow_null=True,
        help_text="Flash hours: no longer redeemable from this time of day.",
    )

    class Meta:
        model = Reward
        fields = [
            "id",
            "code",
            "name",
            "description",
            "kind",
            "benefit",
            "points_cost",
            "amount_off",
            "percent_off",
            "max_discount",
            "product_sku",
            "visibility",
            "min_tier",
            "stock",
            "available_from",
            "available_until",
            "daily_from",
            "daily_until",
            "cause",
            "voucher_valid_days",
        ]


class VoucherSerializer(serializers.Serializer):
    code = serializers.CharField(source="display_code")
    status = serializers.ChoiceField(choices=Voucher.Status.choices)
    partner_code = serializers.CharField()
    expires_at = serializers.DateTimeField(
        help_text="First instant the voucher no longer works (local midnight after valid_until)."
    )
    valid_until = serializers.SerializerMethodField(
        help_text="Last day the voucher works, all day, in the programme's time zone."
    )
    used_at = serializers.DateTimeField(allow_null=True)
    order_ref = serializers.CharField()
    reward = serializers.SerializerMethodField()
    points = serializers.SerializerMethodField(help_text="Points spent on it (0: pre-printed).")
    redemption_id = serializers.IntegerField(allow_null=True)
    member_bound = serializers.BooleanField(help_text="Only its member may use it.")

    def get_reward(self, voucher: Voucher) -> str | None:
        reward = voucher.reward
        return reward.code if reward else None

    def get_points(self, voucher: Voucher) -> int:
        return voucher.redemption.points if voucher.redemption else 0

    def get_valid_until(self, voucher: Voucher) -> date:
        if "zone" not in self.context:
            self.context["zone"] = programme_zone()
        return voucher_last_day(voucher.expires_at, self.context["zone"])


class DonationSerializer(serializers.Serializer):
    cause = serializers.CharField(source="cause.code")
    cause_name = serializers.CharField(source="cause.name")
    points = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=12, decimal_places=2)
    matched_points = serializers.IntegerField(help_text="The brand's matching gift (not points).")
    matched_value = serializers.DecimalField(max_digits=12, decimal_places=2)


class RedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Redemption.Kind.choices)
    status = serializers.ChoiceField(choices=Redemption.Status.choices)
    member_id = serializers.IntegerField()
    reward = serializers.SerializerMethodField()
    points = serializers.IntegerField()
    value = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    channel = serializers.CharField()
    created_at = serializers.DateTimeField()
    cancelled_at = serializers.DateTimeField(allow_null=True)
    list_points = serializers.IntegerField(
        allow_null=True, help_text="The catalogue price when a member discount applied."
    )
    discount_source = serializers.CharField(help_text="What gave the discount, e.g. club:plus.")
    voucher = serializers.SerializerMethodField(help_text="Null for a donation (no voucher).")
    donation = serializers.SerializerMethodField(help_text="Set for a donation to a cause.")

    def get_reward(self, redemption: Redemption) -> str | None:
        return redemption.reward.code if redemption.reward_id and redemption.reward else None

    @extend_schema_field(VoucherSerializer(allow_null=True))
    def get_voucher(self, redemption: Redemption) -> dict | None:
        voucher = getattr(redemption, "voucher", None)
        return VoucherSerializer(voucher, context=self.context).data if voucher else None

    @extend_schema_field(DonationSerializer(allow_null=True))
    def get_donation(self, redemption: Redemption) -> dict | None:
        donation = getattr(redemption, "donation", None)
        return DonationSerializer(donation).data if donation else None


class RedemptionResultSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="False when this replays an earlier request.")
    redemption = RedemptionSerializer(help_text="The first (or only) redemption of the request.")
    quantity = serializers.IntegerField(help_text="How many were redeemed by the request.")
    redemptions = RedemptionSerializer(
        many=True, help_text="Every redemption of the request, one voucher each, first first."
    )
    balance = BalanceSerializer()


def _redemption_response(
    redemption: Redemption, *, created: bool, whole_request: bool = True
) -> Response:
    redemption = redemption_get(redemption_id=redemption.pk)
    batch = redemption_batch(redemption=redemption) if whole_request else [redemption]
    data = {
        "created": created,
        "redemption": redemption,
        "quantity": len(batch),
        "redemptions": batch,
        "balance": account_balance(member=redemption.member),
    }
    return Response(
        RedemptionResultSerializer(data).data,
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


def _created(redemption: Redemption, since: Any) -> bool:
    return redemption.created_at >= since


class RewardListApi(ApiAuthMixin, APIView):
    """The public catalogue: live rewards that are not hidden."""

    required_scope = REWARDS_REDEEM

    @extend_schema(operation_id="rewards_list", responses=paginated(RewardSerializer))
    def get(self, request: Request) -> Response:
        return paginate(view=self, queryset=reward_list_public(), serializer_class=RewardSerializer)


class CauseSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField()
    matching = serializers.IntegerField(help_text="Brand matching: 0 none, 1 x1, 2 x2.")


class CauseListApi(ApiAuthMixin, APIView):
    """The causes a member may give points to now (donation rewards)."""

    required_scope = REWARDS_REDEEM

    @extend_schema(operation_id="causes_list", responses=paginated(CauseSerializer))
    def get(self, request: Request) -> Response:
        return paginate(view=self, queryset=cause_list_open(), serializer_class=CauseSerializer)


class MemberCatalogueApi(ApiAuthMixin, APIView):
    """What one member can redeem now and what they are close to, most relevant first."""

    required_scope = REWARDS_REDEEM

    class OutputSerializer(serializers.Serializer):
        reward = RewardSerializer()
        can_redeem = serializers.BooleanField()
        reason_code = serializers.CharField(allow_null=True)
        reason = serializers.CharField(allow_null=True)
        points_short = serializers.IntegerField()
        points = serializers.IntegerField(help_text="What it costs this member now.")
        discount_source = serializers.CharField(
            help_text="What lowered the price (e.g. club:plus); empty: the catalogue price."
        )

    @extend_schema(operation_id="rewards_member_catalogue", responses=OutputSerializer(many=True))
    def get(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        items = reward_catalogue_for_member(member=member)
        return Response(self.OutputSerializer(items, many=True).data)


class RedemptionCreateApi(ApiAuthMixin, APIView):
    """Spend points on a reward and get a voucher. Replays with the same Idempotency-Key are
    harmless. 409: out of stock, limit reached, not enough points; 403: not eligible."""

    required_scope = REWARDS_REDEEM

    class InputSerializer(MemberRefMixin):
        schema_constraints = MEMBER_REQUIRED
        reward = serializers.CharField(max_length=40, help_text="Reward code or id.")
        quantity = serializers.IntegerField(
            min_value=1,
            max_value=MAX_QUANTITY,
            default=1,
            help_text="How many to redeem at once (one voucher each): all of them or none.",
        )
        channel = serializers.ChoiceField(choices=CHANNELS, default=Redemption.Channel.API)
        store = serializers.CharField(max_length=20, required=False, allow_blank=True)
        cause = serializers.SlugField(
            max_length=40,
            required=False,
            help_text="Donation rewards: the code of the cause the points go to.",
        )

    @extend_schema(
        operation_id="redemptions_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: RedemptionResultSerializer, 200: RedemptionResultSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = resolve_member(data, request)
        reward = reward_get(reference=data["reward"])
        key = idempotency_header(request)
        before = timezone.now()
        redemption = redemption_create(
            member=member,
            reward=reward,
            actor=request.user,
            channel=data["channel"],
            store=store_from_request(data.get("store"), request),
            idempotency_key=key,
            quantity=data["quantity"],
            cause=cause_get(code=data["cause"]) if data.get("cause") else None,
        )
        return _redemption_response(redemption, created=_created(redemption, before))


class PointsPaymentCreateApi(ApiAuthMixin, APIView):
    """Pay part of a bill with points (give points or amount). The voucher is used at once."""

    required_scope = REWARDS_REDEEM

    class InputSerializer(MemberRefMixin):
        # a member, and exactly one of points or amount
        schema_constraints = {
            "allOf": [
                MEMBER_REQUIRED,
                {"oneOf": [{"required": ["points"]}, {"required": ["amount"]}]},
            ]
        }
        order_ref = serializers.CharField(max_length=100)
        points = serializers.IntegerField(min_value=1, max_value=10**9, required=False)
        amount = serializers.DecimalField(
            max_digits=11,
            decimal_places=2,
            min_value=Decimal("0.01"),
            max_value=Decimal("999999999.99"),
            required=False,
        )
        channel = serializers.ChoiceField(choices=CHANNELS, default=Redemption.Channel.STORE)
        store = serializers.CharField(max_length=20, required=False, allow_blank=True)

        def validate(self, attrs: dict) -> dict:
            if ("points" in attrs) == ("amount" in attrs):
                raise serializers.ValidationError(
                    {"points": ["Give either points or amount, not both."]}
                )
            return attrs

    @extend_schema(
        operation_id="points_payments_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: RedemptionResultSerializer, 200: RedemptionResultSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        before = timezone.now()
        redemption = points_payment_create(
            member=resolve_member(data, request),
            order_ref=data["order_ref"],
            points=data.get("points"),
            amount=data.get("amount"),
            actor=request.user,
            channel=data["channel"],
            store=store_from_request(data.get("store"), request),
            idempotency_key=idempotency_header(request),
        )
        return _redemption_response(redemption, created=_created(redemption, before))


class RedemptionCancelApi(ApiAuthMixin, APIView):
    """Cancel a redemption whose voucher is unused: points back to their lots, stock restored."""

    required_scope = REWARDS_REDEEM

    class InputSerializer(StrictSerializer):
        reason = serializers.CharField(max_length=300)

    @extend_schema(
        operation_id="redemptions_cancel",
        request=InputSerializer,
        responses={200: RedemptionResultSerializer},
    )
    def post(self, request: Request, redemption_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        redemption = redemption_get(redemption_id=redemption_id)
        if not member_visible(member_id=redemption.member_id, **viewer(request)):
            raise RedemptionNotFound(extra={"redemption": redemption_id})
        redemption = redemption_cancel(
            redemption=redemption,
            reason=serializer.validated_data["reason"],
            actor=request.user,
        )
        return _redemption_response(redemption, created=False, whole_request=False)


class MemberVoucherListApi(ApiAuthMixin, APIView):
    """A member's vouchers, newest first; filter by status."""

    required_scope = MEMBERS_READ

    class FilterSerializer(StrictSerializer):
        status = serializers.ChoiceField(choices=Voucher.Status.choices, required=False)

    @extend_schema(
        operation_id="member_vouchers_list",
        parameters=[FilterSerializer],
        responses=paginated(VoucherSerializer),
    )
    def get(self, request: Request, member_id: int) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        member = member_get(member_id=member_id, **viewer(request))
        vouchers = voucher_list_for_member(
            member=member, status=filters.validated_data.get("status")
        )
        return paginate(view=self, queryset=vouchers, serializer_class=VoucherSerializer)


class VoucherCheckOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=Voucher.Status.choices)
    valid = serializers.BooleanField(help_text="True when it can be consumed now.")
    member_bound = serializers.BooleanField(
        help_text="Only its member may use it: consume needs member_id or member_number."
    )
    member_id = serializers.IntegerField(allow_null=True)
    member_number = serializers.CharField()
    member_name = serializers.CharField()
    reward_code = serializers.CharField(allow_null=True)
    reward_name = serializers.CharField()
    benefit = serializers.CharField()
    partner_code = serializers.CharField()
    points = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    valid_until = serializers.DateField(
        help_text="Last day the voucher works, all day, in the programme's time zone."
    )
    used_at = serializers.DateTimeField(allow_null=True)
    order_ref = serializers.CharField()
    message = serializers.CharField()


class VoucherCheckApi(ApiAuthMixin, APIView):
    """Look a code up: valid, used, expired or cancelled; whose; what it gives."""

    required_scope = VOUCHERS_CONSUME

    @extend_schema(
        operation_id="vouchers_check",
        parameters=[CODE_PATH],
        responses=VoucherCheckOutputSerializer,
    )
    def get(self, request: Request, code: str) -> Response:
        return Response(VoucherCheckOutputSerializer(voucher_check(code=code)).data)


class VoucherConsumeApi(ApiAuthMixin, APIView):
    """Use a voucher for an order. The same order twice is harmless; another order gets 409."""

    required_scope = VOUCHERS_CONSUME

    class InputSerializer(MemberRefMixin):
        order_ref = serializers.CharField(max_length=100)
        channel = serializers.ChoiceField(choices=CHANNELS, default=Redemption.Channel.STORE)
        store = serializers.CharField(max_length=20, required=False, allow_blank=True)

    @extend_schema(
        operation_id="vouchers_consume",
        parameters=[CODE_PATH],
        request=InputSerializer,
        responses=VoucherCheckOutputSerializer,
    )
    def post(self, request: Request, code: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        voucher = voucher_consume(
            code=code,
            order_ref=data["order_ref"],
            actor=request.user,
            channel=data["channel"],
            store=store_from_request(data.get("store"), request),
            member=resolve_member(data, request, required=False),
        )
        return Response(VoucherCheckOutputSerializer(voucher_check(code=voucher.code)).data)


class VoucherUndoApi(ApiAuthMixin, APIView):
    """The order was refunded within the window: the voucher is usable again (points paid at the
    till go back to the member instead)."""

    required_scope = VOUCHERS_CONSUME

    class InputSerializer(StrictSerializer):
        order_ref = serializers.CharField(max_length=100)
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="vouchers_undo",
        parameters=[CODE_PATH],
        request=InputSerializer,
        responses=VoucherCheckOutputSerializer,
    )
    def post(self, request: Request, code: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        voucher = voucher_consume_undo(
            code=code, order_ref=data["order_ref"], reason=data["reason"], actor=request.user
        )
        return Response(VoucherCheckOutputSerializer(voucher_check(code=voucher.code)).data)


class VoucherIssueApi(ApiAuthMixin, APIView):
    """Give a pre-printed voucher to a member: from then on only that member may use it."""

    required_scope = VOUCHERS_CONSUME

    class InputSerializer(MemberRefMixin):
        schema_constraints = MEMBER_REQUIRED
        note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="vouchers_issue",
        parameters=[CODE_PATH],
        request=InputSerializer,
        responses=VoucherCheckOutputSerializer,
    )
    def post(self, request: Request, code: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        voucher = voucher_issue(
            code=code, member=resolve_member(data, request), actor=request.user, note=data["note"]
        )
        return Response(VoucherCheckOutputSerializer(voucher_check(code=voucher.code)).data)


class VoucherSellApi(ApiAuthMixin, APIView):
    """Sell a pre-printed voucher over the counter: whoever holds it may use it."""

    required_scope = VOUCHERS_CONSUME

    class InputSerializer(StrictSerializer):
        sale_ref = serializers.CharField(max_length=100, help_text="Receipt number of the sale.")

    @extend_schema(
        operation_id="vouchers_sell",
        parameters=[CODE_PATH],
        request=InputSerializer,
        responses=VoucherCheckOutputSerializer,
    )
    def post(self, request: Request, code: str) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        voucher = voucher_sell(
            code=code, sale_ref=serializer.validated_data["sale_ref"], actor=request.user
        )
        return Response(VoucherCheckOutputSerializer(voucher_check(code=voucher.code)).data)
