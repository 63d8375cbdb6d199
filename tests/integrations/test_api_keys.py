"""API keys: scopes, revocation, rate limits, store and channel binding, the request log, and
the same scope table applied to staff users through model permissions."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from loyalty.core.api.mixins import ApiAuthMixin
from loyalty.core.scopes import SCOPE_PERMISSIONS, SCOPES
from loyalty.integrations.models import ApiClient, ApiRequestLog
from loyalty.integrations.services import api_client_revoke
from loyalty.ledger.models import LedgerEntry, Transaction
from tests.factories.integrations import ApiClientFactory
from tests.factories.members import StoreFactory

pytestmark = pytest.mark.django_db
PURCHASE = reverse("ledger:purchase-create")


def purchase(client, member, **extra):
    body = {
        "member_id": member.pk,
        "channel": "store",
        "external_id": "TILL-1",
        "amount": "25.00",
        **extra,
    }
    return client.post(PURCHASE, body, format="json")


def test_a_key_with_the_scope_posts_a_purchase_attributed_to_its_client(
    programme, member, make_key_client
):
    client, api_client = make_key_client(scopes=["transactions:write"])

    response = purchase(client, member)

    assert response.status_code == 201, response.json()
    assert response.json()["points_earned"] == 25
    txn = Transaction.objects.get(external_id="TILL-1")
    assert txn.created_by == api_client.user
    assert LedgerEntry.objects.get(source_id=str(txn.pk)).created_by == api_client.user


def test_a_key_without_transactions_write_gets_403_on_a_purchase(
    programme, member, make_key_client
):
    client, _ = make_key_client(scopes=[s for s in SCOPES if s != "transactions:write"])

    response = purchase(client, member)

    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"
    assert response.json()["extra"]["required_scope"] == "transactions:write"
    assert not Transaction.objects.exists()


def _call(client, scope, member, voucher_code="NOPE-NOPE"):
    if scope == "members:read":
        return client.get(reverse("members:detail", args=[member.pk]))
    if scope == "members:write":
        return client.post(reverse("members:list"), {"first_name": "Ada"}, format="json")
    if scope == "transactions:write":
        return purchase(client, member)
    if scope == "rewards:redeem":
        return client.get(reverse("rewards:reward-list"))
    if scope == "vouchers:consume":
        return client.get(reverse("rewards:voucher-check", args=[voucher_code]))
    raise AssertionError(scope)


ENDPOINT_SCOPES = ["members:read", "members:write", "transactions:write", "rewards:redeem"]
ENDPOINT_SCOPES += ["vouchers:consume"]


@pytest.mark.parametrize("scope", ENDPOINT_SCOPES)
def test_each_scope_is_needed_by_its_endpoints(scope, programme, member, make_key_client):
    without, _ = make_key_client(scopes=[s for s in SCOPES if s != scope])
    with_only, _ = make_key_client(scopes=[scope])

    refused = _call(without, scope, member)
    allowed = _call(with_only, scope, member)

    assert refused.status_code == 403
    assert refused.json()["code"] == "missing_scope"
    assert refused.json()["extra"]["required_scope"] == scope
    # with the scope the request reaches the view (a missing voucher is a 404, not a 403)
    assert allowed.status_code in (200, 201, 404), allowed.json()


class AnalyticsProbeApi(ApiAuthMixin, APIView):
    required_scope = "analytics:read"

    def get(self, request):
        from rest_framework.response import Response

        return Response({"ok": True})


def test_analytics_read_is_enforced_like_the_others():
    """No analytics endpoint exists yet; a view declaring the scope is judged the same way."""
    factory = APIRequestFactory()
    view = AnalyticsProbeApi.as_view()
    without = ApiClientFactory(scopes=["members:read"])
    holder = ApiClientFactory(scopes=["analytics:read"])

    refused = view(factory.get("/x", HTTP_AUTHORIZATION=f"Api-Key {without.raw_key}"))
    allowed = view(factory.get("/x", HTTP_AUTHORIZATION=f"Api-Key {holder.raw_key}"))

    assert (refused.status_code, refused.data["code"]) == (403, "missing_scope")
    assert allowed.status_code == 200


def test_a_view_without_a_scope_refuses_api_keys(programme, member, make_key_client):
    client, _ = make_key_client()  # every scope

    response = client.post(
        reverse("ledger:adjustment-create"),
        {"member_id": member.pk, "points": 10, "reason": "goodwill", "idempotency_key": "k1"},
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["code"] == "api_key_not_allowed"
    assert not LedgerEntry.objects.exists()


def test_revoked_and_unknown_keys_get_401(programme, member, make_key_client):
    client, api_client = make_key_client()
    assert purchase(client, member, external_id="A").status_code == 201
    api_client_revoke(client=api_client)

    revoked = purchase(client, member, external_id="B")
    prefix = api_client.prefix
    forged = key_client_for(f"lk_{prefix}_" + "x" * 43)  # right prefix, wrong secret
    unknown = key_client_for("lk_00000000_" + "y" * 43)
    malformed = key_client_for("not-a-key")

    assert revoked.status_code == 401
    assert revoked.json()["code"] == "authentication_failed"
    assert "revoked" in revoked.json()["message"]
    for client in (forged, unknown, malformed):
        response = purchase(client, member, external_id="C")
        assert response.status_code == 401
        assert response.json()["message"] == "Invalid API key."
    assert Transaction.objects.count() == 1


def key_client_for(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_the_key_is_stored_only_as_a_hash(make_key_client):
    _, api_client = make_key_client()

    row = ApiClient.objects.get(pk=api_client.pk)

    assert api_client.raw_key not in (row.key_hash, row.prefix, row.name)
    assert not hasattr(row, "raw_key")
    assert api_client.raw_key.startswith(f"lk_{row.prefix}_")
    assert len(row.key_hash) == 64


def test_a_throttled_key_gets_429_with_retry_after(programme, member, make_key_client):
    client, _ = make_key_client(rate_limit_per_minute=2)
    other, _ = make_key_client(rate_limit_per_minute=2)

    answers = [purchase(client, member, external_id=f"T{n}").status_code for n in range(3)]
    throttled = purchase(client, member, external_id="T9")
    other_key = purchase(other, member, external_id="O1")

    assert answers[:2] == [201, 201]
    assert answers[2] == 429
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert other_key.status_code == 201  # the limit is per key
    assert Transaction.objects.count() == 3


def test_every_keyed_request_is_logged(programme, member, make_key_client, staff_client):
    client, api_client = make_key_client(scopes=["transactions:write"])

    purchase(client, member)
    client.get(reverse("members:detail", args=[member.pk]))  # 403: lacks members:read
    purchase(staff_client, member, external_id="STAFF-1")  # staff: not logged
    api_client_revoke(client=api_client)
    purchase(client, member, external_id="AFTER")

    rows = list(ApiRequestLog.objects.order_by("pk"))
    assert [(r.method, r.route, r.status_code) for r in rows] == [
        ("POST", "api/v1/ledger/purchases/", 201),
        ("GET", "api/v1/members/<int:member_id>/", 403),
        ("POST", "api/v1/ledger/purchases/", 401),
    ]
    assert {r.client_id for r in rows} == {api_client.pk}
    assert rows[1].path == f"/api/v1/members/{member.pk}/"
    assert all(r.latency_ms >= 0 and r.created_at <= timezone.now() for r in rows)


def test_last_used_is_recorded(programme, member, make_key_client):
    client, api_client = make_key_client()
    assert api_client.last_used_at is None

    purchase(client, member)

    api_client.refresh_from_db()
    assert api_client.last_used_at is not None


def test_a_store_bound_key_reports_for_its_store_only(programme, member, make_key_client):
    mine, other = StoreFactory(code="LDN01"), StoreFactory(code="MAN01")
    client, _ = make_key_client(scopes=["transactions:write"], store=mine)

    refused = purchase(client, member, store="man01", external_id="X1")
    named = purchase(client, member, store="ldn01", external_id="X2")
    implied = purchase(client, member, external_id="X3")

    assert refused.status_code == 403
    assert refused.json()["code"] == "store_not_allowed"
    assert (named.status_code, implied.status_code) == (201, 201)
    stores = dict(Transaction.objects.values_list("external_id", "store__code"))
    assert stores == {"X2": "LDN01", "X3": "LDN01"}
    assert other.code not in stores.values()


def test_a_channel_bound_key_reports_through_its_channel_only(programme, member, make_key_client):
    client, _ = make_key_client(scopes=["transactions:write"], channel="web")

    refused = purchase(client, member, channel="store", external_id="C1")
    allowed = purchase(client, member, channel="web", external_id="C2")

    assert (refused.status_code, refused.json()["code"]) == (403, "channel_not_allowed")
    assert allowed.status_code == 201
    assert list(Transaction.objects.values_list("external_id", flat=True)) == ["C2"]


def _token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_staff_need_the_permission_the_scope_maps_to(
    programme, member, django_user_model, superuser
):
    user = django_user_model.objects.create_user(username="clerk", password="x", is_staff=True)
    client = _token_client(user)

    refused = purchase(client, member, external_id="S1")
    user.user_permissions.add(Permission.objects.get(codename="add_transaction"))
    allowed = purchase(client, member, external_id="S2")
    boss = purchase(_token_client(superuser), member, external_id="S3")

    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    assert refused.json()["extra"]["required_permissions"] == ["ledger.add_transaction"]
    assert (allowed.status_code, boss.status_code) == (201, 201)
    assert sorted(Transaction.objects.values_list("external_id", flat=True)) == ["S2", "S3"]


def test_every_scope_maps_to_existing_permissions_except_analytics():
    """A typo in the table would lock staff out silently: each name must exist (analytics has no
    models yet, so only superusers pass analytics:read until it does)."""
    for scope, perms in SCOPE_PERMISSIONS.items():
        for perm in perms:
            app_label, codename = perm.split(".")
            exists = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).exists()
            assert exists or app_label == "analytics", (scope, perm)


def test_every_api_view_declares_its_scope():
    """A view that forgets `required_scope` is closed to keys; make forgetting visible here."""
    from django.urls import get_resolver

    undeclared = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                walk(p.url_patterns, prefix + str(p.pattern))
                continue
            view = getattr(p.callback, "view_class", None)
            if view and issubclass(view, ApiAuthMixin) and "required_scope" not in _own(view):
                undeclared.append(prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    assert undeclared == []


def _own(view):
    names = set()
    for klass in view.__mro__:
        if klass is ApiAuthMixin:
            break
        names |= set(vars(klass))
    return names


def test_whoami_answers_any_valid_key(make_key_client):
    client, api_client = make_key_client(scopes=["members:read"])

    response = client.get(reverse("auth:whoami"))

    assert response.status_code == 200
    assert response.json()["username"] == api_client.user.username


def test_the_openapi_document_lists_the_api_key_scheme(admin_api_client):
    response = admin_api_client.get(reverse("schema"), {"format": "json"})

    schemes = response.json()["components"]["securitySchemes"]
    assert schemes["apiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": schemes["apiKeyAuth"]["description"],
    }
    purchase_op = response.json()["paths"]["/api/v1/ledger/purchases/"]["post"]
    assert {"apiKeyAuth": []} in purchase_op["security"]


def test_create_api_client_command_prints_a_working_key(programme, member, capsys):
    StoreFactory(code="LDN01")
    call_command("create_api_client", "Till 4", "--scope", "transactions:write", "--store", "ldn01")
    out, err = capsys.readouterr()
    key = out.strip()

    assert re.fullmatch(r"lk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    assert "shown this once" in err
    assert purchase(key_client_for(key), member).status_code == 201
    assert ApiClient.objects.get().store.code == "LDN01"
