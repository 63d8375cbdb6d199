"""Renewal reminders: queued once per term, the plan's template, delivered only with e-mail
consent and within the weekly cap of marketing messages (campaigns.messaging)."""

import pytest
from django.core import mail

from campaigns.membership.services import club_daily, club_renewal_reminders_queue
from campaigns.messaging import messages_deliver
from campaigns.models import MessageDelivery, MessageTemplate
from loyalty.ledger.models import NotificationOutbox
from tests.factories.campaigns import MessageTemplateFactory
from tests.factories.members import ConsentFactory, MemberFactory
from tests.factories.membership import joined

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(programme):
    return MessageTemplateFactory(
        name="Club renewal",
        kind=MessageTemplate.Kind.OTHER,
        subject="Your {{ plan }} renews soon",
        text="Hello {{ first_name }}, your membership is paid until {{ ends_on }} ({{ fee }}).",
    )


def test_the_reminder_is_queued_reminder_days_before_the_end_once(clock, member, plan, template):
    plan.reminder_template = template
    plan.save()
    joined(member, plan)  # paid until 9 Jan 2027, reminder 7 days before
    clock.at(2027, 1, 1, 9, 0)
    assert club_renewal_reminders_queue() == 0
    clock.at(2027, 1, 2, 9, 0)
    assert club_renewal_reminders_queue() == 1
    clock.at(2027, 1, 3, 9, 0)
    assert club_renewal_reminders_queue() == 0  # once per term
    row = NotificationOutbox.objects.get()
    assert row.kind == "club_renewal" and row.payload["template_id"] == template.pk


def test_it_is_sent_with_consent_through_the_plans_template(clock, member, plan, template):
    plan.reminder_template = template
    plan.save()
    ConsentFactory(member=member)
    joined(member, plan)
    clock.at(2027, 1, 5, 9, 0)
    club_daily()
    messages_deliver()
    (message,) = mail.outbox
    assert message.subject == "Your Plus club renews soon"
    assert "paid until 9 Jan 2027 (36.50)" in message.body


def test_no_consent_no_message(clock, member, plan, template):
    joined(member, plan)
    clock.at(2027, 1, 5, 9, 0)
    club_renewal_reminders_queue()
    messages_deliver()
    assert not mail.outbox
    assert MessageDelivery.objects.get().reason == "no consent on this channel"


def test_the_weekly_cap_of_marketing_messages_applies(clock, plan, template, settings):
    settings.LOYALTY_MESSAGES_PER_WEEK = 1
    member = MemberFactory()
    ConsentFactory(member=member)
    joined(member, plan)
    clock.at(2027, 1, 4, 9, 0)
    NotificationOutbox.objects.create(
        member=member, kind="campaign", payload={"channel": "email"}, dedupe_key="earlier"
    )
    messages_deliver()
    assert len(mail.outbox) == 1
    clock.at(2027, 1, 5, 9, 0)
    club_renewal_reminders_queue()
    messages_deliver()
    assert len(mail.outbox) == 1
    reminder = MessageDelivery.objects.get(outbox__kind="club_renewal")
    assert (reminder.status, reminder.reason) == ("skipped", "weekly frequency cap reached")
