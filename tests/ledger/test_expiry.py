from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from loyalty.ledger.exceptions import InsufficientPoints
from loyalty.ledger.models import LedgerEntry, NotificationOutbox, PointsLot
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import (
    ledger_reconcile,
    points_earn,
    points_expire_due,
    points_expiry_warn,
    points_redeem,
    points_release_pending,
)
from tests.factories.ledger import earn

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_expiry_ends_at_local_midnight_across_a_dst_change(programme, member):
    programme.expiry_months = 4
    programme.save()
    # available 29 Nov 2025 (GMT) + 4 months = last day 29 Mar 2026, the day clocks go forward
    lot = PointsLot.objects.get(
        entry=points_earn(
            member=member, points=10, idempotency_key="a", occurred_at=utc(2025, 11, 29, 12)
        )
    )

    assert lot.expires_at == utc(2026, 3, 29, 23)  # 30 Mar 00:00 BST
    assert points_expire_due(as_of=utc(2026, 3, 29, 22, 59)) == 0
    assert points_expire_due(as_of=utc(2026, 3, 29, 23, 0)) == 10
    assert account_balance(member=member, as_of=utc(2026, 3, 30)).balance == 0


def test_end_of_next_year_policy_across_the_year_end(programme, member):
    programme.expiry_policy = "end_of_next_year"
    programme.save()
    points_earn(member=member, points=7, idempotency_key="a", occurred_at=utc(2025, 6, 15, 9))

    assert points_expire_due(as_of=utc(2026, 12, 31, 23, 59, 59)) == 0
    assert points_expire_due(as_of=utc(2027, 1, 1, 0, 0)) == 7


def test_months_after_across_the_year_end_clamps_the_month(programme, member):
    programme.expiry_months = 2
    programme.save()
    entry = points_earn(
        member=member, points=5, idempotency_key="a", occurred_at=utc(2025, 12, 31, 15)
    )

    assert PointsLot.objects.get(entry=entry).expires_at == utc(2026, 3, 1, 0)  # last day 28 Feb


def test_expiry_clock_starts_when_points_become_available(programme, member):
    programme.pending_days = 30
    programme.expiry_months = 1
    programme.save()
    result = earn(member, "10", when=utc(2026, 1, 10, 12))

    lot = PointsLot.objects.get(entry=result.entries[0])
    assert lot.available_from == utc(2026, 2, 9, 12)
    assert lot.expires_at == utc(2026, 3, 10, 0)


def test_fifo_spend_then_expire_removes_only_the_unspent_points(programme, member):
    now = timezone.now()
    old = points_earn(
        member=member, points=10, idempotency_key="old", occurred_at=now - timedelta(days=120)
    )
    new = points_earn(
        member=member, points=10, idempotency_key="new", occurred_at=now - timedelta(days=10)
    )
    points_redeem(member=member, points=12, source_type="t", source_id="1", idempotency_key="r")

    # 12-month expiry: the old lot ends about 8 months from now, the new one about 12
    after_old_expiry = points_expire_due(as_of=now + timedelta(days=300))
    after_new_expiry = points_expire_due(as_of=now + timedelta(days=400))

    assert after_old_expiry == 0  # the old lot was spent entirely: nothing of it expires
    assert after_new_expiry == 8
    assert PointsLot.objects.get(entry=old).remaining == 0
    assert PointsLot.objects.get(entry=new).remaining == 0
    assert ledger_reconcile() == []


def test_expiry_runs_once_per_lot(programme, member):
    points_earn(member=member, points=10, idempotency_key="a", occurred_at=utc(2025, 1, 10))

    first = points_expire_due(as_of=utc(2026, 2, 1))
    second = points_expire_due(as_of=utc(2026, 2, 1))
    third = points_expire_due(as_of=utc(2026, 3, 1))

    assert (first, second, third) == (10, 0, 0)
    assert LedgerEntry.objects.filter(kind="expire").count() == 1
    assert account_balance(member=member, as_of=utc(2026, 3, 1)).balance == 0


def test_expiry_of_many_accounts_in_batches(programme):
    from tests.factories.members import MemberFactory

    members = MemberFactory.create_batch(7)
    for index, m in enumerate(members):
        points_earn(member=m, points=index + 1, idempotency_key="a", occurred_at=utc(2025, 1, 10))

    expired = points_expire_due(as_of=utc(2026, 2, 1), batch=3)

    assert expired == sum(range(1, 8))
    assert LedgerEntry.objects.filter(kind="expire").count() == 7
    assert ledger_reconcile() == []


def test_expiry_warning_goes_to_the_outbox_once(programme, member):
    points_earn(member=member, points=10, idempotency_key="a", occurred_at=utc(2025, 1, 10))

    first = points_expiry_warn(as_of=utc(2025, 12, 20), days=30)
    again = points_expiry_warn(as_of=utc(2025, 12, 21), days=30)
    too_early = points_expiry_warn(as_of=utc(2025, 6, 1), days=30)

    message = NotificationOutbox.objects.get()
    assert (first, again, too_early) == (1, 0, 0)
    assert message.kind == "points_expiring" and message.payload["points"] == 10


def test_release_tells_members_once_pending_points_are_available(programme, member):
    programme.pending_days = 14
    programme.save()
    earn(member, "10", when=utc(2026, 1, 1, 10))

    before = points_release_pending(as_of=utc(2026, 1, 14, 10))
    released = points_release_pending(as_of=utc(2026, 1, 15, 11))
    again = points_release_pending(as_of=utc(2026, 1, 15, 12))

    assert (before, released, again) == (0, 1, 0)
    assert NotificationOutbox.objects.get().kind == "points_available"


def test_points_past_expiry_cannot_be_spent_before_the_job_runs(programme, member):
    points_earn(
        member=member,
        points=10,
        idempotency_key="stale",
        occurred_at=timezone.now() - timedelta(days=500),
    )
    points_earn(member=member, points=4, idempotency_key="fresh")

    balance = account_balance(member=member)
    with pytest.raises(InsufficientPoints):
        points_redeem(member=member, points=5, source_type="t", source_id="1", idempotency_key="r")

    assert (balance.balance, balance.available, balance.awaiting_expiry) == (4, 4, 10)
    assert points_expire_due(as_of=timezone.now()) == 10
    assert account_balance(member=member).balance == 4
    assert ledger_reconcile() == []


def test_expiry_is_set_based_the_query_count_does_not_grow_with_the_lots(programme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories.members import MemberFactory

    few, many = MemberFactory(), MemberFactory()
    old = utc(2025, 1, 10)
    for n in range(2):
        points_earn(member=few, points=1, idempotency_key=f"f{n}", occurred_at=old)
    for n in range(40):
        points_earn(member=many, points=1, idempotency_key=f"m{n}", occurred_at=old)

    with CaptureQueriesContext(connection) as first:
        assert points_expire_due(as_of=utc(2026, 2, 1, 0)) == 42
    for n in range(3):
        points_earn(member=few, points=1, idempotency_key=f"f2{n}", occurred_at=utc(2025, 2, 10))
    with CaptureQueriesContext(connection) as second:
        assert points_expire_due(as_of=utc(2026, 3, 1, 0)) == 3

    assert len(first.captured_queries) == len(second.captured_queries)
    assert LedgerEntry.objects.filter(kind="expire").count() == 3
    assert ledger_reconcile() == []


def test_expiry_events_look_up_webhook_subscriptions_once_per_batch(
    programme, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loyalty.integrations.models import WebhookDelivery
    from tests.factories.integrations import WebhookSubscriptionFactory
    from tests.factories.members import MemberFactory

    members = MemberFactory.create_batch(6)
    for index, m in enumerate(members):
        points_earn(member=m, points=index + 1, idempotency_key="a", occurred_at=utc(2025, 1, 10))
    WebhookSubscriptionFactory(target_url="http://127.0.0.1:9/x", event_types=["points.expired"])

    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert points_expire_due(as_of=utc(2026, 2, 1)) == 21

    lookups = [  # who listens (the deliveries' own sending, eager in tests, reads more)
        q for q in queries if ' FROM "integrations_webhooksubscription" INNER JOIN' in q["sql"]
    ]
    assert len(lookups) == 1  # one for the batch's six events, not one per member
    deliveries = WebhookDelivery.objects.filter(event_type="points.expired")
    assert sorted((d.payload["member_id"], d.payload["points"]) for d in deliveries) == [
        (m.pk, index + 1) for index, m in enumerate(members)
    ]
