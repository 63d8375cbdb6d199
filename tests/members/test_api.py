import pytest
from django.urls import reverse

from members.models import Member
from members.services import member_enroll
from tests.factories.members import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db
LIST = reverse("members:list")


def test_enrol_through_the_api(staff_client):
    StoreFactory(code="LDN01")

    response = staff_client.post(
        LIST,
        {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane@Example.com",
            "phone": "07911 123456",
            "home_store": "LDN01",
            "consents": {"email": True},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "jane@example.com"
    assert body["phone"] == "+447911123456"
    assert body["home_store"] == "LDN01"
    assert body["enrolment_channel"] == "api"
    assert body["consents"] == {"email": True, "sms": False, "push": False}


def test_enrol_with_bad_fields_lists_each_and_writes_nothing(staff_client):
    response = staff_client.post(
        LIST,
        {
            "first_name": "J",
            "email": "nope",
            "phone": "12",
            "home_store": "NOPE",
            "consents": {"fax": True},
        },
        format="json",
    )

    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]
    assert {"home_store", "consents"} <= set(fields)
    assert Member.objects.count() == 0

    response = staff_client.post(
        LIST, {"first_name": "J", "email": "nope", "phone": "12"}, format="json"
    )
    assert response.status_code == 422  # well formed, refused by the service's checks
    assert set(response.json()["extra"]["fields"]) == {"email", "phone"}
    assert Member.objects.count() == 0


def test_duplicate_email_is_409_with_the_existing_id(staff_client):
    existing = member_enroll(first_name="A", email="a@example.com")

    response = staff_client.post(LIST, {"first_name": "B", "email": "a@example.com"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_member"
    assert response.json()["extra"]["existing_member_id"] == existing.pk


def test_list_filters_and_search(staff_client):
    store = StoreFactory(code="MAN01")
    jane = MemberFactory(last_name="Smith", home_store=store)
    MemberFactory(last_name="Brown", status=Member.Status.SUSPENDED)

    by_store = staff_client.get(LIST, {"store": "man01"}).json()
    by_status = staff_client.get(LIST, {"status": "suspended"}).json()
    by_search = staff_client.get(LIST, {"q": "smi"}).json()
    bad = staff_client.get(LIST, {"status": "frozen"})

    assert [m["id"] for m in by_store["results"]] == [jane.pk]
    assert by_status["count"] == 1
    assert [m["id"] for m in by_search["results"]] == [jane.pk]
    assert bad.status_code == 400 and "status" in bad.json()["extra"]["fields"]


def test_retrieve_unknown_member_is_404(staff_client):
    response = staff_client.get(reverse("members:detail", args=[999999]))

    assert response.status_code == 404
    assert response.json()["code"] == "member_not_found"


def test_partial_update_and_consent(staff_client):
    member = member_enroll(first_name="Jane", email="jane@example.com")

    response = staff_client.patch(
        reverse("members:detail", args=[member.pk]),
        {"city": "Leeds", "consents": {"sms": True}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["city"] == "Leeds"
    assert response.json()["consents"]["sms"] is True


def test_partial_update_to_another_members_phone_is_409(staff_client):
    member_enroll(first_name="A", phone="07911 111111")
    other = member_enroll(first_name="B")

    response = staff_client.patch(
        reverse("members:detail", args=[other.pk]), {"phone": "+447911111111"}, format="json"
    )

    assert response.status_code == 409
    other.refresh_from_db()
    assert other.phone is None


def test_status_change_needs_a_reason(staff_client):
    member = member_enroll(first_name="A")
    url = reverse("members:status", args=[member.pk])

    missing = staff_client.post(url, {"action": "suspend"}, format="json")
    done = staff_client.post(url, {"action": "suspend", "reason": "fraud check"}, format="json")
    again = staff_client.post(url, {"action": "suspend", "reason": "x"}, format="json")

    assert missing.status_code == 422 and "reason" in missing.json()["extra"]["fields"]
    assert done.status_code == 200 and done.json()["status"] == "suspended"
    assert again.status_code == 409 and again.json()["code"] == "invalid_status_change"


def test_lookup_endpoint(staff_client):
    member = MemberFactory(last_name="Zebedee")

    found = staff_client.get(reverse("members:lookup"), {"q": "zeb"})
    bad_card = staff_client.get(reverse("members:lookup"), {"q": "1234567890"})
    missing = staff_client.get(reverse("members:lookup"))

    assert [m["id"] for m in found.json()] == [member.pk]
    assert bad_card.status_code == 422 and bad_card.json()["code"] == "invalid_card_number"
    assert missing.status_code == 400


def test_privacy_export_and_erase(staff_client):
    member = member_enroll(first_name="Jane", email="jane@example.com")

    export = staff_client.post(reverse("members:privacy-export", args=[member.pk]))
    unconfirmed = staff_client.post(
        reverse("members:erase", args=[member.pk]), {"confirm": False}, format="json"
    )
    erased = staff_client.post(
        reverse("members:erase", args=[member.pk]), {"confirm": True}, format="json"
    )

    assert export.status_code == 200 and export.json()["member"]["email"] == "jane@example.com"
    assert unconfirmed.status_code == 400
    assert erased.status_code == 200
    assert erased.json()["email"] is None and erased.json()["first_name"] == ""


def test_stores_list_and_create(staff_client):
    created = staff_client.post(
        reverse("members:stores"), {"code": "bri01", "name": "Bristol"}, format="json"
    )
    duplicate = staff_client.post(
        reverse("members:stores"), {"code": "BRI01", "name": "Again"}, format="json"
    )
    listed = staff_client.get(reverse("members:stores"))

    assert created.status_code == 201 and created.json()["code"] == "BRI01"
    assert duplicate.status_code == 409 and "code" in duplicate.json()["extra"]["fields"]
    assert listed.json()["results"][0]["code"] == "BRI01"


def test_members_api_requires_authentication(api_client):
    assert api_client.get(LIST).status_code == 401


@pytest.mark.parametrize("member_id", [0, 2**63, 10**30])
def test_out_of_range_ids_are_404_not_500(staff_client, member_id):
    response = staff_client.get(f"/api/v1/members/{member_id}/")

    assert response.status_code == 404


def test_lookup_does_not_query_per_member(staff_client, django_assert_max_num_queries):
    for _ in range(15):
        MemberFactory(last_name="Quercus")

    # a fixed number whatever the matches: auth, the caller's store restriction, the search
    with django_assert_max_num_queries(7):
        response = staff_client.get(reverse("members:lookup"), {"q": "quer", "limit": 15})

    assert len(response.json()) == 15
