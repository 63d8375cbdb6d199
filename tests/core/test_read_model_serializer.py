"""ReadModelSerializer keeps the fields DRF builds from the model once per class: the output must
be what a plain ModelSerializer gives, and one instance's fields must not leak into another's."""

import pytest
from rest_framework import serializers

from members.api.serializers import MEMBER_FIELDS, MemberSerializer, StoreSerializer
from members.models import Member
from tests.factories.members import ConsentFactory, MemberFactory

pytestmark = pytest.mark.django_db


class PlainMemberSerializer(serializers.ModelSerializer):
    home_store = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    consents = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = MEMBER_FIELDS

    def get_consents(self, member: Member) -> dict[str, bool]:
        return {consent.channel: consent.granted for consent in member.consents.all()}


def test_output_is_what_a_plain_model_serializer_gives():
    members = MemberFactory.create_batch(3)
    ConsentFactory(member=members[0])
    for _ in range(2):  # the second round uses the kept fields
        assert MemberSerializer(members, many=True).data == (
            PlainMemberSerializer(members, many=True).data
        )


def test_each_instance_gets_its_own_fields():
    first = MemberSerializer()
    first.fields["email"].label = "changed on one instance"
    assert MemberSerializer().fields["email"].label != "changed on one instance"
    assert MemberSerializer().fields["email"] is not first.fields["email"]


def test_fields_are_kept_per_class():
    assert list(MemberSerializer().fields) == MEMBER_FIELDS
    assert list(StoreSerializer().fields) == ["id", "code", "name", "region", "active"]
    assert list(MemberSerializer().fields) == MEMBER_FIELDS
