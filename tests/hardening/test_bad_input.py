"""The bad-input catalogue (issue #9): hostile or broken input on every entry point.

Entry points: the API (JSON bodies and query strings), the admin forms (as a superuser and as a
restricted staff role), the CSV imports (members, transactions, reward codes, the admin import
page) and the clerk screen. Input kinds: huge numbers, negative amounts, NaN/Infinity, 10 MB
strings, invalid UTF-8, CSV formula injection, SQL/HTML in names, dates out of range, missing
time zones, duplicate JSON keys, unknown fields.

Every case asserts the same three things: a clear refusal in the entry point's own terms (a 4xx
naming the field, a form error, a row error, a message on the clerk screen), nothing half-written
(the counts of members, transactions, entries, lots, redemptions, vouchers and codes and every
balance are what they were), and never a 500. Text that is merely hostile (HTML, SQL, formulas
in a name) is data: it is stored as typed, escaped on every page and neutralised in every CSV.
The table is docs/reliability.md's "Bad-input catalogue"; FIGURES counts the cases run.
"""

import json
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from loyalty.ledger.models import LedgerEntry, PointsAccount, PointsLot, Transaction
from loyalty.ledger.services import points_earn, purchase_record
from members.models import Member, Store
from rewards.models import Redemption, Reward, RewardCode, Voucher
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.rewards import RewardFactory, RewardsSettingsFactory
from tests.hardening.conftest import FIGURES

pytestmark = pytest.mark.django_db

TEN_MB = "x" * (10 * 1024 * 1024)
ONE_MB = "y" * (1024 * 1024)
FORMULA = "=cmd|' /C calc'!A0"
SCRIPT = "<script>alert('x')</script>"
SQL = "Robert'); DROP TABLE members_member;--"


# --- what "nothing changed" means ------------------------------------------------------------


def snapshot() -> dict[str, Any]:
    """Row counts of everything an entry point can write, and every balance and stock figure."""
    return {
        "members": Member.objects.count(),
        "stores": Store.objects.count(),
        "transactions": Transaction.objects.count(),
        "entries": LedgerEntry.objects.count(),
        "lots": PointsLot.objects.count(),
        "redemptions": Redemption.objects.count(),
        "vouchers": Voucher.objects.count(),
        "rewards": Reward.objects.count(),
        "codes": RewardCode.objects.count(),
        "balances": sorted(
            PointsAccount.objects.values_list("member_id", "balance", "debt", "lifetime_earned")
        ),
        "lots_left": sorted(PointsLot.objects.values_list("pk", "remaining")),
        "stock": sorted(Reward.objects.values_list("code", "stock", "name", "points_cost")),
        "profiles": sorted(
            Member.objects.values_list("pk", "first_name", "last_name", "email", "birth_date")
        ),
    }


@pytest.fixture
def world(db) -> dict[str, Any]:
    """A programme, a store, a member with 1,000 points and one purchase, a reward in stock."""
    ProgrammeSettingsFactory()
    RewardsSettingsFactory()
    store = StoreFactory(code="LDN01", name="London")
    member = MemberFactory(first_name="Ada", last_name="Lovelace", home_store=store)
    points_earn(member=member, points=1000, idempotency_key="seed")
    purchase_record(
        member=member,
        channel="store",
        external_id="TILL-1",
        amount=Decimal("25.00"),
        store=store,
        occurred_at=timezone.now(),
    )
    reward = RewardFactory(code="coffee", name="Free coffee", points_cost=100, stock=5)
    return {"member": member, "store": store, "reward": reward}


# --- the API ---------------------------------------------------------------------------------

API = {
    "purchase": ("post", "/api/v1/ledger/purchases/"),
    "return": ("post", "/api/v1/ledger/returns/"),
    "adjustment": ("post", "/api/v1/ledger/adjustments/"),
    "redemption": ("post", "/api/v1/rewards/redemptions/"),
    "member_create": ("post", "/api/v1/members/"),
    "member_update": ("patch", "/api/v1/members/{member}/"),
}


def valid_body(kind: str, member: Member) -> dict[str, Any]:
    return {
        "purchase": {
            "member_id": member.pk,
            "channel": "store",
            "external_id": "BAD-1",
            "amount": "10.00",
        },
        "return": {
            "channel": "store",
            "external_id": "RET-1",
            "original_channel": "store",
            "original_external_id": "TILL-1",
            "amount": "5.00",
        },
        "adjustment": {
            "member_id": member.pk,
            "points": 10,
            "reason": "goodwill",
            "idempotency_key": "adj-1",
        },
        "redemption": {"member_id": member.pk, "reward": "coffee"},
        "member_create": {"first_name": "Jane", "email": "jane@example.com"},
        "member_update": {"first_name": "Jane"},
    }[kind]


def raw(text: str) -> bytes:
    return text.encode()


# (case id, endpoint, change to the valid body, expected status, field named in extra.fields or
#  the error code). A dict change is merged into the valid body; bytes replace the body
# ({member} is the member's id); a callable maps the valid body's JSON text to the bytes sent.
def dup(key: str, value: str):
    """The valid body with `key` given a second time (JSON allows it; we refuse it)."""
    return lambda text: ("{" + f'"{key}": {value}, ' + text[1:]).encode()


def nan(key: str, literal: str = "NaN"):
    return lambda text: ("{" + f'"{key}": {literal}, ' + text[1:]).encode()


def bad_utf8(key: str):
    return lambda text: (
        b"{" + f'"{key}": "'.encode() + b"\xff\xfe\xc3(" + b'", ' + text[1:].encode()
    )


API_CASES: list[tuple[str, str, Any, set[int], str]] = [
    # huge numbers
    ("huge-amount", "purchase", {"amount": "99999999999999999999.99"}, {400}, "amount"),
    ("amount-as-json-number", "purchase", {"amount": 1e308}, {400}, "amount"),
    ("huge-points-spent", "purchase", {"points_spent": 10**30}, {400}, "points_spent"),
    ("huge-member-id", "purchase", {"member_id": 2**80}, {400}, "member_id"),
    ("huge-adjustment", "adjustment", {"points": 10**30}, {400}, "points"),
    ("huge-member-id", "redemption", {"member_id": 2**64}, {400}, "member_id"),
    ("huge-return", "return", {"amount": "1" + "0" * 400}, {400}, "amount"),
    # negative amounts
    ("negative-amount", "purchase", {"amount": "-5.00"}, {400}, "amount"),
    ("negative-return", "return", {"amount": "-1.00"}, {400}, "amount"),
    ("negative-points-spent", "purchase", {"points_spent": -100}, {400}, "points_spent"),
    ("negative-member-id", "redemption", {"member_id": -1}, {400}, "member_id"),
    ("fractional-points", "adjustment", {"points": 1.5}, {400}, "points"),
    # NaN and Infinity, as strings and as bare JSON literals (not JSON, but Python accepts them)
    ("nan-string", "purchase", {"amount": "NaN"}, {400}, "amount"),
    ("infinity-string", "purchase", {"amount": "Infinity"}, {400}, "amount"),
    ("nan-literal", "purchase", nan("amount"), {400}, "parse_error"),
    ("infinity-literal", "return", nan("amount", "Infinity"), {400}, "parse_error"),
    ("nan-points", "adjustment", nan("points"), {400}, "parse_error"),
    ("minus-infinity-points", "adjustment", nan("points", "-Infinity"), {400}, "parse_error"),
    # 10 MB strings: the body is over DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), refused unread
    ("10mb-external-id", "purchase", {"external_id": TEN_MB}, {413}, "request_too_large"),
    ("10mb-original", "return", {"original_external_id": TEN_MB}, {413}, "request_too_large"),
    ("10mb-reason", "adjustment", {"reason": TEN_MB}, {413}, "request_too_large"),
    ("10mb-reward", "redemption", {"reward": TEN_MB}, {413}, "request_too_large"),
    ("10mb-name", "member_create", {"first_name": TEN_MB}, {413}, "request_too_large"),
    ("10mb-city", "member_update", {"city": TEN_MB}, {413}, "request_too_large"),
    # 1 MB strings: parsed, and refused by the field's length
    ("1mb-external-id", "purchase", {"external_id": ONE_MB}, {400}, "external_id"),
    ("1mb-original", "return", {"original_external_id": ONE_MB}, {400}, "original_external_id"),
    ("1mb-reason", "adjustment", {"reason": ONE_MB}, {400}, "reason"),
    ("1mb-reward", "redemption", {"reward": ONE_MB}, {400}, "reward"),
    ("1mb-name", "member_create", {"first_name": ONE_MB}, {400}, "first_name"),
    ("1mb-city", "member_update", {"city": ONE_MB}, {400}, "city"),
    # invalid UTF-8 bytes in the body, and text no column can hold
    ("bad-utf8", "purchase", bad_utf8("customer_ref"), {400}, "parse_error"),
    ("bad-utf8", "member_create", bad_utf8("last_name"), {400}, "parse_error"),
    ("bad-utf8", "redemption", bad_utf8("store"), {400}, "parse_error"),
    ("lone-surrogate", "member_update", raw('{"last_name": "\\ud800"}'), {400}, "last_name"),
    ("nul-character", "adjustment", {"reason": "a\x00b"}, {400}, "reason"),
    # dates out of range, and times without a zone
    ("naive-time", "purchase", {"occurred_at": "2026-11-23T10:00:00"}, {400}, "occurred_at"),
    ("naive-time", "return", {"occurred_at": "2026-11-23T10:00:00"}, {400}, "occurred_at"),
    (
        "year-9999-west",
        "purchase",
        {"occurred_at": "9999-12-31T23:59:59-01:00"},
        {400, 422},
        "occurred_at",
    ),
    (
        "year-1-east",
        "purchase",
        {"occurred_at": "0001-01-01T00:00:00+01:00"},
        {400, 422},
        "occurred_at",
    ),
    (
        "far-future",
        "purchase",
        {"occurred_at": "2999-01-01T00:00:00+00:00"},
        {400, 422},
        "occurred_at",
    ),
    ("no-such-day", "member_create", {"birth_date": "2026-02-30"}, {400}, "birth_date"),
    ("birth-in-future", "member_create", {"birth_date": "2999-01-01"}, {400, 422}, "birth_date"),
    ("birth-year-1800", "member_update", {"birth_date": "1800-01-01"}, {400, 422}, "birth_date"),
    # duplicate keys: the last would silently win in Python's json module
    ("duplicate-amount", "purchase", dup("amount", '"-5"'), {400}, "parse_error"),
    ("duplicate-points", "adjustment", dup("points", "999999"), {400}, "parse_error"),
    ("duplicate-reward", "redemption", dup("reward", '"coffee"'), {400}, "parse_error"),
    ("duplicate-name", "member_update", dup("first_name", '"Eve"'), {400}, "parse_error"),
    # unknown fields: never silently dropped (a cost, a status or a number the client must not set)
    ("unknown-points", "purchase", {"points": 100000}, {400}, "points"),
    ("unknown-points-reversed", "return", {"points_reversed": 1}, {400}, "points_reversed"),
    ("unknown-created-by", "adjustment", {"created_by": 1}, {400}, "created_by"),
    ("client-sets-the-cost", "redemption", {"points_cost": 1}, {400}, "points_cost"),
    ("unknown-member-number", "member_create", {"member_number": "1"}, {400}, "member_number"),
    ("unknown-status", "member_update", {"status": "closed"}, {400}, "status"),
    # HTML and SQL where a code is expected: an unknown code, not an injection
    ("html-store", "purchase", {"store": "<b>x</b>"}, {400, 422}, "store"),
    ("sql-reward", "redemption", {"reward": "' OR 1=1 --"}, {404}, "reward_not_found"),
    ("html-email", "member_create", {"email": SCRIPT}, {400, 422}, "email"),
    ("body-not-an-object", "purchase", raw("[1, 2, 3]"), {400}, "non_field_errors"),
    ("body-not-json", "member_create", raw("first_name=Jane"), {400}, "parse_error"),
]


def _send(client: Any, kind: str, member: Member, change: Any) -> Any:
    method, path = API[kind]
    path = path.format(member=member.pk)
    body = valid_body(kind, member)
    if isinstance(change, dict):
        data = json.dumps({**body, **change}).encode()
    elif callable(change):
        data = change(json.dumps(body))
    else:
        data = change.replace(b"{member}", str(member.pk).encode())
    return getattr(client, method)(path, data=data, content_type="application/json")


@pytest.mark.parametrize(
    ("case", "kind", "change", "statuses", "names"),
    API_CASES,
    ids=[f"{kind}-{case}" for case, kind, *_ in API_CASES],
)
def test_api_refuses_bad_input_naming_the_field_and_writes_nothing(
    admin_api_client, world, case, kind, change, statuses, names
):
    member = world["member"]
    before = snapshot()

    response = _send(admin_api_client, kind, member, change)

    FIGURES["bad-input cases: api"] += 1
    assert response.status_code in statuses, (response.status_code, response.content[:500])
    body = response.json()
    if body["code"] == "validation_error":
        assert names in body["extra"]["fields"], body
    else:
        assert body["code"] == names, body
    assert body["message"]
    assert snapshot() == before


def test_every_api_case_has_a_valid_twin_that_is_accepted(admin_api_client, world):
    """The valid bodies the table starts from are accepted: the refusals above are the input's."""
    member = world["member"]
    for kind in API:
        response = _send(admin_api_client, kind, member, {})
        assert response.status_code in (200, 201), (kind, response.content[:300])


LOOKUP_CASES = [
    ("10mb-query", {"q": TEN_MB}, 400, "q"),
    ("nul-in-query", {"q": "a\x00b"}, 400, "q"),
    ("huge-limit", {"q": "Ada", "limit": "99999999999999999999"}, 400, "limit"),
    ("negative-limit", {"q": "Ada", "limit": "-1"}, 400, "limit"),
    ("nan-limit", {"q": "Ada", "limit": "NaN"}, 400, "limit"),
    ("unknown-parameter", {"q": "Ada", "store": "x"}, 400, "store"),
]


@pytest.mark.parametrize(
    ("case", "params", "status", "field"), LOOKUP_CASES, ids=[c[0] for c in LOOKUP_CASES]
)
def test_lookup_refuses_bad_queries(admin_api_client, world, case, params, status, field):
    response = admin_api_client.get("/api/v1/members/lookup/", params)

    FIGURES["bad-input cases: api"] += 1
    assert response.status_code == status, response.content[:300]
    assert field in response.json()["extra"]["fields"]


@pytest.mark.parametrize("query", ["' OR 1=1 --", SQL, SCRIPT, "%", "_", "\\", "%ff%fe"])
def test_lookup_treats_sql_and_html_as_plain_text(admin_api_client, world, query):
    response = admin_api_client.get("/api/v1/members/lookup/", {"q": query})

    FIGURES["bad-input cases: api"] += 1
    assert response.status_code == 200
    assert response.json() == []


def test_html_and_sql_in_names_are_stored_as_typed(admin_api_client, world):
    response = admin_api_client.post(
        "/api/v1/members/",
        {"first_name": SCRIPT, "last_name": SQL, "email": "x@example.com"},
        format="json",
    )

    FIGURES["bad-input cases: api"] += 1
    assert response.status_code == 201, response.content
    member = Member.objects.get(pk=response.json()["id"])
    assert (member.first_name, member.last_name) == (SCRIPT, SQL)
    assert Member.objects.count() == 2
