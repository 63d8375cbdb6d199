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
from tests.factories.tiers import TierAssignmentFactory, TierPolicyFactory, standard_ladder

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

    # the first purchase today wins the lapsed member back (engagement: a stage change, two
    # writes): measure from the second one, like with like
    count(post(0))
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
        "phone": "07911 123456",
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


# The exact statement lists, through the real Api-Key path a till uses (key look-up, request
# log). docs/performance.md ("Earn and clerk lookup") lists them one by one. A purchase that moves
# the member up a tier writes more (closing and opening tier rows, the entry gift); these are the
# steady-state purchases. The webhook outbox is written in the purchase's own transaction
# (transactional outbox): its look-up of who listens to points.earned is counted (with no
# subscription, nothing is inserted); only the enqueue runs on commit, not counted here.
# 27 = 2 (key, member) + 6 savepoints + 14 for the purchase and tier check + 1 outbox look-up
# + 3 for the balance + 1 request log. Before the outbox moved into the transaction the look-up
# ran after commit, uncounted: production ran 27 then too.
# It was 32: the account read then locked, the day and month cap sums with no
# cap rule, an UPDATE of the transaction after its entries, a look-up of each new entry's key,
# the account read again for the balance. Outside a test's transaction, on PostgreSQL, the
# request log also sets synchronous_commit off for its own transaction: one statement more
# (tests/integrations: test_request_log_synchronous_commit).
# +1 since campaigns: the campaigns' version stamp (a primary-key read; with active campaigns the
# same single query also reads the member's audience rows: tests/campaigns, one query per purchase).
# So 28 in all (27 above + the stamp).
# +6 since engagement (campaigns/engagement/hooks.py, in the posting transaction): its settings
# row, the programme's time zone, the member's streak (one INSERT ... SELECT upsert), the member's
# lifecycle stage (one SELECT; it writes only when the stage changes), the active badge rules and
# the badge check (one SELECT; it inserts only when a badge is earned). So 34.
# +1 since the paid club: the member's club memberships (with the programme's time zone in the
# same query) for the club's points multiplier (campaigns/membership/hooks.py). So 35.
# +1 since the segments' purchase statistics: one INSERT ... ON CONFLICT upsert of the member's
# MemberPurchaseStats row, in the purchase's transaction (loyalty/ledger/stats.py). So 36.
# Issue #22, the lean path: 36 -> 20. The configuration a purchase reads (programme settings
# three times, the active rules, the tier ladder and policy, the engagement settings twice, the
# badge rules, the webhook subscriptions, the campaigns' stamp, the API key) comes from the
# per-process caches of loyalty/core/config_cache.py, checked by ONE read of the version stamp
# per request (the test settings' CONFIG_CACHE_MAX_AGE = 0; in production at most once a second
# per process, so usually none); the club memberships are not read while no plan has a
# multiplier; the tier check takes no savepoint of its own inside the posting; the balance's
# next-expiry points come in the totals' statement. What is left: stamp, member, savepoint,
# account FOR UPDATE, idempotency look-up, current tier id (multiplier), savepoint + INSERT
# transaction + release, stats upsert, INSERT entry, INSERT lot, UPDATE account, current tier row
# FOR UPDATE, window SUM, streak upsert, stage, release, balance, request log.
PURCHASE_QUERIES = 20
PURCHASE_TOP_TIER_QUERIES = 19  # the tier check stops at the ladder's top: no window sum
# the API key now comes from the cache (the stamp read takes its place); phone: the phone
# region is a cached programme setting (it was one query more)
LOOKUP_QUERIES = {"card": 4, "email": 4, "phone": 4, "name": 5, "first name": 6, "full name": 5}


@pytest.fixture
def till(db):  # type: ignore[no-untyped-def]
    from tests.factories.integrations import ApiClientFactory
    from tests.integrations.conftest import key_client

    return key_client(ApiClientFactory(scopes=["transactions:write", "members:read"]))


def _balance_json(member) -> dict:  # type: ignore[no-untyped-def]
    from loyalty.ledger.api.views import BalanceSerializer
    from loyalty.ledger.selectors import account_balance

    return dict(BalanceSerializer(account_balance(member=member)).data)


def _purchase(client, member, external_id: str):  # type: ignore[no-untyped-def]
    return lambda: client.post(
        "/api/v1/ledger/purchases/",
        {"member_id": member.pk, "channel": "api", "external_id": external_id, "amount": "20.00"},
        format="json",
    )


def test_purchase_with_an_api_key_runs_a_fixed_number_of_queries(
    till, programme, ladder, django_assert_num_queries
):
    member = MemberFactory()
    grow(member, 3)
    assert count(_purchase(till, member, "warm")) > 0  # first use of the key records it
    with django_assert_num_queries(PURCHASE_QUERIES):
        response = _purchase(till, member, "counted")()
    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == 20
    # answered from the account the posting locked: the same figures as a fresh read
    assert response.json()["balance"] == _balance_json(member)


def test_purchase_of_a_top_tier_member_skips_the_window_sum(
    till, programme, ladder, django_assert_num_queries
):
    member = MemberFactory()
    TierAssignmentFactory(member=member, tier=ladder["platinum"])
    assert count(_purchase(till, member, "warm")) > 0
    # the first purchase ever creates the engagement settings row (defaults): that save moves
    # the configuration stamp, so the caches load again once; measure after that
    assert count(_purchase(till, member, "warm2")) > 0
    with django_assert_num_queries(PURCHASE_TOP_TIER_QUERIES):
        response = _purchase(till, member, "counted")()
    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == 40  # platinum earns x2
    assert response.json()["balance"] == _balance_json(member)


@pytest.mark.parametrize("kind", sorted(LOOKUP_QUERIES))
def test_member_lookup_with_an_api_key_runs_a_fixed_number_of_queries(
    till, kind, django_assert_num_queries
):
    anna = MemberFactory(
        first_name="Anna", last_name="Lookupson", email="anna@example.com", phone="+447911123456"
    )
    for i in range(12):
        MemberFactory(first_name=f"Annabel{i}", last_name=f"Lookupson{i}")
    query = {
        "card": anna.member_number,
        "email": "anna@example.com",
        "phone": "07911 123456",
        "name": "Lookup",  # exact last name: none; last-name prefix: ten, stops there
        "first name": "Annab",  # exact and last-name prefix: none; first-name prefix
        "full name": "anna lookupson",  # exact first and last name: one, then prefixes
    }[kind]
    till.get("/api/v1/members/lookup/", {"q": "warm"})  # first use of the key records it
    # and loads the cached configuration this kind of key reads (a phone: the phone region)
    till.get("/api/v1/members/lookup/", {"q": query})
    with django_assert_num_queries(LOOKUP_QUERIES[kind]):
        response = till.get("/api/v1/members/lookup/", {"q": query})
    assert response.status_code == 200, response.content
    found = response.json()
    if kind in ("card", "email", "phone"):
        assert [m["member_number"] for m in found] == [anna.member_number]
    elif kind == "full name":
        assert found[0]["member_number"] == anna.member_number
    else:
        assert len(found) == 10
