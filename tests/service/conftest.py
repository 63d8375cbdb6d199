"""A small basket set computed by hand (tests/service/test_suggestions.py says the figures).

Purchases (lines; category "home" unless said):
- P1 anonymous: A, B, C, POST (postage: an excluded sku)
- P2 member M: A, B
- P3 anonymous: A, C, D
- P4 member N: B, D
- P5 member M: A, A (two lines of A), B
- P6 anonymous: E, Z (Z in category "garden")
- a return against P3 with lines A and D: returns never count

Pairs (purchases holding both): A-B 3 (P1, P2, P5), A-C 2 (P1, P3), A-D 1, B-C 1, B-D 1,
C-D 1, E-Z 1.
"""

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from loyalty.ledger.services import LineInput, purchase_record, return_record
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardsSettingsFactory


def line(sku: str, category: str = "home", price: str = "5.00") -> LineInput:
    return LineInput(sku=sku, quantity=Decimal("1"), unit_price=Decimal(price), category=category)


@pytest.fixture
def programme(db: Any) -> Any:
    programme = ProgrammeSettingsFactory(excluded_skus=["POST"])
    RewardsSettingsFactory()
    return programme


@pytest.fixture
def baskets(programme: Any) -> dict[str, Any]:
    m = MemberFactory(first_name="Mary", last_name="Baskets")
    n = MemberFactory(first_name="Ned", last_name="Once")
    now = timezone.now()

    def buy(ref: str, member: Any, *skus: Any) -> Any:
        lines = [s if isinstance(s, LineInput) else line(s) for s in skus]
        amount = sum((item.quantity * item.unit_price for item in lines), Decimal("0"))
        return purchase_record(
            member=member,
            channel="store",
            external_id=ref,
            occurred_at=now,
            amount=amount,
            lines=lines,
        ).transaction

    buy("P1", None, "A", "B", "C", "POST")
    buy("P2", m, "A", "B")
    p3 = buy("P3", None, "A", "C", "D")
    buy("P4", n, "B", "D")
    buy("P5", m, "A", "A", "B")
    buy("P6", None, "E", line("Z", "garden"))
    return_record(
        channel="store",
        external_id="R1",
        occurred_at=now,
        amount=Decimal("10.00"),
        original=p3,
        lines=[line("A"), line("D")],
    )
    return {"m": m, "n": n}
