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

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from loyalty.ledger.models import LedgerEntry, PointsAccount, PointsLot, Transaction
from loyalty.ledger.services import points_earn, purchase_record
from members.models import Member, StaffProfile, Store
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


def swap(old: str, new: str):
    """The valid body's JSON text with `old` replaced by `new` (a literal no dict can hold)."""
    return lambda text: text.replace(old, new).encode()


def nested(key: str, depth: int, opener: str = "["):
    """The valid body with `key` nested `depth` arrays (or objects) deep."""
    inner = "[]" if opener == "[" else "{}"
    if opener == "[":
        value = "[" * (depth - 1) + inner + "]" * (depth - 1)
    else:
        value = '{"a": ' * (depth - 1) + inner + "}" * (depth - 1)
    return lambda text: ("{" + f'"{key}": {value}, ' + text[1:]).encode()


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
    # deep nesting: past Python's recursion limit it used to escape the parser as a 500
    ("nested-950-arrays", "member_create", nested("interests", 950), {400}, "parse_error"),
    ("nested-950-objects", "purchase", nested("lines", 950, "{"), {400}, "parse_error"),
    ("nested-100000", "member_update", nested("interests", 100_000), {400}, "parse_error"),
    ("nested-40", "member_create", nested("interests", 40), {400}, "parse_error"),
    # numbers JSON allows but no field can hold
    (
        "5000-digit-integer",
        "adjustment",
        raw('{"points": 1' + "0" * 5000 + "}"),
        {400},
        "parse_error",
    ),
    (
        "overflowing-float",
        "purchase",
        swap('"amount": "10.00"', '"amount": 1e999'),
        {400},
        "amount",
    ),
    ("minus-zero-points", "adjustment", swap('"points": 10', '"points": -0'), {400}, "points"),
    # an array where an object is expected, and the other way round
    ("consents-as-array", "member_create", {"consents": ["email"]}, {400}, "consents"),
    ("lines-as-object", "purchase", {"lines": {"sku": "A"}}, {400}, "lines"),
    ("line-as-array", "purchase", {"lines": [["A", 1, "2.00"]]}, {400}, "lines"),
    ("interests-as-object", "member_update", {"interests": {"a": 1}}, {400}, "interests"),
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


# --- CSV exports: a formula never reaches a spreadsheet as a formula ----------------------------


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def assert_neutralised(text: str, hostile: str = FORMULA) -> None:
    """The hostile text is there, behind a quote; no cell would run as a formula."""
    found = cells(text)
    carrying = [c for c in found if hostile in c]
    assert carrying, found[:40]
    assert not any(c.startswith(hostile) for c in carrying), carrying
    for cell in found:
        assert cell[:1] not in ("=", "@", "\t", "\r"), cell
        if cell[:1] in ("+", "-"):  # a signed number or a phone number is data
            assert set(cell[1:]) <= set("0123456789 ().+-"), cell


@pytest.fixture
def hostile(world, superuser) -> dict[str, Any]:
    """The same formula as a member's name, a store's name, a reward's name, an adjustment's
    reason and a redemption's cancel reason."""
    from loyalty.ledger.services import points_adjust
    from rewards.services import redemption_cancel, redemption_create

    member = world["member"]
    Member.objects.filter(pk=member.pk).update(first_name=FORMULA, last_name="+1+cmd")
    Store.objects.filter(pk=world["store"].pk).update(name=FORMULA)
    Reward.objects.filter(pk=world["reward"].pk).update(name=FORMULA, description="@SUM(A1)")
    points_adjust(member=member, points=5, reason=FORMULA, actor=superuser, idempotency_key="f")
    redemption = redemption_create(member=member, reward=Reward.objects.get(code="coffee"))
    redemption_cancel(redemption=redemption, reason=FORMULA, actor=superuser)
    return {"member": member, "redemption": redemption}


EXPORTS = [
    ("member", "admin:members_member_export", "members.resources.MemberResource"),
    ("store", "admin:members_store_export", "members.resources.StoreResource"),
    ("reward", "admin:rewards_reward_export", "rewards.resources.RewardResource"),
]


@pytest.mark.parametrize(("name", "url", "resource"), EXPORTS, ids=[e[0] for e in EXPORTS])
def test_import_export_csv_exports_neutralise_formulas(
    client, superuser, hostile, name, url, resource
):
    """The admin's Export button (django-import-export) and the resource it uses."""
    from django.utils.module_loading import import_string
    from import_export.formats.base_formats import CSV

    dataset = import_string(resource)().export()
    assert_neutralised(CSV().export_data(dataset))

    client.force_login(superuser)
    data = {"format": "0", "resource": "0"}  # csv
    response = client.post(reverse(url), data)
    FIGURES["bad-input cases: csv export"] += 1
    assert response.status_code == 200, response.content[:500]
    assert_neutralised(response.content.decode("utf-8-sig"))


def test_ledger_and_redemption_csv_actions_neutralise_formulas(client, superuser, hostile):
    client.force_login(superuser)
    entries = client.post(
        reverse("admin:ledger_ledgerentry_changelist"),
        {
            "action": "export_csv",
            "_selected_action": list(LedgerEntry.objects.values_list("pk", flat=True)),
        },
    )
    redemptions = client.post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "export_csv", "_selected_action": [hostile["redemption"].pk]},
    )
    FIGURES["bad-input cases: csv export"] += 2
    assert entries["Content-Type"] == redemptions["Content-Type"] == "text/csv"
    assert_neutralised(entries.content.decode())
    assert_neutralised(redemptions.content.decode())
    assert "-5" in cells(entries.content.decode()) or "-100" in cells(entries.content.decode())


def test_import_reports_neutralise_formulas(world, superuser, tmp_path):
    """The error reports of the three import commands hold the rows' own (hostile) text."""
    members = tmp_path / "members.csv"
    members.write_text(f"first_name,email\n{FORMULA},not-an-email\n")
    with pytest.raises(CommandError):
        call_command("import_members", str(members), "--errors", str(tmp_path / "m.err.csv"))
    assert_neutralised((tmp_path / "m.err.csv").read_text())

    txns = tmp_path / "txns.csv"
    txns.write_text(
        "kind,channel,external_id,occurred_at,amount\n"
        f"purchase,store,{FORMULA},2026-11-23T10:00:00,10.00\n"
    )
    call_command("import_transactions", str(txns), "--skipped", str(tmp_path / "t.skip.csv"))
    assert_neutralised((tmp_path / "t.skip.csv").read_text())

    points = tmp_path / "points.csv"
    points.write_text(f"member_number,points,reason\n{FORMULA},10,x\n")
    call_command(
        "import_points",
        str(points),
        "--kind",
        "adjust",
        "--user",
        superuser.username,
        "--errors",
        str(tmp_path / "p.err.csv"),
    )
    assert_neutralised((tmp_path / "p.err.csv").read_text())
    FIGURES["bad-input cases: csv export"] += 3


def test_admin_import_skipped_rows_download_neutralises_formulas(client, superuser, world):
    client.force_login(superuser)
    content = f"member_number,first_name,last_name,email\n,{FORMULA},Doe,not-an-email\n,Good,Row,good@example.com\n"
    preview = client.post(
        reverse("admin:members_member_import"),
        {
            "resource": "0",
            "format": "0",
            "skip_bad_rows": "on",
            "import_file": SimpleUploadedFile("m.csv", content.encode(), content_type="text/csv"),
        },
    )
    skipped = preview.context.get("skipped_bad_rows")
    assert skipped, preview.content[:500]
    token_urls = [m.message for m in preview.context["messages"]]
    url = next(str(u).split('href="')[1].split('"')[0] for u in token_urls if "href" in str(u))
    download = client.get(url)
    FIGURES["bad-input cases: csv export"] += 1
    assert download.status_code == 200
    assert_neutralised(download.content.decode("utf-8-sig"))


# --- CSV imports: a bad row is reported by number and nothing is written ------------------------

MEMBER_FILES = [
    ("100kb-name", "first_name,email\n" + "n" * 100_000 + ",a@example.com\n", "first_name"),
    ("huge-card-number", "member_number,first_name\n" + "9" * 40 + ",Ann\n", "member_number"),
    ("birth-year-1800", "first_name,birth_date\nAnn,1800-01-01\n", "birth_date"),
    ("birth-in-future", "first_name,birth_date\nAnn,2999-01-01\n", "birth_date"),
    ("no-such-day", "first_name,birth_date\nAnn,2026-02-30\n", "birth_date"),
    ("html-email", f"first_name,email\nAnn,{SCRIPT}\n", "email"),
    ("sql-store", f"first_name,home_store\nAnn,{SQL}\n", "home_store"),
    ("same-email-twice", "first_name,email\nAnn,a@example.com\nBob,a@example.com\n", "email"),
    ("not-a-boolean", "first_name,email_consent\nAnn,=1+1\n", "email_consent"),
    ("nothing-to-identify", "first_name,city\n,London\n", "row"),
    ("nul-in-name", "first_name,email\nA\x00B,a@example.com\n", "first_name"),
]


@pytest.mark.parametrize(
    ("case", "content", "field"), MEMBER_FILES, ids=[c[0] for c in MEMBER_FILES]
)
def test_member_import_reports_the_bad_row_and_writes_nothing(
    world, tmp_path, case, content, field
):
    path = tmp_path / "members.csv"
    # a good row first: the file is refused as a whole, so it is not written either
    header, rest = content.split("\n", 1)
    good = ",".join("Good" if c == "first_name" else "" for c in header.split(","))
    path.write_text(f"{header}\n{good}\n{rest}")
    report = tmp_path / "errors.csv"
    before = snapshot()

    with pytest.raises(CommandError, match="Nothing was written"):
        call_command("import_members", str(path), "--errors", str(report))

    FIGURES["bad-input cases: csv import"] += 1
    rows = list(csv.DictReader(report.open()))
    assert rows and {r["field"] for r in rows} == {field}, rows
    assert all(int(r["row"]) >= 2 for r in rows)  # row 1 is the good one
    assert snapshot() == before


def test_member_import_of_non_utf8_bytes(world, tmp_path):
    """Bytes that are not UTF-8: refused when UTF-8 is asked for; otherwise read as Latin-1
    (what spreadsheet programs write), so "Zoë" from an old Excel file arrives as Zoë."""
    path = tmp_path / "latin.csv"
    path.write_bytes(b"first_name,email\nZo\xeb,zoe@example.com\n")
    before = snapshot()

    with pytest.raises(CommandError, match="not utf-8"):
        call_command("import_members", str(path), "--encoding", "utf-8")
    assert snapshot() == before

    call_command("import_members", str(path))
    FIGURES["bad-input cases: csv import"] += 2
    assert Member.objects.get(email="zoe@example.com").first_name == "Zoë"


def test_member_import_stores_html_sql_and_formulas_as_typed(world, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "first_name,last_name,email\n"
        f'"{SCRIPT}","{SQL}",x@example.com\n'
        f'"{FORMULA}",Doe,y@example.com\n'
    )
    call_command("import_members", str(path))
    FIGURES["bad-input cases: csv import"] += 1
    assert Member.objects.get(email="x@example.com").last_name == SQL
    assert Member.objects.get(email="y@example.com").first_name == FORMULA


TXN_ROWS = [
    ("negative-amount", "purchase,store,T1,2026-11-23T10:00:00+00:00,-5.00"),
    ("nan-amount", "purchase,store,T1,2026-11-23T10:00:00+00:00,NaN"),
    ("infinity-amount", "purchase,store,T1,2026-11-23T10:00:00+00:00,Infinity"),
    ("huge-amount", "purchase,store,T1,2026-11-23T10:00:00+00:00,99999999999999999999.99"),
    ("exponent-amount", "purchase,store,T1,2026-11-23T10:00:00+00:00,1e30"),
    ("three-decimals", "purchase,store,T1,2026-11-23T10:00:00+00:00,1.005"),
    ("naive-time", "purchase,store,T1,2026-11-23T10:00:00,10.00"),
    ("no-such-day", "purchase,store,T1,2026-02-30T10:00:00+00:00,10.00"),
    ("year-9999-west", "purchase,store,T1,9999-12-31T23:59:59-01:00,10.00"),
    ("year-1-east", "purchase,store,T1,0001-01-01T00:00:00+01:00,10.00"),
    ("far-future", "purchase,store,T1,2999-01-01T00:00:00+00:00,10.00"),
    ("100kb-external-id", f"purchase,store,{'e' * 100_000},2026-11-23T10:00:00+00:00,10.00"),
    ("sql-channel", f'purchase,"{SQL}",T1,2026-11-23T10:00:00+00:00,10.00'),
    ("html-kind", f'"{SCRIPT}",store,T1,2026-11-23T10:00:00+00:00,10.00'),
    ("negative-return", "return,store,T1,2026-11-23T10:00:00+00:00,-1.00"),
]


@pytest.mark.parametrize(("case", "row"), TXN_ROWS, ids=[c[0] for c in TXN_ROWS])
def test_transaction_import_skips_the_bad_row_with_its_reason(world, tmp_path, case, row):
    path = tmp_path / "txns.csv"
    path.write_text(f"kind,channel,external_id,occurred_at,amount\n{row}\n")
    skipped = tmp_path / "skipped.csv"
    before = snapshot()

    call_command("import_transactions", str(path), "--skipped", str(skipped))

    FIGURES["bad-input cases: csv import"] += 1
    rows = list(csv.DictReader(skipped.open()))
    assert [r["row"] for r in rows] == ["1"] and rows[0]["reason"], rows
    assert snapshot() == before


def test_transaction_import_refuses_a_non_utf8_file_before_any_row(world, tmp_path):
    path = tmp_path / "txns.csv"
    good = "".join(f"purchase,store,G{n},2026-11-23T10:00:00+00:00,10.00\n" for n in range(2000))
    path.write_bytes(
        b"kind,channel,external_id,occurred_at,amount\n"
        + good.encode()
        + b"purchase,store,\xff\xfe,x,1\n"
    )
    before = snapshot()

    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("import_transactions", str(path))

    FIGURES["bad-input cases: csv import"] += 1
    assert snapshot() == before  # not the first 2,000 rows either


POINT_ROWS = [
    ("huge-points", "adjust", f"{{number}},{10**30},x"),
    ("exponent-points", "adjust", "{number},1e9,x"),
    ("nan-points", "adjust", "{number},NaN,x"),
    ("fractional-points", "adjust", "{number},1.5,x"),
    ("zero-points", "adjust", "{number},0,x"),
    ("no-reason", "adjust", "{number},10,"),
    ("100kb-reason", "adjust", "{number},10," + "r" * 100_000),
    ("sql-member", "adjust", f'"{SQL}",10,x'),
    ("no-such-day", "opening", "{number},10,x,2026-02-30"),
    ("year-99999", "opening", "{number},10,x,99999-01-01"),
]


@pytest.mark.parametrize(("case", "kind", "row"), POINT_ROWS, ids=[c[0] for c in POINT_ROWS])
def test_points_import_refuses_the_bad_row_with_its_reason(
    world, superuser, tmp_path, case, kind, row
):
    path = tmp_path / "points.csv"
    row = row.replace("{number}", world["member"].member_number)
    path.write_text(f"member_number,points,reason,expires_on\n{row}\n")
    errors = tmp_path / "errors.csv"
    before = snapshot()

    call_command(
        "import_points",
        str(path),
        "--kind",
        kind,
        "--user",
        superuser.username,
        "--errors",
        str(errors),
    )

    FIGURES["bad-input cases: csv import"] += 1
    rows = list(csv.DictReader(errors.open()))
    assert [r["row"] for r in rows] == ["1"] and rows[0]["error"], rows
    assert snapshot() == before


def test_points_import_refuses_a_non_utf8_file(world, superuser, tmp_path):
    path = tmp_path / "points.csv"
    number = world["member"].member_number
    path.write_bytes(f"member_number,points,reason\n{number},10,ok\n".encode() + b"1,1,\xff\n")
    before = snapshot()

    with pytest.raises(CommandError, match="UTF-8"):
        call_command("import_points", str(path), "--kind", "adjust", "--user", superuser.username)

    FIGURES["bad-input cases: csv import"] += 1
    assert snapshot() == before


ADMIN_IMPORT_FILES = [
    ("bad-utf8", b"member_number,first_name,email\n,Zo\xff\xfe,z@example.com\n"),
    ("10mb-name", f"member_number,first_name\n,{TEN_MB}\n".encode()),
    ("birth-in-future", b"member_number,first_name,birth_date\n,Ann,2999-01-01\n"),
    ("no-such-day", b"member_number,first_name,birth_date\n,Ann,2026-02-30\n"),
    ("html-email", f"member_number,first_name,email\n,Ann,{SCRIPT}\n".encode()),
    ("sql-store", f'member_number,first_name,home_store\n,Ann,"{SQL}"\n'.encode()),
    ("huge-card", ("member_number,first_name\n" + "9" * 40 + ",Ann\n").encode()),
    ("same-email-twice", b"member_number,first_name,email\n,A,a@example.com\n,B,a@example.com\n"),
    ("not-csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
]


@pytest.mark.parametrize(
    ("case", "content"), ADMIN_IMPORT_FILES, ids=[c[0] for c in ADMIN_IMPORT_FILES]
)
def test_admin_member_import_reports_bad_files_and_rows(client, superuser, world, case, content):
    client.force_login(superuser)
    before = snapshot()

    preview = client.post(
        reverse("admin:members_member_import"),
        {
            "resource": "0",
            "format": "0",
            "import_file": SimpleUploadedFile("m.csv", content, content_type="text/csv"),
        },
    )

    FIGURES["bad-input cases: csv import"] += 1
    assert preview.status_code == 200
    result = preview.context.get("result")
    if result is None:  # the file as a whole was refused: a form error says why
        assert preview.context["form"].errors, preview.content[:300]
    else:
        assert result.has_validation_errors() or result.has_errors()
        assert not preview.context.get("confirm_form")
    assert snapshot() == before


CODE_FILES = [
    ("bad-utf8", b"code\nOK-1\n\xff\xfe\n", "not UTF-8"),
    ("nul-bytes", b"code\nOK-1\nA\x00B\n", "control characters"),
    ("too-long", ("code\nOK-1\n" + "X" * 101 + "\n").encode(), "longer than 100"),
    ("10mb-code", ("code\nOK-1\n" + TEN_MB + "\n").encode(), "larger than 5 MB"),
    ("4mb-code", ("code\nOK-1\n" + "c" * (4 << 20) + "\n").encode(), "Line 3"),
]


@pytest.mark.parametrize(("case", "content", "says"), CODE_FILES, ids=[c[0] for c in CODE_FILES])
def test_reward_code_upload_reports_bad_rows(client, superuser, world, case, content, says):
    reward = RewardFactory(code="partner", kind=Reward.Kind.PARTNER_CODE)
    client.force_login(superuser)
    url = reverse("admin:rewards_reward_upload_codes", args=[reward.pk])

    response = client.post(
        url, {"file": SimpleUploadedFile("c.csv", content, "text/csv")}, follow=True
    )

    FIGURES["bad-input cases: csv import"] += 1
    assert response.status_code == 200
    assert says in response.content.decode()
    # a bad file writes nothing; a bad row is refused and the good rows are added
    expected = set() if case in ("bad-utf8", "10mb-code", "4mb-code") else {"OK-1"}
    assert set(reward.codes.values_list("code", flat=True)) == expected


def test_reward_code_upload_of_many_codes(client, superuser, world):
    """70,000 codes: more than one query's worth of parameters on either database."""
    reward = RewardFactory(code="partner", kind=Reward.Kind.PARTNER_CODE)
    client.force_login(superuser)
    content = "code\n" + "".join(f"C{n:06d}\n" for n in range(70_000))

    response = client.post(
        reverse("admin:rewards_reward_upload_codes", args=[reward.pk]),
        {"file": SimpleUploadedFile("c.csv", content.encode(), "text/csv")},
        follow=True,
    )

    FIGURES["bad-input cases: csv import"] += 1
    assert response.status_code == 200
    assert reward.codes.count() == 70_000


def test_imports_refuse_a_10mb_field_as_a_whole_file(world, superuser, tmp_path):
    """A field over the csv module's limit breaks the record: the file is refused naming the line,
    before any row is written (the transaction and points imports commit row by row)."""
    number = world["member"].member_number
    files = {
        "import_members": f"first_name,email\nGood,g@example.com\n{TEN_MB},a@example.com\n",
        "import_transactions": (
            "kind,channel,external_id,occurred_at,amount\n"
            "purchase,store,G1,2026-11-23T10:00:00+00:00,10.00\n"
            f"purchase,store,{TEN_MB},2026-11-23T10:00:00+00:00,10.00\n"
        ),
        "import_points": f"member_number,points,reason\n{number},10,ok\n{number},10,{TEN_MB}\n",
    }
    extra = {"import_points": ["--kind", "adjust", "--user", superuser.username]}
    for command, content in files.items():
        path = tmp_path / f"{command}.csv"
        path.write_text(content)
        before = snapshot()

        with pytest.raises(CommandError, match="Line 3"):
            call_command(command, str(path), *extra.get(command, []))

        FIGURES["bad-input cases: csv import"] += 1
        assert snapshot() == before, command


# --- admin forms ---------------------------------------------------------------------------------

ONE_MB_FORM = "z" * (1024 * 1024)


def _member_form_data(client: Any, member: Member) -> dict[str, Any]:
    """What the change form would send back unchanged (inlines empty: they are read-only)."""
    page = client.get(reverse("admin:members_member_change", args=[member.pk]))
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(
        {"interests": ", ".join(member.interests or []), "home_store": member.home_store_id}
    )
    for inline in page.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


MEMBER_FORM_CASES = [
    ("1mb-name", {"first_name": ONE_MB_FORM}, "first_name"),
    ("birth-in-future", {"birth_date": "2999-01-01"}, "birth_date"),
    ("birth-year-1800", {"birth_date": "1800-01-01"}, "birth_date"),
    ("no-such-day", {"birth_date": "2026-02-30"}, "birth_date"),
    ("year-99999", {"birth_date": "99999-01-01"}, "birth_date"),
    ("html-email", {"email": SCRIPT}, "email"),
    ("huge-phone", {"phone": "9" * 60}, "phone"),
    ("html-country", {"country": "<b>"}, "country"),
    # interests are a tag input ("running, coffee"): too long, too many, a NUL character
    ("interest-too-long", {"interests": "x" * 41}, "interests"),
    ("too-many-interests", {"interests": ", ".join(f"t{i}" for i in range(51))}, "interests"),
    ("nul-in-interest", {"interests": "tea\x00, coffee"}, "interests"),
    ("huge-store-id", {"home_store": "99999999999999999999999"}, "home_store"),
    ("sql-store-id", {"home_store": "1 OR 1=1"}, "home_store"),
    ("nul-in-name", {"last_name": "Love\x00lace"}, "last_name"),
]


@pytest.mark.parametrize(
    ("case", "change", "field"), MEMBER_FORM_CASES, ids=[c[0] for c in MEMBER_FORM_CASES]
)
def test_admin_member_form_refuses_bad_input_with_a_form_error(
    client, superuser, world, case, change, field
):
    client.force_login(superuser)
    member = world["member"]
    data = _member_form_data(client, member)
    before = snapshot()

    response = client.post(
        reverse("admin:members_member_change", args=[member.pk]), {**data, **change}
    )

    FIGURES["bad-input cases: admin"] += 1
    assert response.status_code == 200, response.status_code
    assert field in response.context["adminform"].form.errors, response.context[
        "adminform"
    ].form.errors
    assert snapshot() == before


def test_admin_member_form_valid_twin_saves(client, superuser, world):
    client.force_login(superuser)
    member = world["member"]
    data = _member_form_data(client, member)
    response = client.post(
        reverse("admin:members_member_change", args=[member.pk]), {**data, "city": "Leeds"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.city == "Leeds"


def test_admin_10mb_post_is_refused_before_the_form(client, superuser, world):
    client.force_login(superuser)
    member = world["member"]
    data = _member_form_data(client, member)
    before = snapshot()

    response = client.post(
        reverse("admin:members_member_change", args=[member.pk]), {**data, "first_name": TEN_MB}
    )

    FIGURES["bad-input cases: admin"] += 1
    assert response.status_code == 400  # Django's RequestDataTooBig, logged as a security event
    assert snapshot() == before


def test_admin_member_add_form_refuses_bad_input(client, superuser, world):
    """ "Add member" enrols through member_enroll; a bad row is a form error and writes nothing."""
    client.force_login(superuser)
    before = snapshot()
    response = client.post(
        reverse("admin:members_member_add"),
        {"first_name": SCRIPT, "email": "not an e-mail", "enrolment_channel": "store"},
    )
    FIGURES["bad-input cases: admin"] += 1
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"]
    assert snapshot() == before


VALID_REWARD = {
    "code": "gift1",
    "name": "A gift",
    "kind": "gift",
    "points_cost": "100",
    "sort_order": "0",
    "voucher_valid_days": "30",
    "visibility": "public",
    "active": "on",
}

REWARD_FORM_CASES = [
    ("negative-cost", {"points_cost": "-1"}, "points_cost"),
    ("huge-cost", {"points_cost": "99999999999999999999"}, "points_cost"),
    ("nan-cost", {"points_cost": "NaN"}, "points_cost"),
    ("exponent-cost", {"points_cost": "1e3"}, "points_cost"),
    ("negative-stock", {"stock": "-5"}, "stock"),
    ("huge-stock", {"stock": str(10**30)}, "stock"),
    ("1mb-name", {"name": ONE_MB_FORM}, "name"),
    ("html-code", {"code": SCRIPT}, "code"),
    ("infinite-discount", {"kind": "amount_off", "amount_off": "Infinity"}, "amount_off"),
    ("nan-discount", {"kind": "amount_off", "amount_off": "NaN"}, "amount_off"),
    ("huge-discount", {"kind": "amount_off", "amount_off": "9" * 30}, "amount_off"),
    ("percent-over-100", {"kind": "percent_off", "percent_off": "1000"}, "percent_off"),
    (
        "no-such-day",
        {"available_from_0": "2026-02-30", "available_from_1": "10:00"},
        "available_from",
    ),
    (
        "year-99999",
        {"available_until_0": "99999-01-01", "available_until_1": "10:00"},
        "available_until",
    ),
    ("huge-validity", {"voucher_valid_days": "99999999999999999999"}, "voucher_valid_days"),
    ("huge-tier-id", {"min_tier": "99999999999999999999999"}, "min_tier"),
]


@pytest.fixture
def marketing(django_user_model, world) -> Client:
    """A restricted staff role: Marketing may edit the catalogue but not adjust points."""
    user = django_user_model.objects.create_user(
        username="mk", password="mk-pass-12345", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Marketing"))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", ["superuser", "marketing"])
@pytest.mark.parametrize(
    ("case", "change", "field"), REWARD_FORM_CASES, ids=[c[0] for c in REWARD_FORM_CASES]
)
def test_admin_reward_forms_refuse_bad_input(
    request, client, superuser, world, role, case, change, field
):
    if role == "superuser":
        client.force_login(superuser)
    else:
        client = request.getfixturevalue("marketing")
    reward = world["reward"]
    before = snapshot()

    added = client.post(reverse("admin:rewards_reward_add"), {**VALID_REWARD, **change})
    changed = client.post(
        reverse("admin:rewards_reward_change", args=[reward.pk]),
        {**VALID_REWARD, "code": "coffee", "name": "Free coffee", **change},
    )

    FIGURES["bad-input cases: admin"] += 2
    assert added.status_code == 200, added.status_code
    assert field in added.context["adminform"].form.errors, added.context["adminform"].form.errors
    assert changed.status_code == 200, changed.status_code
    assert field in changed.context["adminform"].form.errors
    assert snapshot() == before


def test_admin_reward_valid_twin_is_added(client, superuser, marketing, world):
    client.force_login(superuser)
    assert client.post(reverse("admin:rewards_reward_add"), VALID_REWARD).status_code == 302
    other = {**VALID_REWARD, "code": "gift2"}
    assert marketing.post(reverse("admin:rewards_reward_add"), other).status_code == 302
    assert Reward.objects.filter(code__in=["gift1", "gift2"]).count() == 2


ADJUST_CASES = [
    ("huge-points", {"points": "99999999999999999999"}, "points"),
    ("nan-points", {"points": "NaN"}, "points"),
    ("infinite-points", {"points": "Infinity"}, "points"),
    ("fractional-points", {"points": "1.5"}, "points"),
    ("zero-points", {"points": "0"}, "points"),
    ("no-reason", {"reason": ""}, "reason"),
    ("1mb-reason", {"reason": ONE_MB_FORM}, "reason"),
    ("nul-reason", {"reason": "a\x00b"}, "reason"),
]


@pytest.mark.parametrize(
    ("case", "change", "field"), ADJUST_CASES, ids=[c[0] for c in ADJUST_CASES]
)
def test_admin_adjustment_refuses_bad_input(client, superuser, world, case, change, field):
    client.force_login(superuser)
    before = snapshot()

    response = client.post(
        reverse("admin:members_member_changelist"),
        {
            "action": "adjust_points",
            "_selected_action": [world["member"].pk],
            "apply": "1",
            "points": "10",
            "reason": "goodwill",
            **change,
        },
    )

    FIGURES["bad-input cases: admin"] += 1
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert snapshot() == before


def test_admin_adjustment_by_a_role_without_the_permission_changes_nothing(marketing, world):
    before = snapshot()
    marketing.post(
        reverse("admin:members_member_changelist"),
        {
            "action": "adjust_points",
            "_selected_action": [world["member"].pk],
            "apply": "1",
            "points": "1000000",
            "reason": "x",
        },
    )
    FIGURES["bad-input cases: admin"] += 1
    assert snapshot() == before


def test_store_clerk_role_cannot_post_admin_forms(django_user_model, world):
    user = django_user_model.objects.create_user(
        username="till", password="till-pass-1234", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.create(user=user, store=world["store"], restricted_to_store=True)
    client = Client()
    client.force_login(user)
    member = world["member"]
    before = snapshot()

    change = client.post(
        reverse("admin:members_member_change", args=[member.pk]), {"first_name": SCRIPT}
    )
    add = client.post(reverse("admin:rewards_reward_add"), {**VALID_REWARD, "points_cost": "-1"})

    FIGURES["bad-input cases: admin"] += 2
    assert change.status_code in (302, 403) and add.status_code == 403
    assert snapshot() == before


# --- HTML and SQL in names are shown escaped ------------------------------------------------------


def assert_escaped(html: str, where: Any = "") -> None:
    assert SCRIPT not in html, where
    assert escape(SCRIPT) in html, where


def test_html_in_names_is_escaped_in_the_admin(client, superuser, world):
    member = world["member"]
    Member.objects.filter(pk=member.pk).update(first_name=SCRIPT, last_name=SQL)
    Reward.objects.filter(pk=world["reward"].pk).update(name=SCRIPT)
    client.force_login(superuser)

    pages = [
        client.get(reverse("admin:members_member_changelist")),
        client.get(reverse("admin:members_member_changelist"), {"q": SCRIPT}),
        client.get(reverse("admin:members_member_change", args=[member.pk])),
        client.get(reverse("admin:rewards_reward_changelist")),
        client.get(reverse("admin:rewards_reward_change", args=[world["reward"].pk])),
    ]

    FIGURES["bad-input cases: admin"] += len(pages)
    for index, page in enumerate(pages):
        assert page.status_code == 200, index
        assert_escaped(page.content.decode(), index)
    assert Member.objects.filter(last_name=SQL).count() == 1  # and the table is still there


# --- the clerk screen ----------------------------------------------------------------------------

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def clerk(django_user_model, world) -> Client:
    user = django_user_model.objects.create_user(username="tilly", password="tilly-pass-1234")
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.create(user=user, store=world["store"], restricted_to_store=False)
    client = Client()
    client.force_login(user)
    return client


SEARCHES = [
    ("10mb-query", TEN_MB, "at most 120 characters"),
    ("nul-in-query", "Ada\x00", "Null characters are not allowed"),
    ("sql", "' OR 1=1 --", "No member found"),
    ("html", SCRIPT, "No member found"),
    ("huge-card-number", "9" * 40, "No member found"),
    ("like-wildcards", "%_%", "No member found"),
]


@pytest.mark.parametrize(("case", "query", "says"), SEARCHES, ids=[c[0] for c in SEARCHES])
@pytest.mark.parametrize("view", ["clerk:home", "clerk:search"])
def test_clerk_search_box_answers_in_words(clerk, world, case, query, says, view):
    response = clerk.get(reverse(view), {"q": query})

    FIGURES["bad-input cases: clerk"] += 1
    assert response.status_code == 200
    html = response.content.decode()
    assert escape(says) in html or says in html, html[-800:]
    assert SCRIPT not in html


CLERK_ACTIONS = [
    ("negative-amount", "purchase", {"amount": "-5"}, "amount"),
    ("nan-amount", "purchase", {"amount": "NaN"}, "amount"),
    ("infinite-amount", "purchase", {"amount": "Infinity"}, "amount"),
    ("huge-amount", "purchase", {"amount": "99999999999999999999"}, "amount"),
    ("exponent-amount", "purchase", {"amount": "1e30"}, "amount"),
    ("1mb-receipt", "purchase", {"amount": "5", "receipt": ONE_MB_FORM}, "receipt"),
    ("bad-token", "purchase", {"amount": "5", "token": SCRIPT}, "token"),
    ("huge-reward-id", "redeem", {"reward": "99999999999999999999999"}, None),
    ("sql-reward-id", "redeem", {"reward": "1 OR 1=1"}, "reward"),
    ("unknown-reward", "redeem", {"reward": "987654"}, None),
    ("huge-points", "pay", {"order_ref": "R1", "points": "99999999999999999999"}, None),
    ("nan-points", "pay", {"order_ref": "R1", "points": "NaN"}, "points"),
    ("negative-points", "pay", {"order_ref": "R1", "points": "-10"}, "points"),
    ("more-than-held", "pay", {"order_ref": "R1", "points": "900000"}, None),
    ("1mb-order-ref", "pay", {"order_ref": ONE_MB_FORM, "points": "10"}, "order_ref"),
    ("huge-purchase-id", "return", {"purchase": "99999999999999999999999"}, None),
    ("negative-return", "return", {"purchase": "1", "amount": "-1"}, "amount"),
    ("unknown-purchase", "return", {"purchase": "987654"}, None),
]


@pytest.mark.parametrize(
    ("case", "action", "data", "field"), CLERK_ACTIONS, ids=[c[0] for c in CLERK_ACTIONS]
)
def test_clerk_member_actions_refuse_bad_input_in_words(clerk, world, case, action, data, field):
    member = world["member"]
    before = snapshot()

    response = clerk.post(reverse(f"clerk:{action}", args=[member.pk]), {"token": TOKEN, **data})

    FIGURES["bad-input cases: clerk"] += 1
    assert response.status_code == 400, response.status_code
    html = response.content.decode()
    assert 'role="alert"' in html or "field-error" in html or "errorlist" in html
    form = response.context[{"pay": "pay_form"}.get(action, f"{action}_form")]
    # a field's own error, or the form's (a reward, purchase or amount the rules refuse)
    assert field in form.errors if field else form.errors, form.errors
    assert snapshot() == before


def test_clerk_member_page_escapes_html_in_names(clerk, world):
    member = world["member"]
    Member.objects.filter(pk=member.pk).update(first_name=SCRIPT, last_name=SQL)
    Reward.objects.filter(pk=world["reward"].pk).update(name=SCRIPT)

    pages = [
        clerk.get(reverse("clerk:member", args=[member.pk])),
        clerk.get(reverse("clerk:home"), {"q": "Robert"}),
        clerk.get(reverse("clerk:search"), {"q": "Robert"}),
    ]

    FIGURES["bad-input cases: clerk"] += len(pages)
    for page in pages:
        assert page.status_code == 200
        assert_escaped(page.content.decode())


def test_clerk_enrol_keeps_html_as_text_and_refuses_bad_contacts(clerk, world):
    before = snapshot()
    bad = clerk.post(
        reverse("clerk:enrol"),
        {"token": TOKEN, "first_name": SCRIPT, "email": SCRIPT, "phone": "9" * 29},
    )
    FIGURES["bad-input cases: clerk"] += 2
    assert bad.status_code == 400
    assert_escaped(bad.content.decode())
    assert snapshot() == before

    good = clerk.post(
        reverse("clerk:enrol"), {"token": TOKEN, "first_name": SCRIPT, "email": "s@example.com"}
    )
    assert good.status_code in (302, 303)
    page = clerk.get(good["Location"])
    assert_escaped(page.content.decode())


def test_imports_refuse_a_column_named_twice(world, superuser, tmp_path):
    """The CSV form of a duplicate key: which of the two is meant? Refused, nothing written."""
    number = world["member"].member_number
    files = {
        "import_members": "first_name,email,e-mail\nAnn,a@example.com,b@example.com\n",
        "import_transactions": (
            "kind,channel,external_id,occurred_at,amount,amount\n"
            "purchase,store,G1,2026-11-23T10:00:00+00:00,10.00,-5.00\n"
        ),
        "import_points": f"member_number,points,reason,points\n{number},10,ok,99999\n",
    }
    extra = {"import_points": ["--kind", "adjust", "--user", superuser.username]}
    for command, content in files.items():
        path = tmp_path / f"{command}.csv"
        path.write_text(content)
        before = snapshot()

        with pytest.raises(CommandError, match=r"[Tt]wo columns|named twice"):
            call_command(command, str(path), *extra.get(command, []))

        FIGURES["bad-input cases: csv import"] += 1
        assert snapshot() == before, command


def test_clerk_and_admin_take_form_bytes_that_are_not_utf8(clerk, client, superuser, world):
    """A form body with bytes that are not UTF-8: decoded with replacement characters, which no
    number field accepts."""
    member = world["member"]
    before = snapshot()
    body = f"token={TOKEN}&amount=%ff%fe1".encode()

    till = clerk.post(
        reverse("clerk:purchase", args=[member.pk]),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    client.force_login(superuser)
    admin = client.post(
        reverse("admin:members_member_changelist"),
        f"action=adjust_points&_selected_action={member.pk}&apply=1&reason=x&points=%ff%fe".encode(),
        content_type="application/x-www-form-urlencoded",
    )

    FIGURES["bad-input cases: clerk"] += 1
    FIGURES["bad-input cases: admin"] += 1
    assert till.status_code == 400 and "amount" in till.context["purchase_form"].errors
    assert admin.status_code == 200 and "points" in admin.context["form"].errors
    assert snapshot() == before
