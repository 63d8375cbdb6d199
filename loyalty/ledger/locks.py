"""The one way to lock points accounts (PostgreSQL row locks; SQLite serialises writers anyway)."""

from collections.abc import Iterable

from django.db.models import QuerySet

from loyalty.ledger.models import PointsAccount


def account_qs_for_update() -> QuerySet[PointsAccount]:
    # pk order everywhere: two transactions locking several accounts never deadlock
    return PointsAccount.objects.order_by("pk").select_for_update(of=("self",))


def lock_account(account_id: int) -> PointsAccount:
    return account_qs_for_update().get(pk=account_id)


def lock_accounts(account_ids: Iterable[int]) -> list[PointsAccount]:
    return list(account_qs_for_update().filter(pk__in=list(account_ids)))
