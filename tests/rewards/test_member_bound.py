"""#16.14: member-bound vouchers (consumed only for their member: service, API, clerk) and
pre-printed code batches imported from CSV (all or nothing, row errors), then issued or sold."""

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from rewards.exceptions import VoucherMemberMismatch, VoucherNotIssuable, VoucherNotValid
from rewards.models import Voucher, VoucherBatch
from rewards.selectors import voucher_check
from rewards.services import (
    redemption_create,
    voucher_batch_import,
    voucher_consume,
    voucher_issue,
    voucher_sell,
)
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def bound_voucher(funded):
    reward = RewardFactory(name="Birthday cake", vouchers_member_bound=True)
    return redemption_create(member=funded, reward=reward).voucher


# --- member-bound vouchers ------------------------------------------------------------------


def test_a_member_bound_voucher_is_consumed_for_its_member(bound_voucher, funded):
    assert bound_voucher.member_bound is True
    used = voucher_consume(code=bound_voucher.code, order_ref="A-1", member=funded)
    assert used.status == "used"


def test_another_member_or_no_member_is_refused_and_nothing_changes(bound_voucher, funded):
    stranger = MemberFactory()

    with pytest.raises(VoucherMemberMismatch) as caught:
        voucher_consume(code=bound_voucher.code, order_ref="A-1", member=stranger)
    assert caught.value.http_status == 409
    assert caught.value.extra["member_given"] is True
    with pytest.raises(VoucherMemberMismatch) as caught:
        voucher_consume(code=bound_voucher.code, order_ref="A-1")
    assert caught.value.extra["member_given"] is False
    assert Voucher.objects.get(pk=bound_voucher.pk).status == "issued"


def test_an_unbound_voucher_still_works_for_anyone(funded):
    voucher = redemption_create(member=funded, reward=RewardFactory()).voucher
    assert voucher.member_bound is False
    assert voucher_consume(code=voucher.code, order_ref="G-1", member=MemberFactory()).status == (
        "used"
    )


def test_api_refuses_a_mismatch_with_a_clear_code(admin_api_client, bound_voucher, funded):
    url = f"/api/v1/rewards/vouchers/{bound_voucher.code}/"
    check = admin_api_client.get(url).json()
    assert check["member_bound"] is True

    stranger = MemberFactory()
    refused = admin_api_client.post(
        url + "consume/", {"order_ref": "A-1", "member_id": stranger.pk}, format="json"
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "voucher_member_mismatch"
    missing = admin_api_client.post(url + "consume/", {"order_ref": "A-1"}, format="json")
    assert missing.status_code == 409 and missing.json()["extra"]["member_given"] is False

    ok = admin_api_client.post(
        url + "consume/",
        {"order_ref": "A-1", "member_number": funded.member_number},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["status"] == "used"


def test_clerk_sees_a_clear_refusal_on_a_mismatch(client, django_user_model, bound_voucher):
    user = django_user_model.objects.create_user(username="till3", password="till-pass-123")
    user.groups.add(Group.objects.get(name="Store clerk"))
    client.force_login(user)
    stranger = MemberFactory()

    page = client.get(reverse("clerk:voucher"), {"code": bound_voucher.code}).content.decode()
    assert "Member&#x27;s card number" in page or "Member's card number" in page

    response = client.post(
        reverse("clerk:voucher"),
        {"code": bound_voucher.code, "order_ref": "T-9", "member_number": stranger.member_number},
    )
    assert response.status_code == 400
    assert "belongs to another member" in response.content.decode()
    assert Voucher.objects.get(pk=bound_voucher.pk).status == "issued"


# --- pre-printed batches --------------------------------------------------------------------


def batch_of(codes, **kwargs):
    reward = kwargs.pop("reward", None) or RewardFactory(name="Gift card 10")
    return voucher_batch_import(
        name="Gift cards 2026",
        reward=reward,
        valid_until=kwargs.pop("valid_until", timezone.now().date() + timedelta(days=365)),
        codes=codes,
        actor=None,
        **kwargs,
    )


def test_a_batch_imports_unissued_vouchers(programme):
    report = batch_of(["GIFT-0001-AA", "gift0002aa", " GIFT 0003 AA "])

    assert report.errors == [] and report.added == 3
    codes = sorted(Voucher.objects.values_list("code", flat=True))
    assert codes == ["GIFT0001AA", "GIFT0002AA", "GIFT0003AA"]
    assert set(Voucher.objects.values_list("status", flat=True)) == {"unissued"}
    check = voucher_check(code="gift-0001-aa")
    assert (check.status, check.valid) == ("unissued", False)


def test_duplicates_and_bad_rows_are_reported_and_nothing_is_written(programme, funded):
    ours = redemption_create(member=funded, reward=RewardFactory()).voucher.code
    report = batch_of(["GIFT0001AA", "", "gift-0001-aa", "bad!", ours])

    assert report.batch is None and report.added == 0
    assert [(row, why.split(" (")[0]) for row, _typed, why in report.errors] == [
        (2, "empty code"),
        (3, "repeats row 1"),
        (4, "not a code: use 6 to 20 letters and digits"),
        (5, "already exists"),
    ]
    assert report.errors[2][1] == "bad!"  # the value as typed is shown beside its error
    assert not VoucherBatch.objects.exists()
    assert Voucher.objects.filter(status="unissued").count() == 0


def test_a_second_batch_with_a_known_code_is_refused(programme):
    batch_of(["GIFT0001AA"])
    report = batch_of(["GIFT0002AA", "GIFT0001AA"])
    assert [row for row, _t, _w in report.errors] == [2]
    assert Voucher.objects.count() == 1


def test_an_unissued_voucher_cannot_be_used(programme):
    batch_of(["GIFT0001AA"])
    with pytest.raises(VoucherNotValid):
        voucher_consume(code="GIFT0001AA", order_ref="X")


def test_issued_to_a_member_it_is_bound_to_them(programme, funded):
    batch_of(["GIFT0001AA"])

    voucher = voucher_issue(code="gift-0001-aa", member=funded, actor=None, note="apology")

    assert (voucher.status, voucher.member_id, voucher.member_bound) == ("issued", funded.pk, True)
    with pytest.raises(VoucherMemberMismatch):
        voucher_consume(code="GIFT0001AA", order_ref="X", member=MemberFactory())
    assert voucher_consume(code="GIFT0001AA", order_ref="X", member=funded).status == "used"
    with pytest.raises(VoucherNotIssuable):
        voucher_issue(code="GIFT0001AA", member=MemberFactory(), actor=None)


def test_sold_it_works_for_anyone_until_its_printed_day(programme):
    batch_of(["GIFT0001AA"], valid_until=date(2030, 6, 30))

    voucher = voucher_sell(code="GIFT0001AA", sale_ref="LDN01-42")
    assert voucher_sell(code="GIFT0001AA", sale_ref="LDN01-42").pk == voucher.pk  # replay
    with pytest.raises(VoucherNotIssuable):
        voucher_sell(code="GIFT0001AA", sale_ref="OTHER")
    check = voucher_check(code="GIFT0001AA")
    assert (check.valid, check.member_id, str(check.valid_until)) == (True, None, "2030-06-30")
    assert voucher_consume(code="GIFT0001AA", order_ref="Y").status == "used"


def test_api_issue_and_sell(admin_api_client, programme, funded):
    batch_of(["GIFT0001AA", "GIFT0002AA"])
    issued = admin_api_client.post(
        "/api/v1/rewards/vouchers/GIFT0001AA/issue/", {"member_id": funded.pk}, format="json"
    )
    assert issued.status_code == 200, issued.json()
    assert issued.json()["member_bound"] is True
    sold = admin_api_client.post(
        "/api/v1/rewards/vouchers/GIFT0002AA/sell/", {"sale_ref": "R-1"}, format="json"
    )
    assert sold.status_code == 200 and sold.json()["valid"] is True
    again = admin_api_client.post(
        "/api/v1/rewards/vouchers/GIFT0002AA/issue/", {"member_id": funded.pk}, format="json"
    )
    assert again.status_code == 409 and again.json()["code"] == "voucher_not_issuable"


def test_admin_imports_a_batch_and_shows_row_errors(admin_client, programme):
    reward = RewardFactory(name="Gift card 10")
    url = reverse("admin:rewards_voucherbatch_add")
    form = {
        "name": "Gift cards 2026",
        "reward": reward.pk,
        "valid_until": "2030-12-31",
    }

    bad = admin_client.post(
        url, form | {"file": SimpleUploadedFile("codes.csv", b"code\nGIFT0001AA\nGIFT0001AA\n")}
    )
    assert bad.status_code == 400
    assert "repeats row 1" in bad.content.decode()
    assert not Voucher.objects.exists()

    good = admin_client.post(
        url, form | {"file": SimpleUploadedFile("codes.csv", b"code\nGIFT0001AA\nGIFT0002AA\n")}
    )
    assert good.status_code == 302
    assert Voucher.objects.filter(status="unissued", batch__name="Gift cards 2026").count() == 2
    listing = admin_client.get(reverse("admin:rewards_voucherbatch_changelist")).content.decode()
    assert "Gift cards 2026" in listing
    voucher_sell(code="GIFT0002AA", sale_ref="R-7")
    vouchers = admin_client.get(reverse("admin:rewards_voucher_changelist"))
    assert vouchers.status_code == 200
    page = vouchers.content.decode()
    assert "not issued" in page and "sold (anyone)" in page
    one = Voucher.objects.get(code="GIFT0001AA")
    change = admin_client.get(reverse("admin:rewards_voucher_change", args=[one.pk]))
    assert change.status_code == 200


def test_admin_issue_action_binds_the_voucher(admin_client, programme, funded):
    batch_of(["GIFT0001AA"])
    voucher = Voucher.objects.get()
    response = admin_client.post(
        reverse("admin:rewards_voucher_changelist"),
        {
            "action": "issue_to_member",
            "_selected_action": [voucher.pk],
            "apply": "1",
            "member_number": funded.member_number,
            "note": "goodwill",
        },
    )
    assert response.status_code == 302
    voucher.refresh_from_db()
    assert (voucher.status, voucher.member_id, voucher.member_bound) == ("issued", funded.pk, True)


def test_the_reward_form_offers_the_option_with_its_explanation(admin_client, programme):
    page = admin_client.get(reverse("admin:rewards_reward_add")).content.decode()
    assert 'name="vouchers_member_bound"' in page
    assert "only by the member who redeemed them" in page
