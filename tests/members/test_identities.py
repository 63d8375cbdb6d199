"""Several identities per member: external ids (web shop, WeChat, Alipay, partner card) that are
unique per kind, find the member at the till, in the admin and in the API, and follow the
member through merge and erasure."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from loyalty.clerk.selectors import clerk_member_search
from members.exceptions import DuplicateIdentity, MemberErased
from members.identities import format_identities, identities_from_row, parse_identities
from members.models import MemberEvent, MemberIdentity
from members.selectors import member_lookup, member_search
from members.services import (
    identity_attach,
    identity_detach,
    identity_update,
    member_enroll,
    member_erase,
    member_merge,
    member_privacy_export,
)
from tests.concurrency import run_threads
from tests.conftest import grant_api_permissions
from tests.factories.members import MemberFactory, MemberIdentityFactory

WECHAT = MemberIdentity.Kind.WECHAT
OPENID = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"


@pytest.mark.django_db
class TestServices:
    def test_attach_records_history_and_is_idempotent(self):
        member = MemberFactory()
        identity = identity_attach(member=member, kind=WECHAT, value=f" {OPENID} ")
        again = identity_attach(member=member, kind=WECHAT, value=OPENID)

        assert again.pk == identity.pk and identity.value == OPENID
        assert (
            MemberEvent.objects.filter(
                member=member, kind=MemberEvent.Kind.UPDATED, detail={"fields": ["identities"]}
            ).count()
            == 1
        )

    def test_the_same_id_of_the_same_kind_belongs_to_one_member(self):
        first, second = MemberFactory(), MemberFactory()
        identity_attach(member=first, kind=WECHAT, value=OPENID)

        with pytest.raises(DuplicateIdentity) as caught:
            identity_attach(member=second, kind=WECHAT, value=OPENID)
        assert caught.value.extra["existing_member_id"] == first.pk
        # another kind may carry the same text
        identity_attach(member=second, kind=MemberIdentity.Kind.ALIPAY, value=OPENID)

    def test_the_database_refuses_a_duplicate_written_around_the_service(self):
        MemberIdentityFactory(kind=WECHAT, value=OPENID)
        with pytest.raises(IntegrityError), transaction.atomic():
            MemberIdentity.objects.create(member=MemberFactory(), kind=WECHAT, value=OPENID)

    def test_bad_kind_or_value_is_a_field_error(self):
        member = MemberFactory()
        with pytest.raises(ValidationError) as caught:
            identity_attach(member=member, kind="myspace", value="a b")
        assert set(caught.value.message_dict) == {"kind", "value"}
        assert not MemberIdentity.objects.exists()

    def test_update_and_detach(self):
        member = MemberFactory()
        other = MemberIdentityFactory(kind=WECHAT, value="taken")
        identity = identity_attach(member=member, kind=WECHAT, value="typo")
        with pytest.raises(DuplicateIdentity):
            identity_update(identity=identity, kind=WECHAT, value="taken")
        identity = identity_update(
            identity=MemberIdentity.objects.get(pk=identity.pk), kind=WECHAT, value="right"
        )
        assert MemberIdentity.objects.get(pk=identity.pk).value == "right"
        identity_detach(identity=identity)
        assert list(member.identities.all()) == []
        assert other.member.identities.count() == 1

    def test_erasure_removes_the_ids_and_an_erased_member_gets_none(self):
        member = member_enroll(first_name="Anna", email="anna@example.com")
        identity_attach(member=member, kind=WECHAT, value=OPENID)
        member = member_erase(member=member)
        assert not MemberIdentity.objects.exists()
        with pytest.raises(MemberErased):
            identity_attach(member=member, kind=WECHAT, value=OPENID)

    def test_merge_moves_the_duplicates_ids_to_the_survivor(self):
        source = member_enroll(first_name="A", email="a@example.com")
        target = member_enroll(first_name="B", email="b@example.com")
        identity_attach(member=source, kind=WECHAT, value=OPENID)
        member_merge(source=source, target=target)
        assert member_lookup(query=OPENID) == [target]

    def test_privacy_export_lists_the_ids(self):
        member = member_enroll(first_name="A", email="a@example.com")
        identity_attach(member=member, kind=WECHAT, value=OPENID)
        data = member_privacy_export(member=member)
        assert [(i["kind"], i["value"]) for i in data["identities"]] == [("wechat", OPENID)]


@pytest.mark.django_db
class TestLookup:
    def test_an_id_finds_its_member_typed_alone_or_as_kind_value(self):
        member = MemberFactory()
        MemberFactory()
        identity_attach(member=member, kind=WECHAT, value=OPENID)

        assert member_search(query=OPENID).kind == "identity"
        assert member_lookup(query=OPENID) == [member]
        assert member_lookup(query=f"wechat:{OPENID}") == [member]
        assert member_lookup(query=f"alipay:{OPENID}") == []

    def test_a_partner_card_that_looks_like_our_card_or_a_phone_still_finds_its_member(self):
        member = MemberFactory()
        identity_attach(member=member, kind=MemberIdentity.Kind.PARTNER_CARD, value="1234567890")
        identity_attach(member=member, kind=MemberIdentity.Kind.OTHER, value="0791100000")

        assert member_lookup(query="1234567890") == [member]  # not a valid check digit of ours
        assert member_lookup(query="0791100000") == [member]

    def test_clerk_search_opens_the_member_found_by_an_id(self, superuser):
        member = MemberFactory()
        identity_attach(member=member, kind=MemberIdentity.Kind.ALIPAY, value="2088102146225135")

        result = clerk_member_search(user=superuser, query="2088102146225135")
        assert result.kind == "identity" and result.open_member == member

    def test_admin_search_finds_by_id(self, client, superuser):
        member = MemberFactory()
        MemberFactory()
        identity_attach(member=member, kind=WECHAT, value=OPENID)
        client.force_login(superuser)

        page = client.get(reverse("admin:members_member_changelist"), {"q": OPENID})
        assert list(page.context["cl"].result_list) == [member]


@pytest.mark.django_db
class TestApi:
    @pytest.fixture
    def api(self, api_client, staff_user):
        from rest_framework.authtoken.models import Token

        grant_api_permissions(staff_user)
        token, _ = Token.objects.get_or_create(user=staff_user)
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api_client

    def test_attach_list_lookup_detach(self, api):
        member = MemberFactory()
        url = f"/api/v1/members/{member.pk}/identities/"

        created = api.post(url, {"kind": "wechat", "value": OPENID}, format="json")
        assert created.status_code == 201, created.content
        again = api.post(url, {"kind": "wechat", "value": OPENID}, format="json")
        assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
        listed = api.get(url).json()
        assert [(i["kind"], i["value"]) for i in listed] == [("wechat", OPENID)]
        found = api.get("/api/v1/members/lookup/", {"q": f"wechat:{OPENID}"}).json()
        assert [m["member_number"] for m in found] == [member.member_number]
        by_q = api.get("/api/v1/members/", {"q": OPENID}).json()
        assert [m["member_number"] for m in by_q["results"]] == [member.member_number]

        gone = api.delete(f"{url}{created.json()['id']}/")
        assert gone.status_code == 204
        assert api.get("/api/v1/members/lookup/", {"q": OPENID}).json() == []
        assert api.delete(f"{url}{created.json()['id']}/").status_code == 404

    def test_an_id_of_another_member_is_a_409_naming_it(self, api):
        holder, other = MemberFactory(), MemberFactory()
        identity_attach(member=holder, kind=WECHAT, value=OPENID)

        response = api.post(
            f"/api/v1/members/{other.pk}/identities/",
            {"kind": "wechat", "value": OPENID},
            format="json",
        )
        assert response.status_code == 409
        assert response.json()["code"] == "duplicate_identity"
        assert response.json()["extra"]["existing_member_id"] == holder.pk

    @pytest.mark.parametrize(
        "body",
        [
            {"kind": "myspace", "value": "x"},
            {"kind": "wechat", "value": "with space"},
            {"kind": "wechat", "value": ""},
            {"kind": "wechat"},
            {"kind": "wechat", "value": "x", "extra": 1},
        ],
    )
    def test_bad_input_is_a_400_with_field_errors(self, api, body):
        member = MemberFactory()
        response = api.post(f"/api/v1/members/{member.pk}/identities/", body, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["extra"]["fields"]
        assert not MemberIdentity.objects.exists()

    def test_in_the_openapi_schema(self, api):
        schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
        paths = schema["paths"]
        assert {"get", "post"} <= set(paths["/api/v1/members/{member_id}/identities/"])
        assert "delete" in paths["/api/v1/members/{member_id}/identities/{identity_id}/"]


@pytest.mark.django_db
class TestAdminInline:
    def _post(self, client, member, rows, **extra):
        url = reverse("admin:members_member_change", args=[member.pk])
        page = client.get(url)
        form = page.context["adminform"].form
        data = {
            name: ("" if value is None else value)
            for name, value in form.initial.items()
            if name in form.fields
        }
        data["interests"] = ""
        for formset in page.context["inline_admin_formsets"]:
            prefix = formset.formset.prefix
            management = formset.formset.management_form
            for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
                data[f"{prefix}-{name}"] = management[name].value()
        prefix = "identities"
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = str(sum(1 for r in rows if r.get("id")))
        for index, row in enumerate(rows):
            for key, value in row.items():
                data[f"{prefix}-{index}-{key}"] = value
            data[f"{prefix}-{index}-member"] = str(member.pk)
        data.update(extra)
        return client.post(url, data)

    def test_staff_add_and_remove_ids_on_the_member_page(self, client, superuser):
        member = member_enroll(first_name="Anna", last_name="Smith", email="a@example.com")
        client.force_login(superuser)

        response = self._post(client, member, [{"kind": "wechat", "value": OPENID}])
        assert response.status_code == 302, response.context and response.context.get("errors")
        identity = member.identities.get()
        assert (identity.kind, identity.value) == ("wechat", OPENID)

        response = self._post(
            client,
            member,
            [{"id": str(identity.pk), "kind": "wechat", "value": OPENID, "DELETE": "on"}],
        )
        assert response.status_code == 302
        assert not member.identities.exists()

    def test_an_id_another_member_has_is_a_form_error(self, client, superuser):
        MemberIdentityFactory(kind=WECHAT, value=OPENID)
        member = member_enroll(first_name="Anna", email="a@example.com")
        client.force_login(superuser)

        response = self._post(client, member, [{"kind": "wechat", "value": OPENID}])
        assert response.status_code == 200  # the page again, with the error
        assert "Another member already has this id." in response.content.decode()
        assert not member.identities.exists()


def test_csv_cells():
    assert parse_identities("wechat:abc; alipay:123;") == [("wechat", "abc"), ("alipay", "123")]
    assert identities_from_row({"wechat": " abc ", "identities": "wechat:abc;other:x"}) == [
        ("wechat", "abc"),
        ("other", "x"),
    ]
    assert format_identities([("wechat", "abc"), ("alipay", "1")]) == "alipay:1;wechat:abc"
    with pytest.raises(ValidationError) as caught:
        identities_from_row({"identities": "myspace:abc"})
    assert "identities" in caught.value.message_dict


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tills_attaching_the_same_id_to_two_members_one_wins():
    members = [MemberFactory(), MemberFactory()]

    outcomes = run_threads(
        2, lambda i: identity_attach(member=members[i], kind=WECHAT, value=OPENID).member_id
    )

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, DuplicateIdentity)
    assert MemberIdentity.objects.filter(kind=WECHAT, value=OPENID).count() == 1
