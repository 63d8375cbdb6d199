from datetime import date

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from members import hooks
from members.exceptions import DuplicateMember, InvalidStatusChange, MemberErased
from members.identifiers import is_valid_member_number
from members.models import Consent, ConsentEvent, Member, MemberEvent
from members.services import (
    consent_set,
    member_close,
    member_enroll,
    member_erase,
    member_merge,
    member_privacy_export,
    member_reactivate,
    member_suspend,
    member_update,
)
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db


def enrol(**kwargs):
    defaults = {"first_name": "Jane", "last_name": "Doe", "channel": Member.Channel.STORE}
    return member_enroll(**{**defaults, **kwargs})


def test_enrol_normalises_and_records_history(staff_user):
    store = StoreFactory(code="LDN01")

    member = enrol(
        email=" Jane@Example.COM ",
        phone="07911 123456",
        home_store=store,
        consents={"email": True},
        actor=staff_user,
    )

    assert is_valid_member_number(member.member_number)
    assert member.email == "Jane@example.com"
    assert member.phone == "+447911123456"
    assert member.status == Member.Status.ACTIVE
    consents = dict(member.consents.values_list("channel", "granted"))
    assert consents == {"email": True, "sms": False, "push": False}
    assert member.consent_events.get().source == "store"
    assert member.events.get().kind == MemberEvent.Kind.ENROLLED


def test_enrol_with_bad_contact_gives_field_errors_and_writes_nothing():
    with pytest.raises(ValidationError) as excinfo:
        enrol(email="nope", phone="12")

    assert set(excinfo.value.message_dict) == {"email", "phone"}
    assert Member.objects.count() == 0


def test_duplicate_email_or_phone_is_refused_with_the_existing_id():
    first = enrol(email="a@example.com", phone="+447911123456")

    with pytest.raises(DuplicateMember) as by_email:
        enrol(email="a@EXAMPLE.com")
    with pytest.raises(DuplicateMember) as by_phone:
        enrol(phone="07911 123456")

    assert by_email.value.extra["existing_member_id"] == first.pk
    assert by_phone.value.extra == {"existing_member_id": first.pk, "field": "phone"}


def test_email_uniqueness_in_full_clean_and_in_the_database():
    MemberFactory(email="same@example.com")
    duplicate = MemberFactory.build(email="same@example.com")

    with pytest.raises(ValidationError):
        duplicate.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(email="same@example.com")


def test_phone_uniqueness_in_full_clean_and_in_the_database():
    MemberFactory(phone="+447911000001")

    with pytest.raises(ValidationError):
        MemberFactory.build(phone="+447911000001").full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(phone="+447911000001")


def test_many_members_without_email_or_phone_are_allowed():
    MemberFactory(email=None, phone=None)
    MemberFactory(email=None, phone=None)

    assert Member.objects.filter(email__isnull=True).count() == 2


def test_blank_email_is_refused_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(email="")


def test_bad_check_digit_is_refused_by_full_clean():
    member = MemberFactory.build(member_number="1234567890")

    with pytest.raises(ValidationError) as excinfo:
        member.full_clean()
    assert "member_number" in excinfo.value.message_dict


def test_status_constraint_in_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        MemberFactory(status="frozen")


def test_update_records_field_names_not_values():
    member = enrol(email="old@example.com")

    member_update(member=member, data={"email": "new@example.com", "city": " Leeds "})

    member.refresh_from_db()
    assert member.email == "new@example.com" and member.city == "Leeds"
    event = member.events.filter(kind=MemberEvent.Kind.UPDATED).get()
    assert event.detail == {"fields": ["email", "city"]}


def test_consent_changes_are_kept_as_history():
    member = enrol()

    consent_set(member=member, channel="sms", granted=True, source="app")
    consent_set(member=member, channel="sms", granted=True, source="app")  # no change, no event
    consent_set(member=member, channel="sms", granted=False, source="web")

    assert list(member.consent_events.order_by("pk").values_list("granted", "source")) == [
        (True, "app"),
        (False, "web"),
    ]
    assert Consent.objects.get(member=member, channel="sms").granted is False


def test_status_changes_need_a_reason_and_follow_the_rules():
    member = enrol()

    with pytest.raises(ValidationError):
        member_suspend(member=member, reason=" ")
    member = member_suspend(member=member, reason="card reported stolen")
    assert member.status == Member.Status.SUSPENDED
    with pytest.raises(InvalidStatusChange):
        member_suspend(member=member, reason="again")
    member = member_reactivate(member=member)
    member = member_close(member=member, reason="asked to leave")
    with pytest.raises(InvalidStatusChange):
        member_reactivate(member=member)
    kinds = list(member.events.filter(kind="status_changed").values_list("detail__to", flat=True))
    assert sorted(kinds) == ["active", "closed", "suspended"]


def test_merge_moves_contact_referrals_and_calls_hooks(monkeypatch):
    survivor = enrol(first_name="Jane", email="jane@example.com")
    duplicate = enrol(first_name="Jane", phone="07911 123456", birth_date=date(1990, 5, 1))
    referred = enrol(first_name="Friend", referral_code=duplicate.referral_code)
    calls = []
    monkeypatch.setattr(hooks, "MERGE_HOOKS", [lambda **kw: calls.append(kw)])

    result = member_merge(source=duplicate, target=survivor, reason="same person")

    duplicate.refresh_from_db()
    referred.refresh_from_db()
    assert result.pk == survivor.pk
    assert result.phone == "+447911123456" and result.birth_date == date(1990, 5, 1)
    assert duplicate.phone is None
    assert duplicate.status == Member.Status.CLOSED
    assert duplicate.status_reason == f"merged into {survivor.member_number}"
    assert referred.referred_by_id == survivor.pk
    assert [(c["source"].pk, c["target"].pk) for c in calls] == [(duplicate.pk, survivor.pk)]
    assert MemberEvent.objects.filter(kind=MemberEvent.Kind.MERGED).count() == 2
    with pytest.raises(InvalidStatusChange):
        member_merge(source=duplicate, target=survivor)


def test_merge_into_itself_is_refused():
    member = enrol()

    with pytest.raises(ValidationError):
        member_merge(source=member, target=member)


def test_privacy_export_is_json_and_includes_registered_sections(monkeypatch):
    import json

    member = enrol(email="jane@example.com", consents={"email": True})
    monkeypatch.setattr(hooks, "PRIVACY_SECTIONS", {"points": lambda m: {"balance": 42}})

    data = member_privacy_export(member=member)

    json.dumps(data)
    assert data["member"]["email"] == "jane@example.com"
    assert data["consents"][0]["channel"] == "email"
    assert data["points"] == {"balance": 42}
    assert member.events.filter(kind=MemberEvent.Kind.EXPORTED).exists()


def test_erase_leaves_no_personal_data_anywhere(superuser):
    member = enrol(
        first_name="Jane",
        last_name="Doe",
        email="jane@example.com",
        phone="07911 123456",
        birth_date=date(1990, 5, 1),
        street="1 High Street",
        city="Leeds",
        postcode="LS1 1AA",
        country="gb",
        consents={"email": True},
        interests=["running"],
        external_ref="CRM-77",
    )
    member_update(member=member, data={"last_name": "Doe-Smith"})
    LogEntry.objects.log_actions(
        user_id=superuser.pk,
        queryset=[member],
        action_flag=CHANGE,
        change_message='[{"changed": {"fields": ["Last name"]}}] Jane Doe',
    )
    number = member.member_number
    erase_calls = []
    hooks.ERASE_HOOKS.append(lambda **kw: erase_calls.append(kw["member"].pk))
    try:
        member_erase(member=member)
    finally:
        hooks.ERASE_HOOKS.pop()

    member.refresh_from_db()
    assert member.member_number == number  # retired, never reissued
    assert member.erased_at is not None and member.status == Member.Status.CLOSED
    for field in (
        "first_name",
        "last_name",
        "street",
        "city",
        "postcode",
        "country",
        "external_ref",
    ):
        assert getattr(member, field) == ""
    assert member.email is None and member.phone is None and member.birth_date is None
    assert member.interests == []
    assert not Consent.objects.filter(member=member, granted=True).exists()
    assert set(ConsentEvent.objects.filter(member=member).values_list("source", flat=True)) == {
        "erased"
    }
    log = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(Member))
    assert "Jane" not in log.object_repr and "Doe" not in log.change_message
    everything = str(list(MemberEvent.objects.filter(member=member).values())) + str(
        list(Member.objects.filter(pk=member.pk).values())
    )
    for personal in (
        "Jane",
        "Doe",
        "jane@example.com",
        "7911123456",
        "High Street",
        "Leeds",
        "CRM-77",
        "running",
    ):
        assert personal not in everything, personal
    assert erase_calls == [member.pk]
    with pytest.raises(MemberErased):
        member_update(member=member, data={"first_name": "Back"})
