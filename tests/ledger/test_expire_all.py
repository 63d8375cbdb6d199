"""Issue 16 item 13: expiry in days; "expire all / reset" with a preview, an audit entry and a
Celery task with progress; closing or erasing a member forfeits their live points through
ledger entries so the liability drops to zero."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from loyalty.ledger.models import LedgerEntry, PointsExpiryRun, PointsLot, ProgrammeSettings
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import ledger_reconcile, points_earn, points_redeem
from loyalty.ledger.services.expire_all import (
    points_expiry_run_create,
    points_expiry_run_execute,
    points_expiry_run_start,
)
from members.services import member_close, member_erase
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def live(member) -> int:
    balance = account_balance(member=member)
    return balance.available + balance.pending + balance.awaiting_expiry


# ------------------------------------------------------------------------------ expiry in days


def test_points_can_expire_after_a_number_of_days(programme, member):
    programme.expiry_policy = ProgrammeSettings.ExpiryPolicy.DAYS_AFTER
    programme.expiry_days = 90
    programme.full_clean()
    programme.save()

    entry = points_earn(member=member, points=10, idempotency_key="a", occurred_at=utc(2026, 3, 1))

    # available 1 March (London) + 90 days: the last valid day is 30 May (BST)
    assert PointsLot.objects.get(entry=entry).expires_at == utc(2026, 5, 30, 23)


def test_a_days_policy_needs_its_days(programme):
    programme.expiry_policy = ProgrammeSettings.ExpiryPolicy.DAYS_AFTER
    programme.expiry_days = None

    with pytest.raises(ValidationError) as caught:
        programme.full_clean()
    assert "expiry_days" in caught.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        programme.save()


def test_the_settings_form_offers_days(client, superuser, programme):
    client.force_login(superuser)
    url = reverse("admin:ledger_programmesettings_change", args=[1])
    data = {
        "name": "P",
        "currency": "GBP",
        "time_zone": "Europe/London",
        "phone_region": "GB",
        "points_per_unit": "1",
        "rounding": "floor",
        "minimum_spend": "0",
        "excluded_skus": "[]",
        "excluded_categories": "[]",
        "pending_days": "0",
        "expiry_policy": "days_after",
        "expiry_months": "12",
        "expiry_warning_days": "30",
        "point_value": "0.01",
        "return_policy": "debt",
    }

    missing = client.post(url, {**data, "expiry_days": ""})
    saved = client.post(url, {**data, "expiry_days": "90"})

    assert missing.status_code == 200 and b"Give the number of days" in missing.content
    assert saved.status_code == 302
    assert ProgrammeSettings.objects.get().expiry_days == 90


# ------------------------------------------------------------------------------ expire all


@pytest.fixture
def history(programme):
    """Ann: 100 earned in January, 30 of them spent, 50 earned in March; Bob: 40 pending from
    28 February; Cy: 70 earned after the cut-off day (28 February)."""
    programme.pending_days = 0
    programme.save()
    ann, bob, cy = MemberFactory(), MemberFactory(), MemberFactory()
    points_earn(member=ann, points=100, idempotency_key="a1", occurred_at=utc(2026, 1, 10))
    points_redeem(member=ann, points=30, source_type="t", source_id="1", idempotency_key="r")
    points_earn(member=ann, points=50, idempotency_key="a2", occurred_at=utc(2026, 3, 2))
    points_earn(
        member=bob, points=40, idempotency_key="b", occurred_at=utc(2026, 2, 28), pending=True
    )
    points_earn(member=cy, points=70, idempotency_key="c", occurred_at=utc(2026, 3, 1, 0, 30))
    return ann, bob, cy


def test_expire_all_previews_then_expires_every_live_point_up_to_the_day(
    history, superuser, django_capture_on_commit_callbacks
):
    ann, bob, cy = history
    run = points_expiry_run_create(
        as_of_date=date(2026, 2, 28), reason="Programme relaunch", actor=superuser
    )
    assert (run.preview_members, run.preview_points) == (2, 110)  # Ann's 70 left, Bob's 40
    assert run.preview_liability == Decimal("1.10")
    assert live(ann) + live(bob) == 160  # nothing expired by the preview

    with django_capture_on_commit_callbacks(execute=True):  # the task runs eagerly in tests
        points_expiry_run_start(run=run, actor=superuser)

    run.refresh_from_db()
    assert (run.status, run.members_done, run.points_expired) == ("done", 2, 110)
    assert (live(ann), live(bob), live(cy)) == (50, 0, 70)
    entries = LedgerEntry.objects.filter(kind="expire", source_type="expiry_run")
    assert sorted(e.amount for e in entries) == [-70, -40]
    assert {e.reason for e in entries} == {"Programme relaunch"}
    assert {e.created_by for e in entries} == {superuser}
    assert ledger_reconcile() == []
    # the audit entry: created, then started, then done, each with its user
    assert [h.status for h in run.history.order_by("history_id")] == ["previewed", "queued", "done"]


def test_expire_all_is_safe_to_run_again(history, superuser):
    run = points_expiry_run_create(as_of_date=date(2026, 2, 28), reason="reset", actor=superuser)
    PointsExpiryRun.objects.filter(pk=run.pk).update(status="queued")
    points_expiry_run_execute(run_id=run.pk, batch=1)  # progress saved per account
    PointsExpiryRun.objects.filter(pk=run.pk).update(status="running")  # as if a retry

    again = points_expiry_run_execute(run_id=run.pk)

    assert again.points_expired == 110
    assert LedgerEntry.objects.filter(kind="expire").count() == 2
    with pytest.raises(Exception, match="already started"):
        points_expiry_run_start(run=again, actor=superuser)


def test_expire_all_refuses_a_future_day_or_no_reason(programme, superuser):
    tomorrow = timezone.localdate() + timedelta(days=2)
    with pytest.raises(ValidationError) as caught:
        points_expiry_run_create(as_of_date=tomorrow, reason=" ", actor=superuser)
    assert set(caught.value.message_dict) == {"as_of_date", "reason"}
    assert not PointsExpiryRun.objects.exists()


def test_the_admin_shows_the_preview_and_only_permitted_staff_start_a_run(
    client, staff_user, superuser, history, django_capture_on_commit_callbacks
):
    add = reverse("admin:ledger_pointsexpiryrun_add")
    changelist = reverse("admin:ledger_pointsexpiryrun_changelist")
    staff_user.user_permissions.add(Permission.objects.get(codename="view_pointsexpiryrun"))
    client.force_login(staff_user)
    assert client.get(add).status_code == 403
    listing = client.get(changelist)
    assert b"Start the selected expiry runs" not in listing.content

    client.force_login(superuser)
    future = client.post(add, {"as_of_date": "2999-01-01", "reason": "x"})
    created = client.post(add, {"as_of_date": "2026-02-28", "reason": "Relaunch"}, follow=True)
    run = PointsExpiryRun.objects.get()
    page = client.get(changelist)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(changelist, {"action": "start_runs", "_selected_action": [run.pk]})

    assert future.status_code == 200 and b"Choose today or a day in the past" in future.content
    assert b"Preview: 2 members, 110 points, liability 1.10" in created.content
    assert b"0 of 2 members" in page.content
    assert started.status_code == 302
    run.refresh_from_db()
    assert (run.status, run.started_by, run.points_expired) == ("done", superuser, 110)


# ------------------------------------------------------------------------------ close / erase


@pytest.fixture
def holder(programme):
    programme.pending_days = 14
    programme.save()
    member = MemberFactory()
    points_earn(member=member, points=60, idempotency_key="avail")
    points_earn(member=member, points=25, idempotency_key="pend", pending=True)
    return member


@pytest.mark.parametrize("how", ["close", "erase"])
def test_closing_or_erasing_a_member_forfeits_their_points(holder, superuser, how):
    before = account_balance(member=holder)
    assert (before.available, before.pending) == (60, 25)

    if how == "close":
        member_close(member=holder, reason="asked to leave", actor=superuser)
    else:
        member_erase(member=holder, actor=superuser)

    after = account_balance(member=holder)
    assert (after.available, after.pending, after.balance) == (0, 0, 0)
    entry = LedgerEntry.objects.get(kind="expire")
    assert entry.amount == -85 and entry.source_type == f"member_{how}d"
    assert entry.reason == ("member closed: asked to leave" if how == "close" else "member erased")
    assert ledger_reconcile() == []


def test_closing_through_the_api_drops_the_liability(holder, admin_api_client):
    response = admin_api_client.post(
        reverse("members:status", args=[holder.pk]),
        {"action": "close", "reason": "fraud"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert live(holder) == 0
    assert LedgerEntry.objects.filter(kind="expire", source_type="member_closed").count() == 1
