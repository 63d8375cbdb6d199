"""Which characters text fields hold, and the schema agreeing with the validators: a string the
OpenAPI pattern accepts is accepted by the API, and one it refuses is refused with 400 naming
the field (U+001C and U+0085 used to pass the pattern and then be refused after trimming)."""

import re

import pytest

from loyalty.core.api.strict import request_field_schema
from members.api.views import MemberListApi
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory

pytestmark = pytest.mark.django_db

SAMPLES = [
    "Ann",
    "Zoë Ñúñez",
    "李小龍",
    "O'Brien-Smith",
    "Ann\tMarie",
    "Ann\nMarie",
    "\u00a0Ann\u3000",
    "\ufeffAnn",
    "🙂",
    "\x1c",
    "\x85",
    "Ann\x1c",
    "\x1cAnn",
    "Ann\x85Marie",
    "\x7f",
    "\x1f\x1e",
    "\x0b",
    " \u3000 ",
    "\u2028",
    "\t",
]


# JSON Schema patterns are ECMA-262 regexes, whose \s is not Python's: it lacks U+001C-U+001F
# and U+0085 and has U+FEFF. Matching with Python's re needs \s spelt out the ECMA way.
ECMA_SPACE = "[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"


def ecma_match(pattern: str, value: str) -> bool:
    pattern = pattern.replace("[^\\s", "[^" + ECMA_SPACE[1:-1]).replace("\\s", ECMA_SPACE)
    return re.search(pattern, value) is not None


def _patterns(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(_patterns(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_patterns(v) for v in node))
    return set()


def _pattern(serializer_class, name: str) -> str:
    field = serializer_class().fields[name]
    return request_field_schema(field, {"type": "string"})["pattern"]


@pytest.mark.parametrize("value", SAMPLES, ids=[repr(v) for v in SAMPLES])
def test_member_names_accepted_exactly_when_the_schema_pattern_matches(admin_api_client, value):
    pattern = _pattern(MemberListApi.InputSerializer, "last_name")
    schema_accepts = ecma_match(pattern, value)
    response = admin_api_client.post(
        "/api/v1/members/", {"first_name": "Jo", "last_name": value}, format="json"
    )
    if schema_accepts:
        assert response.status_code == 201, (value, response.json())
    else:
        assert response.status_code == 400, (value, response.status_code)
        assert "last_name" in response.json()["extra"]["fields"]


@pytest.mark.parametrize("value", SAMPLES, ids=[repr(v) for v in SAMPLES])
def test_adjustment_reasons_accepted_exactly_when_the_schema_pattern_matches(
    admin_api_client, value
):
    from loyalty.ledger.api.views import AdjustmentCreateApi

    ProgrammeSettingsFactory()
    member = MemberFactory()

    pattern = _pattern(AdjustmentCreateApi.InputSerializer, "reason")
    schema_accepts = ecma_match(pattern, value)
    response = admin_api_client.post(
        "/api/v1/ledger/adjustments/",
        {"member_id": member.pk, "points": 5, "reason": value, "idempotency_key": "k-1"},
        format="json",
    )
    if schema_accepts:
        assert response.status_code == 201, (value, response.json())
    else:
        assert response.status_code == 400, (value, response.status_code)
        assert "reason" in response.json()["extra"]["fields"]


def test_control_characters_are_refused_with_a_clear_message(admin_api_client):
    response = admin_api_client.post(
        "/api/v1/members/", {"first_name": "Jo", "last_name": "Ann\x1cLee"}, format="json"
    )
    assert response.status_code == 400
    message = response.json()["extra"]["fields"]["last_name"][0]
    assert "Control characters" in message and "U+001C" in message


def test_the_served_schema_carries_the_same_patterns(admin_api_client):
    schema = admin_api_client.get("/api/schema/?format=json").json()
    patterns = _patterns(schema)
    assert _pattern(MemberListApi.InputSerializer, "last_name") in patterns
    # no body or query pattern lets a control character through any more
    for pattern in patterns:
        assert not ecma_match(pattern, "\x1c"), pattern
        assert not ecma_match(pattern, "\x85"), pattern


@pytest.mark.parametrize("value", ["\u00d7\u00f8\x9b", "Ann\x1c", "\x85"])
def test_control_characters_in_a_query_string_are_refused_as_the_schema_says(
    admin_api_client, value
):
    """The schema's query patterns refuse control characters; the lookup accepted C1 ones
    (U+009B) and answered 200 (found by the contract fuzzer)."""
    response = admin_api_client.get("/api/v1/members/lookup/", {"q": value})

    assert response.status_code == 400, response.content
    assert "Control characters" in response.json()["extra"]["fields"]["q"][0]
