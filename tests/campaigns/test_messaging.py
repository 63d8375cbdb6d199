"""Outbox delivery: consent, weekly cap, unsubscribe, retries with backoff, final failure."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone, translation

from campaigns.messaging import message_deliver, messages_deliver, template_render, unsubscribe
from campaigns.models import MessageDelivery
from loyalty.ledger.models import NotificationOutbox
from members.models import Consent
from members.services import consent_set
from tests.factories.campaigns import CampaignFactory, MessageTemplateFactory, launch
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def outbox(member, kind="campaign", key=None, **payload):
    return NotificationOutbox.objects.create(
        member=member,
        kind=kind,
        payload=payload,
        dedupe_key=key or f"k{NotificationOutbox.objects.count()}",
    )


@pytest.fixture
def consenting(programme):
    member = MemberFactory(first_name="Ada")
    consent_set(member=member, channel="email", granted=True, source="test")
    return member


def test_email_sent_with_template_and_unsubscribe_link(consenting):
    template = MessageTemplateFactory(subject="Hi {{ first_name }}", html="<b>{{ first_name }}</b>")
    row = outbox(consenting, template_id=template.pk)
    assert messages_deliver() == {"sent": 1}
    row.refresh_from_db()
    assert row.status == "sent" and row.sent_at
    message = mail.outbox[0]
    assert message.subject == "Hi Ada" and message.to == [consenting.email]
    assert "/campaigns/unsubscribe/" in message.body
    assert "<b>Ada</b>" in message.alternatives[0][0]
    token = message.extra_headers["List-Unsubscribe"].strip("<>").rstrip("/").split("/")[-1]
    assert unsubscribe(token=token) == consenting
    assert not Consent.objects.get(member=consenting, channel="email").granted
    outbox(consenting)
    assert messages_deliver() == {"skipped": 1}
    assert MessageDelivery.objects.filter(reason="no consent on this channel").count() == 1
    assert unsubscribe(token=token + "x") is None


def test_no_consent_not_sent(programme):
    member = MemberFactory()
    row = outbox(member)
    messages_deliver()
    row.refresh_from_db()
    assert row.status == "failed" and not mail.outbox
    assert row.delivery.status == "skipped"


def test_member_without_an_email_address_is_skipped_not_sent(programme):
    """The e-mail send needs an address: a consenting member without one is skipped first."""
    member = MemberFactory(email=None)
    consent_set(member=member, channel="email", granted=True, source="test")
    row = outbox(member, channel="email")
    assert messages_deliver() == {"skipped": 1}
    row.refresh_from_db()
    assert row.status == "failed" and not mail.outbox
    assert row.delivery.reason == "no e-mail address"


def test_weekly_frequency_cap_for_marketing_only(consenting, settings):
    settings.LOYALTY_MESSAGES_PER_WEEK = 2
    for _ in range(3):
        outbox(consenting)
    outbox(consenting, kind="points_expiring")  # service message: not capped
    counts = messages_deliver()
    assert counts == {"sent": 3, "skipped": 1}
    later = timezone.now() + timedelta(days=8)
    outbox(consenting)
    assert messages_deliver(now=later) == {"sent": 1}


class Broken:
    def send(self, **kwargs):
        raise ConnectionError("gateway down")


def test_retries_with_backoff_then_failed_with_reason(programme, settings):
    settings.LOYALTY_MESSAGE_BACKENDS = {"sms": "tests.campaigns.test_messaging.Broken"}
    settings.LOYALTY_MESSAGE_MAX_ATTEMPTS = 3
    member = MemberFactory()
    consent_set(member=member, channel="sms", granted=True, source="test")
    row = outbox(member, channel="sms")
    now = timezone.now()
    message_deliver(outbox_id=row.pk, now=now)
    delivery = MessageDelivery.objects.get()
    assert delivery.status == "retrying" and delivery.next_attempt_at == now + timedelta(minutes=1)
    assert messages_deliver(now=now) == {}  # not due yet
    message_deliver(outbox_id=row.pk, now=now + timedelta(minutes=1))
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == now + timedelta(minutes=3)
    message_deliver(outbox_id=row.pk, now=now + timedelta(minutes=3))
    delivery.refresh_from_db()
    row.refresh_from_db()
    assert delivery.status == "failed" and "gateway down" in delivery.reason
    assert row.status == "failed" and delivery.attempts == 3


def test_file_backend_for_sms(programme, settings, tmp_path):
    settings.LOYALTY_MESSAGE_FILE = str(tmp_path / "sms.jsonl")
    member = MemberFactory()
    consent_set(member=member, channel="sms", granted=True, source="test")
    outbox(member, channel="sms")
    assert messages_deliver() == {"sent": 1}
    line = json.loads((tmp_path / "sms.jsonl").read_text().splitlines()[0])
    assert line["to"] == member.phone


def test_campaign_launch_queues_messages_for_the_targeted_only(
    programme, django_capture_on_commit_callbacks
):
    members = [MemberFactory() for _ in range(30)]
    for m in members:
        consent_set(member=m, channel="email", granted=True, source="test")
    template = MessageTemplateFactory()
    with django_capture_on_commit_callbacks(execute=True):
        campaign = launch(CampaignFactory(holdout_percent=20, message_template=template))
    targeted = campaign.audience.filter(holdout=False).count()
    assert NotificationOutbox.objects.filter(kind="campaign").count() == targeted < 30
    messages_deliver()
    assert len(mail.outbox) == targeted
    assert "Campaign" in mail.outbox[0].body


def test_preview_renders_for_a_member(programme):
    member = MemberFactory(first_name="Lin")
    template = MessageTemplateFactory(subject="Dear {{ first_name }}")
    assert template_render(template, member=member)["subject"] == "Dear Lin"


@pytest.mark.parametrize(
    ("kind", "payload", "subject"),
    [
        ("points_expiring", {"points": 120, "expires_by": "2027-01-31"}, "120 points expire"),
        ("points_available", {"points": 40}, "40 points are yours"),
        ("birthday", {"points": 0, "voucher": "ABCD-EFGH-JKLM"}, "Voucher ABCD-EFGH-JKLM"),
    ],
)
def test_expiry_available_and_birthday_messages_use_the_template_of_their_kind(
    consenting, kind, payload, subject
):
    from campaigns.models import MessageTemplate

    texts = {
        "points_expiring": "{{ points }} points expire",
        "points_available": "{{ points }} points are yours",
        "birthday": "Voucher {{ voucher }}",
    }
    for each, text in texts.items():
        MessageTemplateFactory(kind=each, subject=text, text=f"{text}, {{{{ first_name }}}}")
    MessageTemplateFactory(kind=MessageTemplate.Kind.CAMPAIGN, subject="not this one")
    outbox(consenting, kind=kind, **payload)
    assert messages_deliver() == {"sent": 1}
    assert mail.outbox[-1].subject == subject
    assert mail.outbox[-1].body.startswith(f"{subject}, Ada")


def test_days_and_times_are_written_for_people_in_the_programme_time_zone(db):
    """Payloads keep ISO; the message writes the day in the active language and a moment in
    the programme's time zone (a Celery task has no request to set it)."""
    ProgrammeSettingsFactory(time_zone="Asia/Shanghai")
    member = MemberFactory(first_name="Lin")
    template = MessageTemplateFactory(
        subject="Until {{ ends_on }}", text="Expire by {{ expires_by }}; ref {{ ref_on }}"
    )
    payload = {
        "ends_on": "2027-03-31",
        "expires_by": "2027-01-31T16:00:00+00:00",  # 1 Feb 00:00 in Shanghai
        "ref_on": "not a day",
    }
    with translation.override("en-gb"):
        english = template_render(template, member=member, payload=payload)
    assert english["subject"] == "Until 31 Mar 2027"
    assert english["text"] == "Expire by 1 Feb 2027 00:00; ref not a day"
    with translation.override("zh-hans"):
        chinese = template_render(template, member=member, payload=payload)
    assert chinese["subject"] == "Until 2027年3月31日"
    assert chinese["text"].startswith("Expire by 2027年2月1日 00:00")


def test_a_message_is_written_in_the_workers_language_whatever_was_active(consenting):
    MessageTemplateFactory(subject="Until {{ ends_on }}", text="Hi")
    outbox(consenting, ends_on="2027-03-31")
    with translation.override("zh-hans"):  # as a request before it on the same thread may leave
        messages_deliver()
    (message,) = mail.outbox
    assert message.subject == "Until 31 Mar 2027"
    assert "Unsubscribe: " in message.body
