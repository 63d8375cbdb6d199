"""Contract fuzzing: schemathesis drives every API operation of the OpenAPI schema in-process.

The schema comes from the app itself (drf-spectacular at /api/schema/), requests go through
Django's WSGI handler, authenticated as a staff superuser token, then again (lighter) as an API client
holding every scope (Api-Key). Every built-in check is on:
no 5xx, every response (status, headers, body) matches the schema, schema-valid requests are
accepted and schema-invalid ones refused. The seed is fixed and the number of examples per
operation bounded, so a run is repeatable and takes a few minutes on PostgreSQL.

Runs only on PostgreSQL (.ci/run's second pass): the app's row locks and constraints behave
like production there, and a SQLite run would double the suite's time for no new information.
"""

from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.authtoken.models import Token

from tests.hardening.conftest import FIGURES, FUZZED_OPERATIONS

pytestmark = pytest.mark.postgres

SEED = 20260917
MAX_EXAMPLES = 50
API_KEY_MAX_EXAMPLES = 15  # a second, lighter pass with the other kind of credentials

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "checks": {
            # Explicitly what "a schema-valid request is accepted" means for this API. A
            # well-formed request may still name a member that does not exist (404), break a
            # business rule such as spending more points than the member has (409), or be
            # refused by a rule OpenAPI cannot state: a store code that names no store, a date
            # that must be in the future, a body field or header that one of them must give
            # (422, code validation_error with per-field messages). Every one of these is
            # documented on every operation by LoyaltyAutoSchema. What a schema-valid request
            # never gets is a 400: every input rule the API enforces at the 400 level is in the
            # schema (types, bounds, lengths, patterns, required combinations, no unknown keys).
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422"],
            },
        },
    }
)


def _load_schema() -> Any:
    """The app's own schema (what /api/schema/ serves), called through its WSGI handler.

    Built at import time because schemathesis' lazy fixture loader does not support pytest 9;
    generating the document needs no database.
    """
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(_jsonable(document), config=CONFIG)
    loaded.app = get_wsgi_application()
    return loaded


def _jsonable(document: Any) -> Any:
    import json

    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


@pytest.fixture(autouse=True)
def in_process_requests(db: Any) -> Any:
    """Seed data, and keep Django's WSGI handler from closing the test's connection.

    The handler closes connections that are inside a transaction at the start and end of each
    request; Django's test client switches that off for the same reason.
    """
    _seed_data()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(django_user_model: Any) -> dict[str, str]:
    user = django_user_model.objects.create_superuser(
        username="fuzzer", email="fuzzer@example.com", password="fuzzer-pass-123"
    )
    token, _ = Token.objects.get_or_create(user=user)
    return {"Authorization": f"Token {token.key}"}


def _seed_data() -> None:
    """A few rows so that ids 1, 2, 3... and the demo codes exist for the generator to find."""
    from loyalty.ledger.services import points_earn
    from tests.factories.games import WheelPrizeFactory
    from tests.factories.ledger import ProgrammeSettingsFactory
    from tests.factories.members import MemberFactory, StoreFactory
    from tests.factories.rewards import RewardFactory, RewardsSettingsFactory

    ProgrammeSettingsFactory()
    RewardsSettingsFactory()
    StoreFactory(code="S001")
    for index in range(3):
        member = MemberFactory()
        points_earn(member=member, points=500 * (index + 1), idempotency_key=f"fuzz-seed-{index}")
    RewardFactory(code="gift", points_cost=100)
    WheelPrizeFactory(stock=None)  # an open prize wheel (id 1) with a prize that never runs out


schema = _load_schema()


@schema.parametrize()
@hypothesis_settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_honours_its_contract(case: Any, auth_headers: dict[str, str]) -> None:
    FUZZED_OPERATIONS.add(case.operation.label)
    FIGURES["api cases fuzzed"] += 1
    case.call_and_validate(headers=auth_headers)


@pytest.fixture
def api_key_headers() -> dict[str, str]:
    """A POS-style client holding every scope; staff-only operations must answer it 403."""
    from loyalty.core.scopes import SCOPES
    from loyalty.integrations.services import api_client_create

    created = api_client_create(name="fuzzer", scopes=list(SCOPES), rate_limit_per_minute=1_000_000)
    return {"Authorization": f"Api-Key {created.key}"}


@schema.parametrize()
@hypothesis_settings(
    max_examples=API_KEY_MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_honours_its_contract_for_an_api_key(
    case: Any, api_key_headers: dict[str, str]
) -> None:
    FUZZED_OPERATIONS.add(case.operation.label)
    FIGURES["api cases fuzzed"] += 1
    case.call_and_validate(headers=api_key_headers)
