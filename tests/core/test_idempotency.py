"""Issue 16 item 5: one idempotency rule for every write endpoint (docs/api.md, Idempotency).

For each write operation of the API: the same key with the same request replays the first
answer and changes nothing; the same key with a different request is 409
`idempotency_key_reused` and changes nothing; keys belong to their caller (another API client
may use the same key); a refused request does not keep its key.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from loyalty.core.models import IdempotencyRecord
from loyalty.core.scopes import SCOPES
from loyalty.integrations.services import api_client_create
from loyalty.ledger.models import LedgerEntry, Transaction
from loyalty.ledger.services import points_earn
from members.models import Member, MemberEvent, Store
from rewards.models import Redemption, Voucher
from tests.factories.ledger import ProgrammeSettingsFactory
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory, RewardsSettingsFactory, redeemed
from tests.factories.tiers import standard_ladder

pytestmark = pytest.mark.django_db


@dataclass
class World:
    member: Member
    other: Member
    voucher_code: str
    used_voucher_code: str
    redemption_id: int


@pytest.fixture
def world(db: Any) -> World:
    ProgrammeSettingsFactory()
    RewardsSettingsFactory(points_payment_minimum=1)
    standard_ladder()
    member, other = MemberFactory(), MemberFactory()
    for who in (member, other):
        points_earn(member=who, points=5000, idempotency_key="seed")
    reward = RewardFactory(code="mug", points_cost=100)
    RewardFactory(code="bag", points_cost=200)
    from rewards.services import voucher_consume

    issued = redeemed(member=member, reward=reward)
    used = redeemed(member=member, reward=reward)
    voucher_consume(code=used.voucher.code, order_ref="ORDER-0", actor=None)
    cancellable = redeemed(member=member, reward=reward)
    Store.objects.get_or_create(code="S001", defaults={"name": "First"})
    return World(member, other, issued.voucher.code, used.voucher.code, cancellable.pk)


@dataclass
class Case:
    id: str
    method: str
    url: Callable[[World], str]
    body: Callable[[World], dict]
    different: Callable[[World], dict]
    status: int = 201


def _purchase(amount: str) -> Callable[[World], dict]:
    return lambda w: {"member_id": w.member.pk, "channel": "web", "amount": amount}


CASES = [
    Case(
        "purchase",
        "post",
        lambda w: reverse("ledger:purchase-create"),
        _purchase("10.00"),
        _purchase("99.00"),
    ),
    Case(
        "purchase-other-external-id",
        "post",
        lambda w: reverse("ledger:purchase-create"),
        lambda w: {**_purchase("10.00")(w), "external_id": "W-1"},
        lambda w: {**_purchase("10.00")(w), "external_id": "W-2"},
    ),
    Case(
        "return",
        "post",
        lambda w: reverse("ledger:return-create"),
        lambda w: {"member_id": w.member.pk, "channel": "web", "amount": "5.00"},
        lambda w: {"member_id": w.member.pk, "channel": "web", "amount": "6.00"},
    ),
    Case(
        "adjustment",
        "post",
        lambda w: reverse("ledger:adjustment-create"),
        lambda w: {"member_id": w.member.pk, "points": 50, "reason": "late delivery"},
        lambda w: {"member_id": w.member.pk, "points": 500, "reason": "late delivery"},
    ),
    Case(
        "redemption",
        "post",
        lambda w: reverse("rewards:redemption-create"),
        lambda w: {"member_id": w.member.pk, "reward": "mug"},
        lambda w: {"member_id": w.member.pk, "reward": "bag"},
    ),
    Case(
        "points-payment",
        "post",
        lambda w: reverse("rewards:points-payment-create"),
        lambda w: {"member_id": w.member.pk, "order_ref": "BILL-1", "points": 100},
        lambda w: {"member_id": w.member.pk, "order_ref": "BILL-1", "points": 300},
    ),
    Case(
        "redemption-cancel",
        "post",
        lambda w: reverse("rewards:redemption-cancel", args=[w.redemption_id]),
        lambda w: {"reason": "changed their mind"},
        lambda w: {"reason": "something else"},
        200,
    ),
    Case(
        "voucher-consume",
        "post",
        lambda w: reverse("rewards:voucher-consume", args=[w.voucher_code]),
        lambda w: {"order_ref": "ORDER-1"},
        lambda w: {"order_ref": "ORDER-2"},
        200,
    ),
    Case(
        "voucher-undo",
        "post",
        lambda w: reverse("rewards:voucher-undo", args=[w.used_voucher_code]),
        lambda w: {"order_ref": "ORDER-0", "reason": "refunded"},
        lambda w: {"order_ref": "ORDER-0", "reason": "refunded twice"},
        200,
    ),
    Case(
        "member-enrol",
        "post",
        lambda w: reverse("members:list"),
        lambda w: {"first_name": "Ada", "email": "ada@example.com"},
        lambda w: {"first_name": "Ada", "email": "ada.l@example.com"},
    ),
    Case(
        "member-update",
        "patch",
        lambda w: reverse("members:detail", args=[w.member.pk]),
        lambda w: {"first_name": "Grace"},
        lambda w: {"first_name": "Hedy"},
        200,
    ),
    Case(
        "member-status",
        "post",
        lambda w: reverse("members:status", args=[w.other.pk]),
        lambda w: {"action": "suspend", "reason": "fraud check"},
        lambda w: {"action": "close", "reason": "fraud check"},
        200,
    ),
    Case(
        "member-erase",
        "post",
        lambda w: reverse("members:erase", args=[w.other.pk]),
        lambda w: {"confirm": True},
        lambda w: {"confirm": True, "unexpected": 1},
        200,
    ),
    Case(
        "store-create",
        "post",
        lambda w: reverse("members:stores"),
        lambda w: {"code": "S002", "name": "Second"},
        lambda w: {"code": "S003", "name": "Third"},
    ),
    Case(
        "tier-set",
        "post",
        lambda w: reverse("tiers:assign", args=[w.member.pk]),
        lambda w: {"tier": "gold", "reason": "VIP"},
        lambda w: {"tier": "platinum", "reason": "VIP"},
    ),
]


def snapshot() -> tuple:
    """Everything a write endpoint can change, counted."""
    from loyalty.tiers.models import TierAssignment

    return (
        Member.objects.count(),
        list(Member.objects.order_by("pk").values_list("first_name", "status")),
        Transaction.objects.count(),
        LedgerEntry.objects.count(),
        Redemption.objects.count(),
        list(Voucher.objects.order_by("pk").values_list("status", "order_ref")),
        MemberEvent.objects.count(),
        Store.objects.count(),
        TierAssignment.objects.count(),
    )


def send(client: APIClient, case: Case, w: World, body: dict, key: str) -> Any:
    call = getattr(client, case.method)
    return call(case.url(w), body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_key_same_request_replays_and_different_request_is_409(
    case: Case, world: World, admin_api_client: APIClient
) -> None:
    first = send(admin_api_client, case, world, case.body(world), "key-1")
    assert first.status_code == case.status, first.json()
    after_first = snapshot()

    again = send(admin_api_client, case, world, case.body(world), "key-1")
    other = send(admin_api_client, case, world, case.different(world), "key-1")

    assert again.status_code in (case.status, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    replayed = {k: v for k, v in again.json().items() if k != "created"}
    assert replayed == {k: v for k, v in first.json().items() if k != "created"}
    assert other.status_code == 409, other.json()
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["extra"]["first_request"]["path"] == case.url(world)
    assert snapshot() == after_first


def test_a_replayed_creation_says_created_false_with_200(world, admin_api_client):
    case = CASES[0]
    first = send(admin_api_client, case, world, case.body(world), "k")
    again = send(admin_api_client, case, world, case.body(world), "k")

    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (again.status_code, again.json()["created"]) == (200, False)
    assert again.json()["transaction_id"] == first.json()["transaction_id"]


def test_the_fingerprint_ignores_key_order_and_spacing(world, admin_api_client):
    url = reverse("ledger:purchase-create")
    pk = world.member.pk
    body = f'{{"member_id": {pk}, "channel": "web", "amount": "10.00"}}'
    reordered = f'{{"amount":"10.00","channel":"web","member_id":{pk}}}'

    first = admin_api_client.post(
        url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    again = admin_api_client.post(
        url, reordered, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert Transaction.objects.count() == 1


def test_the_same_key_on_another_endpoint_is_409(world, admin_api_client):
    purchase = send(admin_api_client, CASES[0], world, CASES[0].body(world), "k")
    store = send(admin_api_client, CASES[-2], world, CASES[-2].body(world), "k")

    assert purchase.status_code == 201
    assert store.status_code == 409 and store.json()["code"] == "idempotency_key_reused"
    assert not Store.objects.filter(code="S002").exists()


def test_keys_are_scoped_per_api_client(world):
    clients = []
    for name in ("till-1", "web-shop"):
        key = api_client_create(name=name, scopes=list(SCOPES)).key
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        clients.append(client)
    url = reverse("members:list")

    first = clients[0].post(url, {"first_name": "Ada"}, format="json", HTTP_IDEMPOTENCY_KEY="A1")
    second = clients[1].post(url, {"first_name": "Bob"}, format="json", HTTP_IDEMPOTENCY_KEY="A1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert Member.objects.filter(first_name__in=["Ada", "Bob"]).count() == 2
    assert IdempotencyRecord.objects.filter(key="A1").count() == 2


def test_a_refused_request_does_not_keep_its_key(world, admin_api_client):
    url = reverse("ledger:purchase-create")
    bad = admin_api_client.post(
        url, {**_purchase("10.00")(world), "store": "NOPE"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    good = admin_api_client.post(
        url, _purchase("10.00")(world), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert bad.status_code == 422 and good.status_code == 201
    assert Transaction.objects.count() == 1


def test_a_key_in_the_adjustment_body_follows_the_same_rule(world, admin_api_client):
    url = reverse("ledger:adjustment-create")
    body = {
        "member_id": world.member.pk,
        "points": 50,
        "reason": "goodwill",
        "idempotency_key": "a",
    }

    first = admin_api_client.post(url, body, format="json")
    again = admin_api_client.post(url, body, format="json")
    other = admin_api_client.post(url, {**body, "points": 60}, format="json")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert LedgerEntry.objects.filter(kind="adjust").count() == 1


def test_the_adjustment_service_refuses_a_key_reused_for_other_points(world, superuser):
    from loyalty.core.exceptions import IdempotencyKeyReused
    from loyalty.ledger.services import points_adjust

    points_adjust(member=world.member, points=5, reason="r", actor=superuser, idempotency_key="x")
    again = points_adjust(
        member=world.member, points=5, reason="r", actor=superuser, idempotency_key="x"
    )
    with pytest.raises(IdempotencyKeyReused):
        points_adjust(
            member=world.member, points=7, reason="r", actor=superuser, idempotency_key="x"
        )
    assert LedgerEntry.objects.filter(kind="adjust").get() == again


def test_a_request_still_running_makes_a_second_one_wait(world, admin_api_client):
    url = reverse("ledger:purchase-create")
    done = admin_api_client.post(
        url, _purchase("1.00")(world), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    # as if the first request were still running: its answer not recorded yet
    IdempotencyRecord.objects.filter(key="k").update(status_code=None, response_body=None)

    response = admin_api_client.post(
        url, _purchase("1.00")(world), format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert done.status_code == 201
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_request_in_progress"
    assert Transaction.objects.count() == 1


def test_no_personal_data_outlives_an_erasure_in_stored_answers(world, admin_api_client):
    member = world.other
    updated = admin_api_client.patch(
        reverse("members:detail", args=[member.pk]),
        {"first_name": "Secret"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="u1",
    )
    exported = admin_api_client.post(
        reverse("members:privacy-export", args=[member.pk]), HTTP_IDEMPOTENCY_KEY="x1"
    )
    assert updated.status_code == 200 and exported.status_code == 200
    assert IdempotencyRecord.objects.filter(key="u1").exists()
    assert not IdempotencyRecord.objects.filter(key="x1").exists()  # a read: never stored

    erased = admin_api_client.post(
        reverse("members:erase", args=[member.pk]), {"confirm": True}, format="json"
    )

    assert erased.status_code == 200
    assert not IdempotencyRecord.objects.filter(key="u1").exists()
    assert "Secret" not in str(list(IdempotencyRecord.objects.values_list("response_body")))


def test_a_nul_character_in_a_body_key_is_a_400_not_a_500(world, admin_api_client):
    # found by the contract fuzzing on PostgreSQL (text columns refuse NUL): the key is only
    # claimed once it is a storable value; the view's serializer refuses this one
    response = admin_api_client.post(
        reverse("ledger:adjustment-create"),
        {"member_id": world.member.pk, "points": -1, "reason": "0", "idempotency_key": "a\x00b"},
        format="json",
    )

    assert response.status_code == 400, response.json()
    assert not IdempotencyRecord.objects.exists()
    assert not LedgerEntry.objects.filter(kind="adjust").exists()
