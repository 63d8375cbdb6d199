"""Paid club API: the plans, a member's club status (the shop reads free delivery here), and
joining, renewing (from the payment reference the shop or payment provider gives; no card
data) and cancelling."""

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.membership.exceptions import ClubMembershipNotFound
from campaigns.membership.models import ClubMembership, ClubTerm
from campaigns.membership.selectors import (
    club_membership_current,
    club_plan_get,
    club_plan_list_open,
    club_status,
)
from campaigns.membership.services import (
    club_membership_cancel,
    club_membership_join,
    club_membership_renew,
)
from loyalty.core.api.mixins import ApiAuthMixin, paginate
from loyalty.core.api.pagination import paginated
from loyalty.core.api.strict import StrictSerializer
from loyalty.core.scopes import MEMBERS_READ, MEMBERS_WRITE
from loyalty.ledger.api.views import AwareDateTimeField
from members.api.access import viewer
from members.selectors import member_get


class PlanSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    fee = serializers.DecimalField(max_digits=10, decimal_places=2)
    term_months = serializers.IntegerField(help_text="1, 3 or 12.")
    grace_days = serializers.IntegerField()
    points_multiplier = serializers.DecimalField(max_digits=4, decimal_places=2)
    reward_discount_percent = serializers.DecimalField(max_digits=4, decimal_places=1)
    free_delivery = serializers.BooleanField()
    benefits = serializers.CharField(help_text="The benefits in words.")


class StatusSerializer(serializers.Serializer):
    member_id = serializers.IntegerField()
    state = serializers.ChoiceField(
        choices=["none", "active", "grace", "lapsed", "cancelled"],
        help_text="active: in a paid term; grace: term over, benefits kept until grace_until.",
    )
    in_force = serializers.BooleanField(help_text="The benefits apply now.")
    plan = serializers.CharField(source="plan.code", allow_null=True, default=None)
    started_on = serializers.DateField(allow_null=True)
    ends_on = serializers.DateField(allow_null=True, help_text="Last day of the paid term.")
    grace_until = serializers.DateField(allow_null=True)
    auto_renew = serializers.BooleanField()
    free_delivery = serializers.BooleanField(help_text="The shop delivers for free now.")
    points_multiplier = serializers.DecimalField(max_digits=4, decimal_places=2)
    reward_discount_percent = serializers.DecimalField(max_digits=4, decimal_places=1)
    refund = serializers.DecimalField(
        max_digits=10, decimal_places=2, help_text="Refund due after a cancellation."
    )


class MembershipResultSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="False when this replays a recorded payment.")
    status = StatusSerializer()


class ClubPlanListApi(ApiAuthMixin, APIView):
    """The plans open to new members."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="club_plans_list", responses=paginated(PlanSerializer))
    def get(self, request: Request) -> Response:
        return paginate(view=self, queryset=club_plan_list_open(), serializer_class=PlanSerializer)


def _status_response(member_id: int, *, created: bool | None = None) -> Response:
    current = club_status(member_id=member_id, now=timezone.now())
    if created is None:
        return Response(StatusSerializer(current).data)
    return Response(
        MembershipResultSerializer({"created": created, "status": current}).data,
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


class ClubStatusApi(ApiAuthMixin, APIView):
    """A member's club status now: in force or not, until when, and the benefits (free delivery
    for the shop, multiplier and discount)."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="club_status", responses=StatusSerializer)
    def get(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        return _status_response(member.pk)


class PaymentSerializer(StrictSerializer):
    payment_reference = serializers.CharField(
        max_length=100, help_text="The payment's reference at the shop or payment provider."
    )
    amount = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("99999999.99"),
        help_text="What was paid: must be the plan's fee.",
    )
    paid_at = AwareDateTimeField(required=False, help_text="When it was paid (default: now).")


def _known(reference: str) -> bool:
    return ClubTerm.objects.filter(payment_reference=reference.strip()[:100]).exists()


class ClubJoinApi(ApiAuthMixin, APIView):
    """Join a plan with the payment of the first term. The same payment reference again
    changes nothing (200)."""

    required_scope = MEMBERS_WRITE

    class InputSerializer(PaymentSerializer):
        plan = serializers.SlugField(max_length=40, help_text="The plan's code.")
        auto_renew = serializers.BooleanField(
            default=True, help_text="The shop will charge and post each renewal."
        )

    @extend_schema(
        operation_id="club_join",
        request=InputSerializer,
        responses={201: MembershipResultSerializer, 200: MembershipResultSerializer},
    )
    def post(self, request: Request, member_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_get(member_id=member_id, **viewer(request))
        known = _known(data["payment_reference"])
        club_membership_join(
            member=member,
            plan=club_plan_get(code=data["plan"]),
            payment_reference=data["payment_reference"],
            amount=data["amount"],
            auto_renew=data["auto_renew"],
            paid_at=data.get("paid_at"),
            actor=request.user,
        )
        return _status_response(member.pk, created=not known)


def _open_membership(member_id: int) -> ClubMembership:
    membership = club_membership_current(member_id=member_id)
    if membership is None:
        raise ClubMembershipNotFound(extra={"member_id": member_id})
    return membership


class ClubRenewApi(ApiAuthMixin, APIView):
    """Record a renewal payment (automatic or by hand): the next term starts the day after the
    current one ends, also in the grace period. 409 after the grace period: join again."""

    required_scope = MEMBERS_WRITE

    class InputSerializer(PaymentSerializer):
        auto_renew = serializers.BooleanField(
            required=False, help_text="Change how the next renewal happens (default: unchanged)."
        )

    @extend_schema(
        operation_id="club_renew",
        request=InputSerializer,
        responses={201: MembershipResultSerializer, 200: MembershipResultSerializer},
    )
    def post(self, request: Request, member_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_get(member_id=member_id, **viewer(request))
        known = _known(data["payment_reference"])
        club_membership_renew(
            membership=_open_membership(member.pk),
            payment_reference=data["payment_reference"],
            amount=data["amount"],
            paid_at=data.get("paid_at"),
            auto_renew=data.get("auto_renew"),
            actor=request.user,
        )
        return _status_response(member.pk, created=not known)


class ClubCancelApi(ApiAuthMixin, APIView):
    """Cancel now: benefits end at once; the answer carries the refund due (pro-rata rule)."""

    required_scope = MEMBERS_WRITE

    class InputSerializer(StrictSerializer):
        reason = serializers.CharField(max_length=300, help_text="Why the membership ends.")

    @extend_schema(operation_id="club_cancel", request=InputSerializer, responses=StatusSerializer)
    def post(self, request: Request, member_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = member_get(member_id=member_id, **viewer(request))
        club_membership_cancel(
            membership=_open_membership(member.pk),
            reason=serializer.validated_data["reason"],
            actor=request.user,
        )
        return _status_response(member.pk)
