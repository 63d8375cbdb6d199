from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.core.api.mixins import ApiAuthMixin, paginate
from loyalty.core.api.pagination import paginated
from loyalty.core.api.strict import StrictSerializer
from loyalty.core.scopes import MEMBERS_READ
from loyalty.tiers.exceptions import NoTiersDefined
from loyalty.tiers.models import Tier, TierAssignment
from loyalty.tiers.selectors import tier_history, tier_ladder, tier_member_progress
from loyalty.tiers.services import tier_assign
from members.api.access import viewer
from members.selectors import member_get


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = [
            "code",
            "name",
            "rank",
            "threshold",
            "earn_multiplier",
            "entry_gift_points",
            "free_shipping",
            "birthday_gift",
            "exclusive_rewards",
            "description",
        ]
        read_only_fields = fields


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    rank = serializers.IntegerField()
    threshold = serializers.DecimalField(max_digits=14, decimal_places=2)


class AssignmentSerializer(serializers.ModelSerializer):
    tier: "serializers.SlugRelatedField[Tier]" = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    previous_tier: "serializers.SlugRelatedField[Tier]" = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    actor: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = TierAssignment
        fields = [
            "id",
            "tier",
            "previous_tier",
            "reason",
            "note",
            "valid_from",
            "valid_to",
            "qualifying_value",
            "manual_until",
            "downgrade_due_on",
            "actor",
        ]
        read_only_fields = fields


class TierListApi(ApiAuthMixin, APIView):
    """The tier ladder, lowest first, with thresholds and benefits."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="tiers_list", responses={200: TierSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(TierSerializer(tier_ladder(), many=True).data)


class TierMemberProgressApi(ApiAuthMixin, APIView):
    """A member's tier and progress: qualifying value in the window, what is needed for the
    next tier and to keep this one, and when the window ends."""

    required_scope = MEMBERS_READ
    extra_error_statuses = {"GET": ["409"]}  # no_tiers_defined: the programme has no tiers yet

    class OutputSerializer(serializers.Serializer):
        member_id = serializers.IntegerField()
        tier = TierRefSerializer()
        assigned = serializers.BooleanField()
        since = serializers.DateTimeField(allow_null=True)
        reason = serializers.CharField()
        manual_until = serializers.DateField(allow_null=True)
        basis = serializers.CharField()
        window_kind = serializers.CharField()
        window_start = serializers.DateField()
        window_end = serializers.DateField(
            allow_null=True, help_text="First day that no longer counts; null for lifetime."
        )
        period_end = serializers.DateField(
            allow_null=True, help_text="Next day the period-end job judges the member."
        )
        qualifying_value = serializers.DecimalField(max_digits=14, decimal_places=2)
        next_tier = TierRefSerializer(allow_null=True)
        needed_for_next = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
        needed_to_keep = serializers.DecimalField(max_digits=14, decimal_places=2)
        downgrade_due_on = serializers.DateField(allow_null=True)
        downgrade_to = TierRefSerializer(allow_null=True)

    @extend_schema(operation_id="member_tier_progress", responses={200: OutputSerializer})
    def get(self, request: Request, member_id: int) -> Response:
        progress = tier_member_progress(member=member_get(member_id=member_id, **viewer(request)))
        if progress is None:
            raise NoTiersDefined()
        return Response(self.OutputSerializer(progress).data)


class TierHistoryApi(ApiAuthMixin, APIView):
    """Every tier change of a member, newest first."""

    required_scope = MEMBERS_READ

    @extend_schema(
        operation_id="member_tier_history",
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses={200: paginated(AssignmentSerializer)},
    )
    def get(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        return paginate(
            view=self,
            queryset=tier_history(member_id=member.pk),
            serializer_class=AssignmentSerializer,
        )


class CanSetTier(BasePermission):
    message = _("Setting a tier by hand needs staff status and the 'set tier' permission.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_staff and user.has_perm("tiers.set_tier"))


class TierAssignApi(ApiAuthMixin, APIView):
    """Staff set a member's tier by hand, with a reason and an optional end date of the
    protection from downgrades."""

    required_scope = None  # staff only: no API key sets tiers by hand

    extra_permission_classes = (CanSetTier,)

    class InputSerializer(StrictSerializer):
        tier = serializers.SlugRelatedField(slug_field="code", queryset=Tier.objects.all())
        reason = serializers.CharField(max_length=255)
        manual_until = serializers.DateField(required=False, allow_null=True)
        give_gift = serializers.BooleanField(required=False, default=False)

    @extend_schema(
        operation_id="member_tier_set",
        request=InputSerializer,
        responses={201: AssignmentSerializer},
    )
    def post(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        assignment = tier_assign(
            member=member,
            tier=data["tier"],
            reason=data["reason"],
            manual_until=data.get("manual_until"),
            give_gift=data["give_gift"],
            actor=request.user,
        )
        return Response(AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)
