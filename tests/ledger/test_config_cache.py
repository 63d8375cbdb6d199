"""The per-process configuration caches and their version stamp (loyalty/core/config_cache.py)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.core import config_cache
from loyalty.ledger.models import EarningRule, ProgrammeSettings
from loyalty.ledger.policy import programme_settings_get
from loyalty.ledger.rules import active_rules
from loyalty.ledger.services import purchase_record
from tests.factories.integrations import ApiClientFactory
from tests.factories.ledger import EarningRuleFactory
from tests.factories.members import MemberFactory
from tests.integrations.conftest import key_client

pytestmark = pytest.mark.django_db


def _foreign_bump(version: int = 424242) -> None:
    """What another process's committed change looks like from here: the stamp row moved, no
    signal in this process."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_configstamp SET version = %s WHERE id = 1", [version])


def _stamp_reads(ctx: CaptureQueriesContext) -> int:
    return sum("core_configstamp" in q["sql"] for q in ctx.captured_queries)


def test_a_saved_change_moves_the_stamp_and_the_next_purchase_sees_it(programme):
    member = MemberFactory()
    first = purchase_record(
        member=member,
        channel="store",
        external_id="before",
        occurred_at=timezone.now(),
        amount=Decimal("10.00"),
    )
    before = config_cache.stamp_read()
    settings_row = ProgrammeSettings.objects.get(pk=1)
    settings_row.points_per_unit = settings_row.points_per_unit * 3
    settings_row.save()  # what the admin does
    assert config_cache.stamp_read() != before
    second = purchase_record(
        member=member,
        channel="store",
        external_id="after",
        occurred_at=timezone.now(),
        amount=Decimal("10.00"),
    )
    assert second.points_earned == 3 * first.points_earned > 0


def test_a_rule_added_in_the_admin_applies_to_the_next_purchase(programme):
    member = MemberFactory()
    assert active_rules() == []
    EarningRuleFactory(name="Bonus 9", kind=EarningRule.Kind.FIXED_BONUS, points=9)
    assert [r.name for r in active_rules()] == ["Bonus 9"]
    result = purchase_record(
        member=member,
        channel="store",
        external_id="x",
        occurred_at=timezone.now(),
        amount=Decimal("10.00"),
    )
    assert 9 in [e.amount for e in result.entries]


def test_the_cache_is_used_until_the_stamp_moves_then_reloads(programme):
    EarningRuleFactory(name="A", kind=EarningRule.Kind.FIXED_BONUS, points=1)
    assert [r.name for r in active_rules()] == ["A"]
    # a change with no signal (another process's write would come with its stamp move)
    EarningRule.objects.filter(name="A").update(name="B")
    with CaptureQueriesContext(connection) as ctx:
        assert [r.name for r in active_rules()] == ["A"]  # cached: only the stamp is read
    assert len(ctx.captured_queries) == 1 and _stamp_reads(ctx) == 1
    _foreign_bump()
    assert [r.name for r in active_rules()] == ["B"]  # a stale process reloads


@override_settings(CONFIG_CACHE_MAX_AGE=1.0)
def test_the_stamp_is_read_at_most_once_per_max_age(programme, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(config_cache.time, "monotonic", lambda: clock[0])
    assert programme_settings_get().points_per_unit == programme.points_per_unit
    ProgrammeSettings.objects.filter(pk=1).update(points_per_unit=Decimal("7"))
    _foreign_bump()
    clock[0] += 0.5
    with CaptureQueriesContext(connection) as ctx:
        assert programme_settings_get().points_per_unit == programme.points_per_unit  # stale
    assert ctx.captured_queries == []  # no query at all within the bound
    clock[0] += 0.6  # more than a second after the last read: the edit applies
    assert programme_settings_get().points_per_unit == Decimal("7")


@override_settings(CONFIG_CACHE_MAX_AGE=0)
def test_inside_a_request_the_stamp_is_read_once(programme):
    programme_settings_get()
    # what the request_started / request_finished receivers do (the real signals would also
    # close the test's database connection: Django's close_old_connections)
    config_cache._request_started()
    try:
        with CaptureQueriesContext(connection) as ctx:
            for _ in range(3):
                programme_settings_get()
                active_rules()
    finally:
        config_cache._request_finished()
    assert _stamp_reads(ctx) == 1
    with CaptureQueriesContext(connection) as ctx:
        programme_settings_get()
        programme_settings_get()
    assert _stamp_reads(ctx) == 2  # outside a request, with max age 0: every use


def test_a_caller_cannot_change_the_cached_settings(programme):
    mine = programme_settings_get()
    mine.points_per_unit = Decimal("99")
    assert programme_settings_get().points_per_unit == programme.points_per_unit


@override_settings(CONFIG_CACHE_ENABLED=False)
def test_disabled_caches_read_afresh_every_time(programme):
    active_rules()
    EarningRule.objects.create(name="Z", kind=EarningRule.Kind.FIXED_BONUS, points=1)
    EarningRule.objects.filter(name="Z").update(name="Y")  # no stamp move
    assert [r.name for r in active_rules()] == ["Y"]


def test_caches_are_per_thread(monkeypatch):
    monkeypatch.setattr(config_cache, "stamp_read", lambda: 1)  # no database in the threads
    config_cache.register("tests.object", object)
    seen: dict[int, list[object]] = {}
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait()
        seen[i] = [config_cache.cached("tests.object") for _ in range(50)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(seen) == 4
    assert all(len({id(v) for v in values}) == 1 for values in seen.values())  # kept per thread
    assert len({id(values[0]) for values in seen.values()}) == 4  # never shared between threads


def test_a_revoked_key_stops_at_the_next_request(programme):
    from loyalty.integrations.services import api_client_revoke

    api_client = ApiClientFactory(scopes=["members:read"])
    till = key_client(api_client)
    assert till.get("/api/v1/members/lookup/", {"q": "nobody"}).status_code == 200
    api_client_revoke(client=api_client)  # an UPDATE: the service moves the stamp
    response = till.get("/api/v1/members/lookup/", {"q": "nobody"})
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_another_process_sees_a_committed_change_within_the_bound():
    """Two connections (threads stand for processes): a change committed by one is seen by the
    other's next read of the stamp."""
    ProgrammeSettings.objects.get_or_create(pk=1)
    loaded, changed, values = threading.Event(), threading.Event(), []

    def other_process() -> None:
        try:
            values.append(programme_settings_get().points_per_unit)
            loaded.set()
            changed.wait(timeout=30)
            values.append(programme_settings_get().points_per_unit)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_process)
    thread.start()
    assert loaded.wait(timeout=30)
    row = ProgrammeSettings.objects.get(pk=1)
    row.points_per_unit = Decimal("5")
    row.save()  # autocommit: committed with its stamp move
    changed.set()
    thread.join(timeout=30)
    assert values[0] != Decimal("5") and values[1] == Decimal("5")


def test_the_purchase_path_reads_the_configuration_once_per_request(programme, ladder_and_key):
    member, till = ladder_and_key
    body = {"member_id": member.pk, "channel": "api", "amount": "20.00"}
    for warm in ("warm", "warm2"):  # the first creates the engagement settings row: a stamp move
        till.post("/api/v1/ledger/purchases/", {**body, "external_id": warm}, format="json")
    with CaptureQueriesContext(connection) as ctx:
        response = till.post(
            "/api/v1/ledger/purchases/", {**body, "external_id": "n"}, format="json"
        )
    assert response.status_code == 201
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert _stamp_reads(ctx) == 1
    for table in (
        "ledger_programmesettings",
        "ledger_earningrule",
        'tiers_tier"',
        "tiers_tierpolicy",
        "engagement_engagementsettings",
        "engagement_badgerule",
        "integrations_apiclient",
        "integrations_webhooksubscription",
        'campaigns_campaign"',
    ):
        assert f'FROM "{table}' not in sql, table


@pytest.fixture
def ladder_and_key(db):  # type: ignore[no-untyped-def]
    from tests.factories.tiers import TierPolicyFactory, standard_ladder

    TierPolicyFactory()
    standard_ladder()
    member = MemberFactory()
    return member, key_client(ApiClientFactory(scopes=["transactions:write"]))
