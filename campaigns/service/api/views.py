"""Customer service API: suggestions for a member, products bought together, feedback and
complaints (record, list, move along, goodwill points)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.service.exceptions import GoodwillNotAllowed
from campaigns.service.models import GOODWILL_MAX_POINTS, Feedback
from campaigns.service.selectors import (
    BECAUSE_SHOWN,
    bought_together_for_sku,
    feedback_get,
    feedback_list,
    member_suggestions,
)
from campaigns.service.services import (
    feedback_create,
    feedback_goodwill_grant,
    feedback_status_set,
    goodwill_allowed,
)
from loyalty.core.api.mixins import ApiAuthMixin, paginate
from loyalty.core.api.pagination import paginated
from loyalty.core.api.strict import StrictSerializer
from loyalty.core.exceptions import NotFound
from loyalty.core.scopes import FEEDBACK_READ, FEEDBACK_WRITE, MEMBERS_READ
from loyalty.ledger.api.views import (
    MEMBER_REQUIRED,
    AwareDateTimeField,
    MemberRefMixin,
    resolve_member,
)
from members.api.access import viewer
from members.models import Store
from members.selectors import member_get, member_list_for_staff

MAX_ID = 2**63 - 1

# --- suggestions -------------------------------------------------------------------------------


class ProductSuggestionSerializer(serializers.Serializer):
    sku = serializers.CharField()
    category = serializers.CharField()
    score = serializers.IntegerField(
        help_text="Purchases holding this product and one the member bought, summed."
    )
    because = serializers.ListField(
        child=serializers.CharField(),
        max_length=BECAUSE_SHOWN,
        help_text="The member's products it is most often bought with.",
    )


class RewardSuggestionSerializer(serializers.Serializer):
    reward_id = serializers.IntegerField(source="reward.pk")
    code = serializers.CharField(source="reward.code")
    name = serializers.CharField(source="reward.name")
    points_cost = serializers.IntegerField(source="reward.points_cost")
    can_redeem = serializers.BooleanField()
    points_short = serializers.IntegerField()
    matches = serializers.ChoiceField(
        choices=["product", "any"],
        help_text="product: a reward for a product or category the member buys; any: not tied "
        "to a product.",
    )


class SuggestionsSerializer(serializers.Serializer):
    member_id = serializers.IntegerField(source="member.pk")
    products = ProductSuggestionSerializer(many=True)
    rewards = RewardSuggestionSerializer(many=True)
    soon_points = serializers.IntegerField(
        help_text="A reward is 'soon' when the member is short by at most this many points "
        "(one of their average purchases)."
    )
    often_purchases = serializers.IntegerField(
        help_text="Products the member bought in this many purchases or more are not suggested."
    )


class MemberSuggestionsApi(ApiAuthMixin, APIView):
    """What to suggest to this customer: products bought together with what they bought (minus
    what they already buy often) and rewards they can redeem now or soon that fit what they buy.
    The rules are in docs/service.md."""

    required_scope = MEMBERS_READ

    class FilterSerializer(StrictSerializer):
        products = serializers.IntegerField(min_value=0, max_value=20, default=5)
        rewards = serializers.IntegerField(min_value=0, max_value=20, default=3)

    @extend_schema(
        operation_id="member_suggestions",
        parameters=[FilterSerializer],
        responses={200: SuggestionsSerializer},
    )
    def get(self, request: Request, member_id: int) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        member = member_get(member_id=member_id, **viewer(request))
        result = member_suggestions(member=member, **filters.validated_data)
        return Response(SuggestionsSerializer(result).data)


class BoughtTogetherApi(ApiAuthMixin, APIView):
    """The products most often in the same purchase as `sku` (count of purchases holding both),
    most often first, ties by sku. Rebuilt every night."""

    required_scope = MEMBERS_READ

    class FilterSerializer(StrictSerializer):
        sku = serializers.CharField(max_length=64)
        limit = serializers.IntegerField(min_value=1, max_value=20, default=5)

    class OutputSerializer(serializers.Serializer):
        sku = serializers.CharField(source="other_sku")
        purchases = serializers.IntegerField()
        rank = serializers.IntegerField()

    @extend_schema(
        operation_id="products_bought_together",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        rows = bought_together_for_sku(**filters.validated_data)
        return Response(self.OutputSerializer(rows, many=True).data)


# --- feedback ----------------------------------------------------------------------------------


class FeedbackSerializer(serializers.ModelSerializer):
    member_number = serializers.CharField(source="member.member_number")
    store = serializers.CharField(source="store.code", allow_null=True, default=None)
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    goodwill_entry_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Feedback
        fields = [
            "id",
            "member_id",
            "member_number",
            "kind",
            "channel",
            "category",
            "store",
            "text",
            "score",
            "status",
            "owner",
            "resolution",
            "received_at",
            "resolved_at",
            "goodwill_points",
            "goodwill_entry_id",
        ]


def _visible_feedback(request: Request, feedback_id: int) -> Feedback:
    if not 0 < feedback_id <= MAX_ID:
        raise NotFound("No such feedback.")
    try:
        return feedback_get(
            feedback_id=feedback_id, members=member_list_for_staff(**viewer(request))
        )
    except Feedback.DoesNotExist:
        raise NotFound("No such feedback.") from None


def _store(code: str) -> Store | None:
    if not code:
        return None
    store = Store.objects.filter(code=code).first()
    if store is None:  # well formed, but names no store: a rule the schema cannot state
        raise DjangoValidationError({"store": ["No store with this code."]})
    return store


def _owner(user_id: int | None) -> Any:
    if user_id is None:
        return None
    owner = get_user_model().objects.filter(pk=user_id, is_staff=True, is_active=True).first()
    if owner is None:
        raise DjangoValidationError({"owner_id": ["No active staff user with this id."]})
    return owner


class FeedbackListCreateApi(ApiAuthMixin, APIView):
    """Feedback and complaints, newest first (GET, filtered), or record one (POST; it starts
    open)."""

    required_scope = {"GET": FEEDBACK_READ, "POST": FEEDBACK_WRITE}

    class FilterSerializer(StrictSerializer):
        member_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
        status = serializers.ChoiceField(choices=Feedback.Status.choices, required=False)
        kind = serializers.ChoiceField(choices=Feedback.Kind.choices, required=False)

    class InputSerializer(MemberRefMixin):
        schema_constraints = MEMBER_REQUIRED
        kind = serializers.ChoiceField(choices=Feedback.Kind.choices, default="complaint")
        channel = serializers.ChoiceField(choices=Feedback.Channel.choices)
        category = serializers.ChoiceField(choices=Feedback.Category.choices)
        text = serializers.CharField(max_length=5000)
        score = serializers.IntegerField(min_value=0, max_value=10, required=False)
        store = serializers.CharField(max_length=20, required=False, allow_blank=True)
        received_at = AwareDateTimeField(required=False)

    @extend_schema(
        operation_id="feedback_list",
        parameters=[FilterSerializer],
        responses=paginated(FeedbackSerializer),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        visible = member_list_for_staff(**viewer(request))
        if data.get("member_id"):  # a filter: an unknown or hidden member gives an empty list
            visible = visible.filter(pk=data["member_id"])
        rows = feedback_list(status=data.get("status"), kind=data.get("kind"), members=visible)
        return paginate(view=self, queryset=rows, serializer_class=FeedbackSerializer)

    @extend_schema(
        operation_id="feedback_create",
        request=InputSerializer,
        responses={201: FeedbackSerializer},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        feedback = feedback_create(
            member=resolve_member(data, request),
            kind=data["kind"],
            channel=data["channel"],
            category=data["category"],
            text=data["text"],
            score=data.get("score"),
            store=_store(data.get("store", "")),
            received_at=data.get("received_at"),
            actor=request.user,
        )
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)


class FeedbackDetailApi(ApiAuthMixin, APIView):
    required_scope = FEEDBACK_READ

    @extend_schema(operation_id="feedback_get", responses={200: FeedbackSerializer})
    def get(self, request: Request, feedback_id: int) -> Response:
        return Response(FeedbackSerializer(_visible_feedback(request, feedback_id)).data)


class FeedbackStatusApi(ApiAuthMixin, APIView):
    """Move feedback along: open -> in progress -> resolved, or reopen it (409 for any other
    move). Resolving needs a resolution (422 without one)."""

    required_scope = FEEDBACK_WRITE

    class InputSerializer(StrictSerializer):
        status = serializers.ChoiceField(choices=Feedback.Status.choices)
        resolution = serializers.CharField(max_length=5000, required=False, allow_blank=True)
        owner_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)

    @extend_schema(
        operation_id="feedback_status_set",
        request=InputSerializer,
        responses={200: FeedbackSerializer},
    )
    def post(self, request: Request, feedback_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        feedback = feedback_status_set(
            feedback=_visible_feedback(request, feedback_id),
            status=data["status"],
            resolution=data.get("resolution", ""),
            owner=_owner(data.get("owner_id")),
            actor=request.user,
        )
        return Response(FeedbackSerializer(feedback).data)


class CanGrantGoodwill(BasePermission):
    message = GoodwillNotAllowed.default_message

    def has_permission(self, request: Request, view: Any) -> bool:
        return goodwill_allowed(request.user)


class FeedbackGoodwillApi(ApiAuthMixin, APIView):
    """Give the member goodwill points for this feedback, once (409 the second time). Staff
    with the 'grant goodwill points' permission only; the points go through the ledger as an
    adjustment by that user, with the feedback as its reason."""

    required_scope = None  # staff only: no API key grants points
    extra_permission_classes = (CanGrantGoodwill,)

    class InputSerializer(StrictSerializer):
        points = serializers.IntegerField(min_value=1, max_value=GOODWILL_MAX_POINTS)

    @extend_schema(
        operation_id="feedback_goodwill_grant",
        request=InputSerializer,
        responses={201: FeedbackSerializer},
    )
    def post(self, request: Request, feedback_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback = feedback_goodwill_grant(
            feedback=_visible_feedback(request, feedback_id),
            points=serializer.validated_data["points"],
            actor=request.user,
        )
        return Response(FeedbackSerializer(feedback).data, status=status.HTTP_201_CREATED)
