from datetime import UTC
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.core.api.mixins import ApiAuthMixin, paginate
from loyalty.core.api.pagination import paginated
from loyalty.core.api.strict import (
    CONTROL_CHARACTERS,
    NON_BLANK_TEXT_PATTERN,
    WHITESPACE,
    ConfirmField,
    StrictSerializer,
)
from loyalty.core.scopes import MEMBERS_READ, MEMBERS_WRITE
from members.api.access import viewer
from members.api.serializers import MemberIdentitySerializer, MemberSerializer, StoreSerializer
from members.exceptions import MemberNotFound
from members.models import Consent, Member, MemberIdentity, Store
from members.selectors import MAX_ID, member_get, member_list_for_staff, member_lookup
from members.services import (
    consent_set,
    identity_attach,
    identity_detach,
    member_close,
    member_enroll,
    member_erase,
    member_privacy_export,
    member_reactivate,
    member_suspend,
    member_update,
    store_create,
)

NAME: dict[str, Any] = {"max_length": 100, "required": False, "allow_blank": True}


ConsentsInputSerializer = type(
    "ConsentsInputSerializer",
    (StrictSerializer,),
    {
        "__doc__": "Marketing consent per channel; channels left out stay as they are.",
        "__module__": __name__,
        **{channel: serializers.BooleanField(required=False) for channel in Consent.Channel.values},
    },
)


class ProfileInputSerializer(StrictSerializer):
    """The profile fields members can be enrolled with and updated by (validation only)."""

    full_name = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="The whole name, e.g. Anna Smith or 王小明; left out, made from the parts.",
    )
    first_name = serializers.CharField(**NAME, help_text="Given name, e.g. Anna or 小明.")
    last_name = serializers.CharField(**NAME, help_text="Family name, e.g. Smith or 王.")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True, allow_null=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    street = serializers.CharField(max_length=200, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    postcode = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    home_store = serializers.SlugRelatedField(
        slug_field="code", queryset=Store.objects.all(), required=False, allow_null=True
    )
    interests = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=50
    )
    consents = ConsentsInputSerializer(required=False)

    def validate_consents(self, value: dict) -> dict:
        return {channel: granted for channel, granted in value.items()}


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """Compares in UTC: PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows."""

    def filter(self, qs: QuerySet, value: Any) -> QuerySet:
        if value is not None and timezone.is_aware(value):
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                raise serializers.ValidationError({self.field_name: ["Out of range."]}) from None
        return super().filter(qs, value)


class MemberFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Member.Status.choices)
    store = django_filters.CharFilter(field_name="home_store__code", lookup_expr="iexact")
    channel = django_filters.ChoiceFilter(
        field_name="enrolment_channel", choices=Member.Channel.choices
    )
    enrolled_after = UtcIsoDateTimeFilter(field_name="enrolled_at", lookup_expr="gte")
    enrolled_before = UtcIsoDateTimeFilter(field_name="enrolled_at", lookup_expr="lt")
    # "true" or "false" exactly: a BooleanFilter would read any other word as "no filter"
    email_consent = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")], method="filter_email_consent"
    )
    q = django_filters.CharFilter(method="filter_search", max_length=100)

    class Meta:
        model = Member
        fields = ["status", "store", "channel"]

    def filter_email_consent(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        granted = value == "true"
        return qs.filter(consents__channel=Consent.Channel.EMAIL, consents__granted=granted)

    def filter_search(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        ids = [member.pk for member in member_lookup(query=value, limit=500, among=qs)]
        return qs.filter(pk__in=ids)


def _member_out(member: Member) -> dict:
    return MemberSerializer(member).data


class MemberListApi(ApiAuthMixin, APIView):
    """Members, filtered and paged. `q` searches like the clerk lookup."""

    required_scope = {"GET": MEMBERS_READ, "POST": MEMBERS_WRITE}

    @extend_schema(
        operation_id="members_list",
        parameters=[
            OpenApiParameter("status", str, enum=Member.Status.values),
            OpenApiParameter("store", str, description="home store code"),
            OpenApiParameter("channel", str, enum=Member.Channel.values),
            OpenApiParameter("enrolled_after", OpenApiTypes.DATETIME, description="ISO datetime"),
            OpenApiParameter("enrolled_before", OpenApiTypes.DATETIME, description="ISO datetime"),
            OpenApiParameter("email_consent", bool),
            OpenApiParameter(
                "q",
                {"type": "string", "maxLength": 100},
                description=(
                    "card number, phone, e-mail, external id (as kind:value or the value "
                    "alone) or name start (Latin, Chinese characters or pinyin)"
                ),
            ),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses={200: paginated(MemberSerializer)},
    )
    def get(self, request: Request) -> Response:
        filterset = MemberFilter(
            request.query_params,
            queryset=member_list_for_staff(**viewer(request)).prefetch_related("consents"),
        )
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        return paginate(view=self, queryset=filterset.qs, serializer_class=MemberSerializer)

    class InputSerializer(ProfileInputSerializer):
        # documented: at least one of these four must be given and not blank
        schema_constraints = {
            "anyOf": [
                {
                    "required": [name],
                    "properties": {
                        name: {"type": "string", "minLength": 1, "pattern": NON_BLANK_TEXT_PATTERN}
                    },
                }
                for name in ("full_name", "first_name", "last_name", "email", "phone")
            ]
        }
        channel = serializers.ChoiceField(
            choices=Member.Channel.choices, default=Member.Channel.API
        )
        referral_code = serializers.CharField(max_length=12, required=False, allow_blank=True)

        def validate(self, attrs: dict) -> dict:
            names = ("full_name", "first_name", "last_name", "email", "phone")
            if not any(attrs.get(f) for f in names):
                raise serializers.ValidationError(_("Give at least a name, an e-mail or a phone."))
            return attrs

    @extend_schema(
        operation_id="members_enrol", request=InputSerializer, responses={201: MemberSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        member = member_enroll(**serializer.validated_data, actor=request.user)
        return Response(_member_out(member), status=status.HTTP_201_CREATED)


class MemberDetailApi(ApiAuthMixin, APIView):
    required_scope = {"GET": MEMBERS_READ, "PATCH": MEMBERS_WRITE}

    class InputSerializer(ProfileInputSerializer):
        pass

    @extend_schema(operation_id="members_retrieve", responses={200: MemberSerializer})
    def get(self, request: Request, member_id: int) -> Response:
        return Response(_member_out(member_get(member_id=member_id, **viewer(request))))

    @extend_schema(
        operation_id="members_update", request=InputSerializer, responses={200: MemberSerializer}
    )
    def patch(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        consents = data.pop("consents", {})
        member = member_update(member=member, data=data, actor=request.user)
        for channel, granted in consents.items():
            consent_set(
                member=member, channel=channel, granted=granted, source="api", actor=request.user
            )
        return Response(_member_out(member_get(member_id=member.pk, **viewer(request))))


class MemberStatusChangeApi(ApiAuthMixin, APIView):
    """Suspend, reactivate or close a member; the reason is kept in the member's history."""

    required_scope = MEMBERS_WRITE

    actions = {"suspend": member_suspend, "reactivate": member_reactivate, "close": member_close}

    class InputSerializer(StrictSerializer):
        action = serializers.ChoiceField(choices=["suspend", "reactivate", "close"])
        reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="members_status_change",
        request=InputSerializer,
        responses={200: MemberSerializer},
    )
    def post(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        action = self.actions[serializer.validated_data["action"]]
        member = action(
            member=member, reason=serializer.validated_data["reason"], actor=request.user
        )
        return Response(_member_out(member))


class MemberLookupApi(ApiAuthMixin, APIView):
    """The clerk search: card number (check digit verified), phone, e-mail, an external id
    (`wechat:o6_bmj...` or the id alone) or name start (Latin, Chinese characters, pinyin)."""

    required_scope = MEMBERS_READ

    class FilterSerializer(serializers.Serializer):
        q = serializers.CharField(max_length=100)
        limit = serializers.IntegerField(min_value=1, max_value=50, default=10)

    @extend_schema(
        operation_id="members_lookup",
        parameters=[FilterSerializer],
        responses={200: MemberSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        members = member_lookup(
            query=params.validated_data["q"],
            limit=params.validated_data["limit"],
            among=member_list_for_staff(**viewer(request)),
        )
        return Response(MemberSerializer(members, many=True).data)


class MemberPrivacyExportApi(ApiAuthMixin, APIView):
    required_scope = MEMBERS_READ
    idempotent = False  # a read: its answer (personal data) is never stored for replays

    @extend_schema(
        operation_id="members_privacy_export",
        request=None,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        return Response(member_privacy_export(member=member, actor=request.user))


class MemberEraseApi(ApiAuthMixin, APIView):
    required_scope = MEMBERS_WRITE

    class InputSerializer(StrictSerializer):
        confirm = ConfirmField(message=_("Erasure is irreversible: send confirm=true."))

    @extend_schema(
        operation_id="members_erase", request=InputSerializer, responses={200: MemberSerializer}
    )
    def post(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(_member_out(member_erase(member=member, actor=request.user)))


IDENTITY_VALUE_PATTERN = rf"^[^{WHITESPACE}{CONTROL_CHARACTERS}]+$"


class MemberIdentityListApi(ApiAuthMixin, APIView):
    """A member's ids in other systems (web shop, WeChat, Alipay, partner cards); each finds the
    member in the lookup. POST attaches one: the same id again is a no-op (200), an id another
    member has is a 409 duplicate_identity naming that member."""

    required_scope = {"GET": MEMBERS_READ, "POST": MEMBERS_WRITE}

    class InputSerializer(StrictSerializer):
        kind = serializers.ChoiceField(choices=MemberIdentity.Kind.choices)
        value = serializers.RegexField(
            IDENTITY_VALUE_PATTERN,
            max_length=128,
            trim_whitespace=False,
            help_text="The id in that system, exactly as it gives it (no spaces).",
        )

    @extend_schema(
        operation_id="members_identities_list",
        responses={200: MemberIdentitySerializer(many=True)},
    )
    def get(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        identities = member.identities.order_by("kind", "value")
        return Response(MemberIdentitySerializer(identities, many=True).data)

    @extend_schema(
        operation_id="members_identities_attach",
        request=InputSerializer,
        responses={200: MemberIdentitySerializer, 201: MemberIdentitySerializer},
    )
    def post(self, request: Request, member_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        before = member.identities.count()
        identity = identity_attach(member=member, **serializer.validated_data, actor=request.user)
        created = member.identities.count() > before
        return Response(
            MemberIdentitySerializer(identity).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MemberIdentityDetailApi(ApiAuthMixin, APIView):
    """Remove an external id from the member (it may then be attached to another member)."""

    required_scope = MEMBERS_WRITE

    @extend_schema(operation_id="members_identities_detach", request=None, responses={204: None})
    def delete(self, request: Request, member_id: int, identity_id: int) -> Response:
        member = member_get(member_id=member_id, **viewer(request))
        identity = (
            member.identities.filter(pk=identity_id).first() if identity_id <= MAX_ID else None
        )
        if identity is None:
            raise MemberNotFound("The member has no external id with that id.")
        identity_detach(identity=identity, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StoreListApi(ApiAuthMixin, APIView):
    required_scope = {"GET": MEMBERS_READ, "POST": None}  # creating stores: staff only

    @extend_schema(
        operation_id="stores_list",
        responses={200: paginated(StoreSerializer)},
        parameters=[OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
    )
    def get(self, request: Request) -> Response:
        return paginate(view=self, queryset=Store.objects.all(), serializer_class=StoreSerializer)

    class InputSerializer(StrictSerializer):
        code = serializers.RegexField(r"^[A-Za-z0-9_-]{1,20}$", max_length=20)
        name = serializers.CharField(max_length=120)
        region = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
        active = serializers.BooleanField(default=True)

    @extend_schema(
        operation_id="stores_create", request=InputSerializer, responses={201: StoreSerializer}
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        store = store_create(**serializer.validated_data)
        return Response(StoreSerializer(store).data, status=status.HTTP_201_CREATED)
