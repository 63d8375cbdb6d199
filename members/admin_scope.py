"""The store rule in the admin, for models tied to a member (entries, transactions, vouchers,
redemptions, tier history): a user restricted to a store sees only the rows of their store's
members, in the list, on the change page (another store's row is "not found"), in
autocomplete and in exports, which all start from `get_queryset`."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from members.selectors import member_related_for_staff


class MemberScopedAdminMixin:
    member_path = "member"  # from the row to its member, e.g. "account__member"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)  # type: ignore[misc]
        return member_related_for_staff(qs, user=request.user, path=self.member_path)
