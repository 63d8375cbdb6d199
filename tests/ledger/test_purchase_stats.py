"""MemberPurchaseStats stays equal to a recomputation from the transactions: after purchases,
returns (partial, several), the bulk import, the per-invoice import, a member merge and a rebuild."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from loyalty.ledger.models import MemberPurchaseStats, Transaction
from loyalty.ledger.services import return_record
from loyalty.ledger.stats import purchase_stats_refresh
from members.services import member_merge
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.ledger.imports.test_bulk_equivalence import run_import, synthetic_file

pytestmark = pytest.mark.django_db


def stats() -> dict:
    return {
        s.member_id: (s.purchase_count, s.spend, s.first_purchase_at, s.last_purchase_at)
        for s in MemberPurchaseStats.objects.all()
    }


def expected() -> dict:
    """Straight from the transactions, in Python."""
    out: dict = {}
    for t in Transaction.objects.filter(member__isnull=False).order_by("pk"):
        count, spend, first, last = out.get(t.member_id, (0, Decimal("0"), None, None))
        if t.kind == Transaction.Kind.PURCHASE:
            count += 1
            spend += t.amount
            first = t.occurred_at if first is None else min(first, t.occurred_at)
            last = t.occurred_at if last is None else max(last, t.occurred_at)
        else:
            spend -= t.amount
        out[t.member_id] = (count, spend, first, last)
    return out


def test_purchases_and_returns_keep_the_stats(programme):
    a, b, c = MemberFactory(), MemberFactory(), MemberFactory()
    now = timezone.now()
    first = earn(a, "40.00", when=now - timedelta(days=30)).transaction
    earn(a, "10.50", when=now - timedelta(days=60))  # earlier than the first one recorded
    earn(a, "5.00", when=now - timedelta(days=1))
    earn(b, "99.99", when=now - timedelta(hours=2))
    for n, amount in enumerate(("15.00", "5.00")):
        return_record(
            channel="store",
            external_id=f"R{n}",
            occurred_at=now - timedelta(hours=n + 1),
            amount=Decimal(amount),
            original=first,
        )
    # replaying a purchase (same external id) counts nothing twice
    earn(b, "99.99", when=now - timedelta(hours=2), external_id="B1")
    earn(b, "99.99", when=now - timedelta(hours=2), external_id="B1")
    got = stats()
    assert got == expected()
    assert got[a.pk][:2] == (3, Decimal("35.50"))
    assert got[a.pk][2] == now - timedelta(days=60)
    assert got[a.pk][3] == now - timedelta(days=1)
    assert got[b.pk][:2] == (2, Decimal("199.98"))
    assert c.pk not in got  # no purchase, no row


def test_rebuild_command_and_refresh_give_the_same_rows(programme):
    members = [MemberFactory() for _ in range(3)]
    for n, m in enumerate(members):
        for k in range(n + 1):
            earn(m, f"{10 + k}.25", when=timezone.now() - timedelta(days=k))
    kept = stats()
    MemberPurchaseStats.objects.filter(member=members[0]).update(purchase_count=99)
    MemberPurchaseStats.objects.filter(member=members[1]).delete()
    assert purchase_stats_refresh([members[0].pk, members[1].pk]) == 2
    assert stats() == kept
    MemberPurchaseStats.objects.all().delete()
    out = StringIO()
    call_command("rebuild_purchase_stats", stdout=out)
    assert out.getvalue().startswith("3 members' purchase statistics")
    assert stats() == kept == expected()


@pytest.mark.parametrize("path", ["bulk", "per-invoice"])
def test_imports_keep_the_stats(programme, tmp_path, path):
    csv = synthetic_file(tmp_path / "retail.csv", seed=5)
    run_import(csv, tmp_path, *(["--per-invoice"] if path == "per-invoice" else []))
    got = stats()
    assert len(got) >= 5
    assert got == expected()
    # a second import of the same file adds nothing
    run_import(csv, tmp_path)
    assert stats() == got


def test_member_merge_keeps_the_stats(programme):
    source, target = MemberFactory(), MemberFactory()
    earn(source, "20.00", when=timezone.now() - timedelta(days=3))
    earn(target, "30.00", when=timezone.now() - timedelta(days=2))
    member_merge(source=source, target=target, reason="duplicate")
    earn(target, "5.00")
    assert stats() == expected()
    assert stats()[target.pk][0] == 2
