"""Tier changes become member messages: the tiers' tier.changed event writes a "tier_changed"
outbox row in the transaction of the change (upgrade on a purchase, downgrade at period end, a
staff change), rendered with the "Tier change" template and sent by the delivery job with its
rules (consent on the channel, weekly frequency cap). The entry tier at enrolment is not told."""

from datetime import date

import pytest
from django.core import mail

from campaigns.messaging import messages_deliver
from campaigns.models import MessageDelivery, MessageTemplate
from loyalty.ledger.models import NotificationOutbox
from loyalty.tiers.services import tier_assign, tier_members_enrolled, tier_period_end_evaluate
from members.services import consent_set
from tests.factories.campaigns import MessageTemplateFactory
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.tiers.conftest import at, clock, enrolled, ladder, policy  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def tier_rows(member):
    return NotificationOutbox.objects.filter(kind="tier_changed", member=member).order_by("pk")


@pytest.fixture
def template(db):
    return MessageTemplateFactory(
        kind=MessageTemplate.Kind.TIER_CHANGED,
        subject="{{ first_name }}, you are now {{ tier }}",
        text="From {{ previous_tier }} ({{ direction }}).",
    )


def test_upgrade_and_period_end_downgrade_are_sent_with_the_template(
    ladder,  # noqa: F811
    enrolled,  # noqa: F811
    clock,  # noqa: F811
    template,
):
    tier_members_enrolled(members=[enrolled])  # the entry tier: no message
    assert not tier_rows(enrolled).exists()
    consent_set(member=enrolled, channel="email", granted=True, source="test")
    clock.set(at(date(2025, 3, 1)))
    earn(enrolled, "600.00", when=clock.now)  # Member -> Gold at once
    upgrade = tier_rows(enrolled).get()
    assert upgrade.payload == {
        "tier": "Gold",
        "previous_tier": "Member",
        "direction": "up",
        "channel": "email",
    }
    assert messages_deliver(now=clock.now) == {"sent": 1}
    assert mail.outbox[-1].subject == f"{enrolled.first_name}, you are now Gold"
    assert mail.outbox[-1].body.startswith("From Member (up).")

    clock.set(at(date(2027, 1, 1), 1))
    assert tier_period_end_evaluate(as_of=date(2027, 1, 1)).downgraded == 1  # the batch path
    downgrade = tier_rows(enrolled).last()
    assert (downgrade.payload["tier"], downgrade.payload["direction"]) == ("Silver", "down")
    assert messages_deliver(now=clock.now) == {"sent": 1}
    assert mail.outbox[-1].subject == f"{enrolled.first_name}, you are now Silver"


def test_no_consent_and_the_weekly_cap_hold_tier_messages_back(
    ladder,  # noqa: F811
    clock,  # noqa: F811
    template,
    settings,
    staff_user,
):
    settings.LOYALTY_MESSAGES_PER_WEEK = 1
    silent, busy = MemberFactory(), MemberFactory()
    consent_set(member=busy, channel="email", granted=True, source="test")
    clock.set(at(date(2025, 3, 1)))
    NotificationOutbox.objects.create(
        member=busy, kind="campaign", payload={"channel": "email"}, dedupe_key="earlier"
    )
    assert messages_deliver(now=clock.now) == {"sent": 1}  # this week's one marketing message
    for member in (silent, busy):
        tier_assign(member=member, tier=ladder["gold"], reason="VIP guest", actor=staff_user)
    assert messages_deliver(now=clock.now) == {"skipped": 2}
    reasons = dict(
        MessageDelivery.objects.filter(outbox__kind="tier_changed").values_list(
            "member_id", "reason"
        )
    )
    assert reasons == {
        silent.pk: "no consent on this channel",
        busy.pk: "weekly frequency cap reached",
    }
