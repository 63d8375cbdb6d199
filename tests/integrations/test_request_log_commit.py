"""The request log's write commits without waiting for its WAL flush, but only when it is its
own transaction: inside a caller's transaction the setting would carry over to the caller's
writes (a purchase committed asynchronously)."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty.integrations.models import ApiRequestLog
from loyalty.integrations.services import api_request_log_write
from tests.factories.integrations import ApiClientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def write_log(client) -> None:
    api_request_log_write(
        client_id=client.pk,
        method="GET",
        route="api/v1/members/lookup/",
        path="/api/v1/members/lookup/",
        status_code=200,
        latency_ms=3,
    )


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_request_log_on_its_own_commits_asynchronously_for_that_transaction_only():
    client = ApiClientFactory()
    with CaptureQueriesContext(connection) as ctx:
        write_log(client)
    (statement,) = ctx.captured_queries  # one round trip: no BEGIN / SET LOCAL / COMMIT
    assert "set_config('synchronous_commit', 'off', true)" in statement["sql"]
    assert synchronous_commit() == "on"  # the setting ended with the log's transaction
    assert ApiRequestLog.objects.filter(client=client).count() == 1


def test_request_log_inside_a_callers_transaction_leaves_its_commit_synchronous():
    client = ApiClientFactory()
    with transaction.atomic():
        write_log(client)
        assert synchronous_commit() == "on"
    assert ApiRequestLog.objects.filter(client=client).count() == 1
