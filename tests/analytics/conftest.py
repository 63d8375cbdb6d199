"""A small programme history with hand-computed KPIs (see the numbers in each test).

Programme: Europe/London, 1 point per unit (floor), no pending window, point value 0.01.
Stores S1 and S2. June 2026 is British Summer Time (UTC+1): local midnight is 23:00 UTC.

| member | home | enrolled (local) | purchases (local time, store, amount) |
|---|---|---|---|
| A | S1 | 2026-03-01 | 2026-06-05 12:00 S1 100.00; 2026-06-20 12:00 S1 50.00 (25.00 returned 2026-07-03) |
| B | S1 | 2026-06-10 | 2026-06-01 00:30 S2 30.00 (2026-05-31 23:30 UTC); 2026-07-01 00:30 S1 20.00 (2026-06-30 23:30 UTC) |
| C | S2 | 2026-06-20 | none |
| D | S2 | 2025-01-01 | 2025-06-01 12:00 S2 60.00 |
anonymous: 2026-06-10 S1 40.00 (customer_ref X1); 2026-06-11 S1 10.00 (no reference)
Tiers (set after the purchases, as history rows): A silver from 2026-01-01 to 2026-06-15, then
gold; B silver from 2026-06-10.
"""

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from loyalty.ledger.services import purchase_record, return_record
from loyalty.tiers.models import TierAssignment
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.tiers import TierAssignmentFactory, TierFactory

LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.fixture
def programme(db):
    return ProgrammeSettingsFactory(point_value=Decimal("0.01"))


@pytest.fixture
def history(programme):
    s1 = StoreFactory(code="S1")
    s2 = StoreFactory(code="S2")
    a = MemberFactory(home_store=s1, enrolled_at=local(2026, 3, 1, 9), country="GB")
    b = MemberFactory(home_store=s1, enrolled_at=local(2026, 6, 10, 9), country="FR")
    c = MemberFactory(home_store=s2, enrolled_at=local(2026, 6, 20, 9), country="GB")
    d = MemberFactory(home_store=s2, enrolled_at=local(2025, 1, 1, 9), country="GB")

    def buy(member, when, store, amount, ref="", external_id=None):
        return purchase_record(
            member=member,
            channel="store",
            external_id=external_id or f"P-{when.isoformat()}-{amount}",
            occurred_at=when,
            amount=Decimal(amount),
            store=store,
            customer_ref=ref,
        )

    buy(a, local(2026, 6, 5, 12), s1, "100.00")
    a_june20 = buy(a, local(2026, 6, 20, 12), s1, "50.00")
    buy(b, datetime(2026, 5, 31, 23, 30, tzinfo=UTC), s2, "30.00")
    buy(b, datetime(2026, 6, 30, 23, 30, tzinfo=UTC), s1, "20.00")
    buy(d, local(2025, 6, 1, 12), s2, "60.00")
    buy(None, local(2026, 6, 10, 12), s1, "40.00", ref="X1")
    buy(None, local(2026, 6, 11, 12), s1, "10.00")
    return_record(
        channel="store",
        external_id="R-A-1",
        occurred_at=local(2026, 7, 3, 12),
        amount=Decimal("25.00"),
        original=a_june20.transaction,
        member=a,
        store=s1,
    )
    silver = TierFactory(code="silver", name="Silver", rank=1, threshold=Decimal("100000"))
    gold = TierFactory(code="gold", name="Gold", rank=2, threshold=Decimal("200000"))
    TierAssignmentFactory(
        member=a, tier=silver, valid_from=local(2026, 1, 1), valid_to=local(2026, 6, 15, 10)
    )
    TierAssignmentFactory(
        member=a, tier=gold, previous_tier=silver, valid_from=local(2026, 6, 15, 10)
    )
    TierAssignmentFactory(member=b, tier=silver, valid_from=local(2026, 6, 10, 9))
    assert TierAssignment.objects.count() == 3
    return SimpleNamespace(a=a, b=b, c=c, d=d, s1=s1, s2=s2, silver=silver, gold=gold)
