"""Output shapes shared by several member endpoints (inputs stay nested in their views)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.core.api.serializers import ReadModelSerializer
from members.models import Member, MemberIdentity, Store

MEMBER_FIELDS = [
    "id",
    "member_number",
    "full_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "street",
    "city",
    "postcode",
    "country",
    "home_store",
    "enrolment_channel",
    "enrolled_at",
    "status",
    "status_reason",
    "status_changed_at",
    "referral_code",
    "interests",
    "consents",
]


class StoreSerializer(ReadModelSerializer):
    class Meta:
        model = Store
        fields = ["id", "code", "name", "region", "active"]
        read_only_fields = fields


class MemberIdentitySerializer(ReadModelSerializer):
    class Meta:
        model = MemberIdentity
        fields = ["id", "kind", "value", "created_at"]
        read_only_fields = fields


class MemberSerializer(ReadModelSerializer):
    home_store: "serializers.SlugRelatedField[Store]" = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    consents = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = MEMBER_FIELDS
        read_only_fields = MEMBER_FIELDS

    @extend_schema_field(serializers.DictField(child=serializers.BooleanField()))
    def get_consents(self, member: Member) -> dict[str, bool]:
        return {consent.channel: consent.granted for consent in member.consents.all()}
