"""Engagement API: a member's progress in one call (tier, next badge, next affordable reward,
badges held, streak and lifecycle stage)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.engagement.models import Stage, StreakPeriod
from campaigns.engagement.selectors import member_progress
from loyalty.core.api.mixins import ApiAuthMixin
from loyalty.core.scopes import MEMBERS_READ
from members.api.access import viewer
from members.selectors import member_get


class StageSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=Stage.choices)
    name = serializers.CharField(source="label", help_text="The stage as staff read it.")
    words = serializers.CharField(help_text="The stage in words.")
    since = serializers.DateTimeField(allow_null=True)


class StreakSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=StreakPeriod.choices)
    current = serializers.IntegerField(
        help_text="Consecutive periods with a purchase, up to this period or the last one."
    )
    longest = serializers.IntegerField()


class BadgeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    times = serializers.IntegerField(help_text="How often earned (repeatable badges).")
    awarded_at = serializers.DateTimeField()


class TierStepSerializer(serializers.Serializer):
    current = serializers.CharField()
    next = serializers.CharField(allow_null=True, help_text="null at the top tier.")
    basis = serializers.CharField(help_text="points or spend")
    value = serializers.DecimalField(max_digits=14, decimal_places=2)
    target = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    needed = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    percent = serializers.IntegerField(min_value=0, max_value=100)
    text = serializers.CharField()


class BadgeStepSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    rule = serializers.CharField(help_text="The rule in words.")
    value = serializers.IntegerField()
    target = serializers.IntegerField()
    needed = serializers.IntegerField()
    percent = serializers.IntegerField(min_value=0, max_value=100)
    text = serializers.CharField()


class RewardStepSerializer(serializers.Serializer):
    reward_id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    points_cost = serializers.IntegerField()
    points_needed = serializers.IntegerField()
    percent = serializers.IntegerField(min_value=0, max_value=100)
    text = serializers.CharField(help_text="E.g. '120 points to Free coffee'.")


class MemberProgressApi(ApiAuthMixin, APIView):
    """A member's progress in one call: towards the next tier, the next badge and the cheapest
    reward they cannot afford yet ("120 points to a free coffee"), with the badges they hold,
    their purchase streak and lifecycle stage."""

    required_scope = MEMBERS_READ

    class OutputSerializer(serializers.Serializer):
        member_id = serializers.IntegerField()
        stage = StageSerializer(allow_null=True, help_text="null until first computed.")
        streak = StreakSerializer()
        badges = BadgeSerializer(many=True)
        tier = TierStepSerializer(allow_null=True, help_text="null: the programme has no tiers.")
        next_badge = BadgeStepSerializer(allow_null=True)
        next_reward = RewardStepSerializer(allow_null=True)
        rewards_affordable_now = serializers.IntegerField()

    @extend_schema(operation_id="member_engagement_progress", responses={200: OutputSerializer})
    def get(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        return Response(self.OutputSerializer(member_progress(member=member)).data)
