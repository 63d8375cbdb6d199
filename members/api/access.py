"""Who is asking: the caller an API request reads members for, in the store rule's terms.

Every API view that takes a member (by id, by card number, or through a redemption or a
transaction) passes `**viewer(request)` to the members selectors, so a clerk restricted to
store A gets 404 for a member of store B on every endpoint, exactly as on the clerk screen and
in the admin (members.selectors.member_list_for_staff holds the rule).
"""

from typing import Any

from rest_framework.request import Request

from loyalty.integrations.permissions import api_client_of


def viewer(request: Request) -> dict[str, Any]:
    """Keyword arguments for member_get, member_get_by_number and member_list_for_staff."""
    return {"user": request.user, "api_client": api_client_of(request)}
