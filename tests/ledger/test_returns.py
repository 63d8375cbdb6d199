from decimal import Decimal

import pytest
from django.utils import timezone

from loyalty.ledger.exceptions import ReturnExceedsPurchase, TransactionConflict
from loyalty.ledger.models import LedgerEntry, PointsLot, Transaction
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import ledger_reconcile, points_redeem, purchase_record, return_record
from members.exceptions import MemberNotActive
from tests.factories.ledger import earn

pytestmark = pytest.mark.django_db


def give_back(original, amount, external_id):
    return return_record(
        channel="store",
        external_id=external_id,
        occurred_at=timezone.now(),
        amount=Decimal(amount),
        original=original,
    )


def test_partial_returns_reverse_in_proportion_and_never_more_than_earned(programme, member):
    purchase = earn(member, "99.00").transaction  # 99 points

    first = give_back(purchase, "33.00", "R1")  # 1/3 -> 33
    second = give_back(purchase, "33.00", "R2")  # 2/3 -> 66 in total
    third = give_back(purchase, "33.00", "R3")  # all -> 99 in total

    assert [first.points_reversed, second.points_reversed, third.points_reversed] == [33, 33, 33]
    with pytest.raises(ReturnExceedsPurchase):
        give_back(purchase, "0.01", "R4")
    assert account_balance(member=member).balance == 0
    assert ledger_reconcile() == []


def test_rounding_of_partial_returns_is_cumulative(programme, member):
    purchase = earn(member, "10.00").transaction  # 10 points
    reversed_total = sum(give_back(purchase, "3.33", f"R{i}").points_reversed for i in range(3))
    last = give_back(purchase, "0.01", "R9").points_reversed

    assert reversed_total + last == 10  # never 9 (lost) nor 11 (too many)


def test_return_after_the_points_were_spent_makes_a_debt_repaid_by_later_earnings(
    programme, member
):
    purchase = earn(member, "50").transaction
    points_redeem(member=member, points=50, source_type="t", source_id="1", idempotency_key="spend")

    give_back(purchase, "50", "R1")
    owed = account_balance(member=member)
    earn(member, "30")
    after = account_balance(member=member)

    assert (owed.balance, owed.debt, owed.available) == (-50, 50, 0)
    assert (after.balance, after.debt, after.available) == (-20, 20, 0)
    assert ledger_reconcile() == []


def test_return_after_spend_with_cap_policy_records_the_shortfall(programme, member):
    programme.return_policy = "cap"
    programme.save()
    purchase = earn(member, "50").transaction
    points_redeem(member=member, points=40, source_type="t", source_id="1", idempotency_key="spend")

    result = give_back(purchase, "50", "R1")

    entry = result.entries[0]
    assert result.points_reversed == 10
    assert entry.metadata["uncollected"] == 40
    assert account_balance(member=member).balance == 0
    assert ledger_reconcile() == []


def test_return_takes_the_purchase_own_lot_first(programme, member):
    earn(member, "10")
    purchase = earn(member, "20").transaction

    give_back(purchase, "20", "R1")

    lots = {lot.entry.source_id: lot.remaining for lot in PointsLot.objects.select_related("entry")}
    assert lots[str(purchase.pk)] == 0
    assert sorted(lots.values()) == [0, 10]


def test_points_spent_on_a_purchase_come_back_in_proportion(programme, member):
    programme.point_value = Decimal("0.10")
    programme.save()
    earn(member, "100")
    purchase = earn(member, "20.00", points_spent=50).transaction  # earned 15

    result = give_back(purchase, "10.00", "R1")  # half

    assert result.points_reversed == 7  # floor(15/2)
    assert result.points_refunded == 25
    assert account_balance(member=member).balance == 100 - 50 + 15 - 7 + 25


def test_return_without_a_purchase_reverses_the_base_rate(programme, member):
    earn(member, "40")

    result = return_record(
        channel="import",
        external_id="C1",
        occurred_at=timezone.now(),
        amount=Decimal("12.50"),
        member=member,
    )

    assert result.points_reversed == 12
    assert account_balance(member=member).balance == 28


def test_same_purchase_reported_twice_has_one_effect(programme, member):
    when = timezone.now()
    first = purchase_record(
        member=member, channel="web", external_id="W1", occurred_at=when, amount=Decimal("25")
    )
    again = purchase_record(
        member=member, channel="web", external_id="W1", occurred_at=when, amount=Decimal("25")
    )

    assert first.created and not again.created
    assert again.transaction.pk == first.transaction.pk and again.points_earned == 25
    assert LedgerEntry.objects.filter(kind="earn").count() == 1
    with pytest.raises(TransactionConflict):
        purchase_record(
            member=member, channel="web", external_id="W1", occurred_at=when, amount=Decimal("26")
        )


def test_same_external_id_on_another_channel_is_another_transaction(programme, member):
    earn(member, "5", external_id="X", channel="web")
    earn(member, "5", external_id="X", channel="store")

    assert Transaction.objects.count() == 2


def test_anonymous_purchase_is_recorded_without_points(programme):
    result = purchase_record(
        member=None,
        channel="store",
        external_id="A1",
        occurred_at=timezone.now(),
        amount=Decimal("9.99"),
    )

    assert result.transaction.member is None and result.points_earned == 0
    assert LedgerEntry.objects.count() == 0


def test_inactive_member_cannot_earn(programme, member):
    member.status = "suspended"
    member.save()

    with pytest.raises(MemberNotActive):
        earn(member, "10")
    assert Transaction.objects.count() == 0


def test_cap_policy_records_what_it_could_not_take_back_and_never_asks_again(programme, member):
    programme.return_policy = "cap"
    programme.save()
    purchase = earn(member, "40").transaction
    points_redeem(member=member, points=40, source_type="t", source_id="1", idempotency_key="all")

    first = give_back(purchase, "20", "R1")  # 20 points due, all spent: nothing taken back
    earn(member, "30")
    second = give_back(purchase, "10", "R2")  # 10 more due, taken from the new points

    assert (first.points_reversed, first.points_uncollected, first.entries) == (0, 20, [])
    assert Transaction.objects.get(external_id="R1").points_uncollected == 20
    assert (second.points_reversed, second.points_uncollected) == (10, 0)
    assert account_balance(member=member).balance == 20
    assert ledger_reconcile() == []
