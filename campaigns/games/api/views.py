"""Games API. Prize wheel: a wheel with its odds, and a spin (idempotent by spin id).
Sweepstakes: the open ones, entries (paid with points, idempotent by entry key), a member's
entries, and after the draw the record anyone can replay (seed, entries, winners)."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.games.exceptions import SweepstakeNotDrawn
from campaigns.games.models import Sweepstake, SweepstakeEntry, WheelSpin
from campaigns.games.selectors import (
    sweepstake_entry_pairs,
    sweepstake_get,
    sweepstake_list_open,
    sweepstake_member_entries,
    sweepstake_prizes,
    sweepstake_winners,
    wheel_get,
    wheel_odds,
)
from campaigns.games.services import sweepstake_entries_add, wheel_spin
from loyalty.core.api.mixins import ApiAuthMixin, paginate
from loyalty.core.api.pagination import paginated
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


# ------------------------------------------------------------------------------ sweepstakes
class SweepstakePrizeSerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="1: the first prize.")
    name = serializers.CharField(source="label", help_text="What the winners see.")
    kind = serializers.CharField(help_text="points or reward (a voucher for the reward).")
    points = serializers.IntegerField(help_text="For a points prize: the points it gives.")
    reward_code = serializers.CharField(source="reward.code", allow_null=True, default=None)
    reward_name = serializers.CharField(source="reward.name", allow_null=True, default=None)
    quantity = serializers.IntegerField(help_text="How many winners get this prize.")


class SweepstakeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    entry_cost = serializers.IntegerField(help_text="Points per entry (0: free entries only).")
    max_entries_per_member = serializers.IntegerField()
    draw_at = serializers.DateTimeField(help_text="Entries close then; the draw runs after.")
    winners = serializers.IntegerField(help_text="How many members win (each once).")
    points_per_winner = serializers.IntegerField(
        source="prize_points", help_text="For the places the prize list does not cover."
    )
    prizes = serializers.SerializerMethodField()
    seed_sha256 = serializers.CharField(
        help_text="SHA-256 of the secret seed, fixed when the sweepstake was created."
    )
    drawn_at = serializers.DateTimeField(allow_null=True)
    seed = serializers.SerializerMethodField(
        help_text="The seed, revealed at the draw (null before)."
    )

    @extend_schema_field(SweepstakePrizeSerializer(many=True))
    def get_prizes(self, sweepstake: Sweepstake) -> Any:
        return SweepstakePrizeSerializer(sweepstake_prizes(sweepstake=sweepstake), many=True).data

    def get_seed(self, sweepstake: Sweepstake) -> str | None:
        return sweepstake.seed if sweepstake.drawn_at else None


class SweepstakeEntrySerializer(serializers.ModelSerializer):
    entry_id = serializers.IntegerField(source="pk")
    entry_key = serializers.CharField(source="idempotency_key")

    class Meta:
        model = SweepstakeEntry
        fields = [
            "entry_id",
            "sweepstake_id",
            "member_id",
            "entry_key",
            "points_spent",
            "won",
            "place",
            "points_won",
            "created_at",
        ]


class SweepstakeListApi(ApiAuthMixin, APIView):
    """Sweepstakes taking entries now (not drawn, draw date ahead), soonest draw first."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="games_sweepstakes_list", responses=paginated(SweepstakeSerializer))
    def get(self, request: Request) -> Response:
        return paginate(
            view=self, queryset=sweepstake_list_open(), serializer_class=SweepstakeSerializer
        )


class SweepstakeGetApi(ApiAuthMixin, APIView):
    """One sweepstake, open or drawn (the seed is null until the draw)."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="games_sweepstake_get", responses={200: SweepstakeSerializer})
    def get(self, request: Request, sweepstake_id: int) -> Response:
        sweepstake = sweepstake_get(sweepstake_id=sweepstake_id)
        return Response(SweepstakeSerializer(sweepstake).data)


class SweepstakeEntriesApi(ApiAuthMixin, APIView):
    """GET: a member's entries to the sweepstake. POST: buy entries for a member with points
    (all or none); the same entry_key again returns the first entries (200) and takes nothing."""

    class FilterSerializer(MemberRefMixin):
        pass

    class InputSerializer(MemberRefMixin):
        schema_constraints = MEMBER_REQUIRED
        entries = serializers.IntegerField(
            min_value=1, max_value=1000, default=1, help_text="How many entries to buy."
        )
        entry_key = serializers.RegexField(
            r"^[A-Za-z0-9._:-]{1,80}$",
            max_length=80,
            help_text="Your id for this purchase (letters, digits, . _ : -); retry with the same.",
        )

    required_scope = {"GET": MEMBERS_READ, "POST": TRANSACTIONS_WRITE}

    @extend_schema(
        operation_id="games_sweepstake_entries_list",
        parameters=[FilterSerializer],
        responses={200: SweepstakeEntrySerializer(many=True)},
    )
    def get(self, request: Request, sweepstake_id: int) -> Response:
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        sweepstake = sweepstake_get(sweepstake_id=sweepstake_id)
        member = resolve_member(params.validated_data, request)
        entries = sweepstake_member_entries(sweepstake=sweepstake, member_id=member.pk)
        return Response(SweepstakeEntrySerializer(entries, many=True).data)

    @extend_schema(
        operation_id="games_sweepstake_enter",
        request=InputSerializer,
        responses={
            201: SweepstakeEntrySerializer(many=True),
            200: SweepstakeEntrySerializer(many=True),
        },
    )
    def post(self, request: Request, sweepstake_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        sweepstake = sweepstake_get(sweepstake_id=sweepstake_id)
        member = resolve_member(data, request)
        entries, created = sweepstake_entries_add(
            sweepstake=sweepstake,
            member=member,
            entries=data["entries"],
            idempotency_key=f"api:{data['entry_key']}",
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(SweepstakeEntrySerializer(entries, many=True).data, status=code)


class DrawEntrySerializer(serializers.Serializer):
    entry_id = serializers.IntegerField()
    member_id = serializers.IntegerField()


class DrawWinnerSerializer(serializers.Serializer):
    place = serializers.IntegerField(help_text="1: drawn first.")
    entry_id = serializers.IntegerField(source="pk")
    member_id = serializers.IntegerField()
    prize = serializers.CharField(source="prize.label", allow_null=True, default=None)
    points_won = serializers.IntegerField()
    voucher = serializers.BooleanField(source="voucher_id", help_text="A voucher was given.")


class SweepstakeDrawSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    drawn_at = serializers.DateTimeField()
    seed = serializers.CharField()
    seed_sha256 = serializers.CharField()
    winners_to_draw = serializers.IntegerField(source="winners")
    entries = DrawEntrySerializer(many=True)
    winners = DrawWinnerSerializer(many=True, source="winning")


class SweepstakeDrawApi(ApiAuthMixin, APIView):
    """The record of a drawn sweepstake, all that is needed to replay it: the revealed seed,
    its committed SHA-256, every entry (entry id, member id) and the winners by place
    (docs/sweepstakes.md; `manage.py sweepstake_replay --file` replays it). 409 before the
    draw."""

    required_scope = MEMBERS_READ

    @extend_schema(operation_id="games_sweepstake_draw", responses={200: SweepstakeDrawSerializer})
    def get(self, request: Request, sweepstake_id: int) -> Response:
        sweepstake = sweepstake_get(sweepstake_id=sweepstake_id)
        if sweepstake.drawn_at is None:
            raise SweepstakeNotDrawn(extra={"sweepstake": sweepstake.pk})
        data = {
            "id": sweepstake.pk,
            "name": sweepstake.name,
            "drawn_at": sweepstake.drawn_at,
            "seed": sweepstake.seed,
            "seed_sha256": sweepstake.seed_sha256,
            "winners": sweepstake.winners,
            "entries": [
                {"entry_id": pk, "member_id": member_id}
                for pk, member_id in sweepstake_entry_pairs(sweepstake=sweepstake)
            ],
            "winning": sweepstake_winners(sweepstake=sweepstake),
        }
        return Response(SweepstakeDrawSerializer(data).data)
