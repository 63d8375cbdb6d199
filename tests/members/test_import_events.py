"""Imported members get what enrolled members get (#17.7, #23.3): the enrolment event, consent
rows and events, the starting tier, and the same member.enrolled / member.updated webhooks as
the API, recorded in bulk (one outbox insert per batch); a drawn card number that is taken is
drawn again; a header naming a column twice is refused."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

import members.importing as importing
from loyalty.integrations.models import WebhookDelivery
from loyalty.tiers.models import TierAssignment
from members.models import Consent, ConsentEvent, Member, MemberEvent
from members.services import member_enroll
from tests.factories.integrations import WebhookSubscriptionFactory
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.tiers import standard_ladder

pytestmark = pytest.mark.django_db
IMPORT_URL = reverse("admin:members_member_import")
EVENTS = ["member.enrolled", "member.updated", "tier.changed"]


@pytest.fixture
def ladder(db):
    return standard_ladder()


@pytest.fixture
def subscription(db):
    return WebhookSubscriptionFactory(target_url="http://127.0.0.1:9/hook", event_types=EVENTS)


def deliveries(event_type):
    return list(
        WebhookDelivery.objects.filter(event_type=event_type)
        .order_by("pk")
        .values_list("payload", flat=True)
    )


def assert_enrolled_like_the_api(member, *, granted=()):
    """What member_enroll gives every member, whatever door they came in by."""
    assert member.enrolment_channel == Member.Channel.IMPORT
    assert sorted(member.consents.values_list("channel", "granted")) == sorted(
        (c, c in granted) for c in Consent.Channel.values
    )
    assert sorted(member.consent_events.values_list("channel", flat=True)) == sorted(granted)
    assert list(member.events.values_list("kind", "detail")) == [
        ("enrolled", {"channel": "import", "referred_by": None})
    ]
    current = TierAssignment.objects.get(member=member, valid_to__isnull=True)
    assert (current.tier.code, current.reason) == ("member", "enrolment")


def test_the_api_enrolment_starts_in_the_entry_tier(ladder, subscription):
    member = member_enroll(first_name="Ada", email="ada@example.com", channel="api")

    current = TierAssignment.objects.get(member=member, valid_to__isnull=True)
    assert (current.tier.code, current.reason) == ("member", "enrolment")
    assert [p["to_tier"] for p in deliveries("tier.changed")] == ["member"]


# ------------------------------------------------------------------------- the admin import


def upload(client, text, name="m.csv"):
    return client.post(
        IMPORT_URL,
        {
            "resource": "0",
            "format": "0",
            "import_file": SimpleUploadedFile(name, text.encode(), content_type="text/csv"),
        },
    )


def confirm(client, preview):
    return client.post(
        reverse("admin:members_member_process_import"), preview.context["confirm_form"].initial
    )


def test_admin_import_enrols_like_the_api_and_announces_in_bulk(
    client, superuser, ladder, subscription
):
    client.force_login(superuser)
    StoreFactory(code="LDN01")
    known = MemberFactory(email="known@example.com", first_name="Old", home_store=None)
    text = "member_number,first_name,last_name,email,home_store\n" + "".join(
        f",New{n},Row,new{n}@example.com,LDN01\n" for n in range(5)
    )
    text += f"{known.member_number},Changed,Name,known@example.com,\n"

    preview = upload(client, text)
    assert not WebhookDelivery.objects.exists()  # the preview's dry run is rolled back
    with CaptureQueriesContext(connection) as queries:
        assert confirm(client, preview).status_code == 302

    new = Member.objects.filter(email__startswith="new").order_by("pk")
    assert new.count() == 5
    for member in new:
        assert_enrolled_like_the_api(member)
    enrolled = deliveries("member.enrolled")
    assert sorted(p["member_number"] for p in enrolled) == sorted(m.member_number for m in new)
    assert {p["channel"] for p in enrolled} == {"import"}
    assert {p["home_store"] for p in enrolled} == {"LDN01"}
    assert len(deliveries("tier.changed")) == 5
    # the changed member: an "updated" event naming the fields, and its webhook
    updated = known.events.get()
    assert (updated.kind, sorted(updated.detail["fields"])) == (
        "updated",
        ["first_name", "full_name", "last_name"],  # the full name follows its parts
    )
    assert updated.actor == superuser
    [payload] = deliveries("member.updated")
    assert (payload["member_id"], sorted(payload["fields"])) == (
        known.pk,
        ["first_name", "full_name", "last_name"],
    )
    # one outbox insert per event type for the batch, not one per row
    outbox = [
        q
        for q in queries.captured_queries
        if "integrations_webhookdelivery" in q["sql"]
        and q["sql"].lstrip().upper().startswith("INSERT")
    ]
    assert len(outbox) == 3


def test_admin_import_refuses_a_column_named_twice(client, superuser):
    client.force_login(superuser)
    text = "first_name,email,Email\nAda,ada@example.com,other@example.com\n"

    response = upload(client, text)

    assert response.status_code == 200
    errors = response.context["form"].errors["import_file"]
    assert errors == [
        "The column “email” appears more than once in the header. Keep one and upload the file "
        "again."
    ]
    assert "confirm_form" not in response.context
    assert not Member.objects.exists()


# ---------------------------------------------------------------------- the bulk command


def run(path, *args):
    out = io.StringIO()
    call_command("import_members", str(path), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.parametrize("orm", [False, True], ids=["default path", "orm path"])
def test_bulk_command_enrols_like_the_api_and_announces_in_bulk(
    tmp_path, ladder, subscription, orm
):
    if not orm and connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's; SQLite's default is the ORM path")
    known = MemberFactory(email="known@example.com", first_name="Old")
    known_consent = Consent.objects.create(
        member=known, channel="email", granted=False, changed_at=known.enrolled_at, source="web"
    )
    path = tmp_path / "m.csv"
    path.write_text(
        "first_name,email,email_consent,sms_consent\n"
        "Ada,ada@example.com,yes,no\n"
        "Bob,bob@example.com,no,yes\n"
        "New,known@example.com,yes,\n"
    )

    with CaptureQueriesContext(connection) as queries:
        run(path, *(["--orm"] if orm else []))

    ada, bob = Member.objects.get(first_name="Ada"), Member.objects.get(first_name="Bob")
    assert_enrolled_like_the_api(ada, granted=["email"])
    assert_enrolled_like_the_api(bob, granted=["sms"])
    assert sorted(p["member_number"] for p in deliveries("member.enrolled")) == sorted(
        [ada.member_number, bob.member_number]
    )
    assert len(deliveries("tier.changed")) == 2
    # the known member: an update event and webhook, and its consent change on record
    assert [(e.kind, e.detail) for e in known.events.all()] == [
        ("updated", {"fields": ["first_name"]})
    ]
    assert [p["member_id"] for p in deliveries("member.updated")] == [known.pk]
    known_consent.refresh_from_db()
    assert known_consent.granted is True
    assert list(known.consent_events.values_list("channel", "granted", "source")) == [
        ("email", True, "import")
    ]
    outbox = [
        q
        for q in queries.captured_queries
        if "integrations_webhookdelivery" in q["sql"]
        and q["sql"].lstrip().upper().startswith("INSERT")
    ]
    assert len(outbox) == 3  # enrolled, tier changed, updated: one insert each


def test_a_failed_import_records_no_event(tmp_path, ladder, subscription):
    path = tmp_path / "m.csv"
    path.write_text("first_name,email\nAda,ada@example.com\nBad,not-an-email\n")

    with pytest.raises(CommandError, match="Nothing was written"):
        run(path)

    assert not Member.objects.exists()
    assert not MemberEvent.objects.exists() and not ConsentEvent.objects.exists()
    assert not TierAssignment.objects.exists() and not WebhookDelivery.objects.exists()


def test_the_orm_path_draws_again_when_a_drawn_card_number_is_taken(tmp_path, monkeypatch):
    taken = MemberFactory()
    drawn = iter([taken.member_number, taken.member_number])
    real = importing.new_member_number
    monkeypatch.setattr(importing, "new_member_number", lambda: next(drawn, None) or real())
    path = tmp_path / "m.csv"
    path.write_text("first_name,email\nAda,ada@example.com\nBob,bob@example.com\n")

    out = run(path, "--orm")

    assert "2 new" in out, out
    numbers = list(Member.objects.exclude(pk=taken.pk).values_list("member_number", flat=True))
    assert len(numbers) == 2 and taken.member_number not in numbers
    assert len(set(numbers)) == 2
