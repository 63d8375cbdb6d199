"""Prize wheel API: a wheel with its odds, and a spin (idempotent by spin id)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.games.models import WheelSpin
from campaigns.games.selectors import wheel_get, wheel_odds
from campaigns.games.services import wheel_spin
from loyalty.core.api.mixins import ApiAuthMixin
from loyalty.core.scopes import MEMBERS_READ, TRANSACTIONS_WRITE
from loyalty.ledger.api.views import MEMBER_REQUIRED, MemberRefMixin, resolve_member


class PrizeOddsSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="prize.pk")
    name = serializers.CharField(source="prize.label", help_text="The label on the slice.")
    kind = serializers.CharField(source="prize.kind")
    points = serializers.IntegerField(source="prize.points")
    left = serializers.IntegerField(
        allow_null=True, help_text="Prizes of this kind still to win; null: unlimited."
    )
    chance_percent = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        help_text="Chance of this prize on the next spin, in percent.",
    )


class WheelOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    spin_cost = serializers.IntegerField(help_text="Points per spin (0: free spins only).")
    prizes = PrizeOddsSerializer(many=True)


class WheelGetApi(ApiAuthMixin, APIView):
    """An open prize wheel, each prize with what is left and its chance on the next spin."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="games_wheel_get", responses={200: WheelOutputSerializer})
    def get(self, request: Request, wheel_id: int) -> Response:
        wheel = wheel_get(wheel_id=wheel_id)
        data = {
            "id": wheel.pk,
            "name": wheel.name,
            "description": wheel.description,
            "spin_cost": wheel.spin_cost,
            "prizes": wheel_odds(wheel=wheel),
        }
        return Response(WheelOutputSerializer(data).data)


class WheelSpinCreateApi(ApiAuthMixin, APIView):
    """Spin a wheel for a member: a free spin if they have one, else the wheel's points. The
    same spin_id again returns the first spin (200) and takes and gives nothing more."""

    required_scope = TRANSACTIONS_WRITE

    class InputSerializer(MemberRefMixin):
        schema_constraints = MEMBER_REQUIRED
        spin_id = serializers.RegexField(
            r"^[A-Za-z0-9._:-]{1,64}$",
            max_length=64,
            help_text="Your id for this spin (letters, digits, . _ : -); retry with the same one.",
        )

    class OutputSerializer(serializers.ModelSerializer):
        prize_label = serializers.CharField(source="prize.label")
        prize_kind = serializers.CharField(source="prize.kind")
        used_free_spin = serializers.SerializerMethodField()

        class Meta:
            model = WheelSpin
            fields = [
                "spin_id",
                "wheel_id",
                "member_id",
                "prize_id",
                "prize_label",
                "prize_kind",
                "points_spent",
                "points_won",
                "used_free_spin",
                "created_at",
            ]

        def get_used_free_spin(self, spin: WheelSpin) -> bool:
            return spin.grant_id is not None

    @extend_schema(
        operation_id="games_wheel_spin",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer},
    )
    def post(self, request: Request, wheel_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        wheel = wheel_get(wheel_id=wheel_id)
        member = resolve_member(data, request)
        before = WheelSpin.objects.filter(spin_id=data["spin_id"]).exists()
        spin = wheel_spin(wheel=wheel, member=member, spin_id=data["spin_id"])
        code = status.HTTP_200_OK if before else status.HTTP_201_CREATED
        return Response(self.OutputSerializer(spin).data, status=code)
