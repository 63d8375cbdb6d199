from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.integrations.models import WebhookDelivery
from loyalty.ledger.services import purchase_record
from loyalty.tiers.services import tier_assign
from tests.factories.integrations import WebhookSubscriptionFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder

pytestmark = pytest.mark.django_db


def test_an_upgrade_is_announced_between_the_purchase_and_the_gift(
    programme, member, superuser, django_capture_on_commit_callbacks
):
    TierPolicyFactory()
    ladder = standard_ladder()
    WebhookSubscriptionFactory(
        target_url="http://127.0.0.1:9/x", event_types=["points.earned", "tier.changed"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        purchase_record(
            member=member,
            channel="store",
            external_id="BIG-1",
            occurred_at=timezone.now(),
            amount=Decimal("150.00"),
        )
    with django_capture_on_commit_callbacks(execute=True):
        tier_assign(member=member, tier=ladder["member"], reason="test", actor=superuser)

    events = [(d.event_type, d.payload) for d in WebhookDelivery.objects.order_by("pk")]
    assert [e for e, _ in events] == [
        "points.earned",
        "tier.changed",
        "points.earned",
        "tier.changed",
    ]
    up, down = events[1][1], events[3][1]
    assert (up["from_tier"], up["to_tier"], up["direction"]) == (None, "silver", "up")
    assert (down["from_tier"], down["to_tier"], down["direction"]) == ("silver", "member", "down")
    assert (down["reason"], down["member_number"]) == ("manual", member.member_number)
    assert (events[0][1]["points"], events[2][1]["points"]) == (150, 50)  # purchase, then gift
