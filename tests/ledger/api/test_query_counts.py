"""Hot endpoints run a fixed number of queries, whatever the member's history (no N+1).

Each test measures the endpoint once on a member with a short history, then again after the
history has grown (more entries, lots, tier rows): the count must be the same, and equal to the
figure written here so that a new query on a hot path is a conscious change."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.ledger.services import purchase_record
from tests.factories.members import MemberFactory
from tests.factories.tiers import TierPolicyFactory, standard_ladder

pytestmark = pytest.mark.django_db


def grow(member, n: int, start: int = 0) -> None:
    from datetime import timedelta

    from django.utils import timezone

    for i in range(start, start + n):
        purchase_record(
            member=member,
            channel="store",
            external_id=f"history-{member.pk}-{i}",
            occurred_at=timezone.now() - timedelta(days=400 + i),  # last year: no tier change
            amount=Decimal("12.50"),
        )


def count(call) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        response = call()
    assert response.status_code in (200, 201), response.content
    return len(ctx.captured_queries)


@pytest.fixture
def ladder(db):
    TierPolicyFactory()
    return standard_ladder()


def test_purchase_post_query_count_does_not_grow(staff_client, programme, ladder):
    member = MemberFactory()
    grow(member, 2)

    def post(i: int):  # type: ignore[no-untyped-def]
        return lambda: staff_client.post(
            "/api/v1/ledger/purchases/",
            {"member_id": member.pk, "channel": "api", "external_id": f"q{i}", "amount": "20.00"},
            format="json",
        )

    small = count(post(1))
    grow(member, 30, start=2)
    large = count(post(2))
    assert small == large


@pytest.mark.parametrize("path", ["balance", "statement"])
def test_balance_and_statement_query_count_does_not_grow(staff_client, programme, ladder, path):
    member = MemberFactory()
    grow(member, 2)
    url = f"/api/v1/ledger/members/{member.pk}/{path}/"
    small = count(lambda: staff_client.get(url))
    grow(member, 30, start=2)
    assert count(lambda: staff_client.get(url)) == small


@pytest.mark.parametrize("kind", ["card", "email", "phone", "name"])
def test_member_lookup_query_count_does_not_grow_with_matches(
    staff_client, kind, django_assert_num_queries
):
    first = MemberFactory(last_name="Lookupson", email="one@example.com", phone="+447700900001")
    query = {
        "card": first.member_number,
        "email": "one@example.com",
        "phone": "+447700900001",
        "name": "Lookup",
    }[kind]
    small = count(lambda: staff_client.get("/api/v1/members/lookup/", {"q": query}))
    for i in range(8):
        MemberFactory(last_name=f"Lookupson{i}")
    with django_assert_num_queries(small):
        response = staff_client.get("/api/v1/members/lookup/", {"q": query})
    assert response.status_code == 200
    if kind == "name":
        assert (
            len(
                response.json()["results"] if isinstance(response.json(), dict) else response.json()
            )
            >= 9
        )
