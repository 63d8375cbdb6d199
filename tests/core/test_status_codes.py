"""Issue 16 item 6: one status-code rule, written once in docs/api.md, and a schema that lists
for each operation the statuses it answers and, per status, the error codes it carries.

The contract test (tests/hardening/test_api_contract.py) then checks every answer of the fuzzed
API against these lists: a status or a code the schema does not list fails it.
"""

import re
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from loyalty.core.api.schema import error_codes_by_status

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def documented_codes() -> dict[str, set[str]]:
    """The "Status codes" table of docs/api.md: status -> the codes its row lists."""
    text = DOCS.read_text()
    section = text.split("## Status codes", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        match = re.match(r"\| `(\d{3})` \|(.*)\|(.*)\|$", line)
        if match:
            table[match.group(1)] = set(re.findall(r"`([a-z_]+)`", match.group(3)))
    return table


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_docs_table_lists_every_error_code_with_its_status():
    assert documented_codes() == {
        status: set(codes) for status, codes in error_codes_by_status().items()
    }


def test_business_refusals_are_422_and_schema_mismatches_400():
    from loyalty.ledger.exceptions import InvalidAmount
    from rewards.exceptions import PointsPaymentInvalid

    assert InvalidAmount.http_status == PointsPaymentInvalid.http_status == 422
    codes = error_codes_by_status()
    assert "invalid_amount" not in codes["400"] and "points_payment_invalid" not in codes["400"]


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method.upper(), operation


def _listed_codes(response: dict) -> list[str]:
    body = response["content"]["application/json"]["schema"]
    return body["allOf"][1]["properties"]["code"]["enum"]


def test_every_operation_lists_only_documented_statuses_with_their_codes(schema):
    documented = documented_codes()
    for path, method, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith("2") or path == "/healthz":
                continue
            assert status in documented, (method, path, status)
            if "allOf" in response["content"]["application/json"]["schema"]:
                assert set(_listed_codes(response)) == documented[status], (method, path, status)


def test_statuses_follow_what_each_operation_can_do(schema):
    responses = {(m, p): set(op["responses"]) for p, m, op in _operations(schema)}

    purchase = responses[("POST", "/api/v1/ledger/purchases/")]
    assert {"400", "401", "403", "404", "409", "422", "429"} <= purchase
    # a read with no filters and no id in its path: never 404, 409 or 422
    assert not {"404", "409", "422"} & responses[("GET", "/api/v1/tiers/")]
    assert "404" in responses[("GET", "/api/v1/ledger/members/{member_id}/balance/")]
    assert "409" not in responses[("GET", "/api/v1/ledger/members/{member_id}/balance/")]
    # public: no 401/403 from the auth layer (the token endpoint documents its own 401)
    assert "403" not in responses[("POST", "/api/v1/auth/token/")]
    assert "409" not in responses[("POST", "/api/v1/auth/token/")]
    assert responses[("GET", "/healthz")] == {"200", "503"}


def test_every_write_documents_the_idempotency_key_header(schema):
    for path, method, operation in _operations(schema):
        if method == "GET" or path.startswith("/api/v1/auth/token") or "privacy" in path:
            continue  # reads (the privacy export is a POST that changes nothing)
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert headers.count("Idempotency-Key") == 1, (method, path)
