"""Rewards admin: lists with counts, code upload with a row report, actions through services."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.ledger.selectors import account_balance
from rewards.models import Redemption, Reward, RewardCode, Voucher
from rewards.services import redemption_create, voucher_consume
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db


def test_reward_list_shows_stock_and_redemption_counts(admin_client, funded):
    reward = RewardFactory(name="Free coffee", stock=7)
    redemption_create(member=funded, reward=reward)
    redemption_create(member=funded, reward=reward)
    response = admin_client.get(reverse("admin:rewards_reward_changelist"))
    assert response.status_code == 200
    row = next(r for r in response.context["cl"].result_list if r.pk == reward.pk)
    assert row.redeemed == 2
    assert "Free coffee" in response.content.decode()


def test_reward_form_refuses_an_incomplete_benefit(admin_client, programme):
    response = admin_client.post(
        reverse("admin:rewards_reward_add"),
        {
            "code": "ten-off",
            "name": "Ten off",
            "kind": Reward.Kind.AMOUNT_OFF,
            "points_cost": 100,
            "visibility": Reward.Visibility.PUBLIC,
            "voucher_valid_days": 30,
            "sort_order": 0,
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert "needs the amount" in response.content.decode()
    assert not Reward.objects.exists()


def test_code_upload_adds_codes_and_reports_bad_rows(admin_client, programme):
    reward = RewardFactory(kind=Reward.Kind.PARTNER_CODE)
    RewardCode.objects.create(reward=reward, code="OLD-1")
    content = "code\nNEW-1\nNEW-2\n\nNEW-1\nOLD-1\n" + "X" * 101 + "\n"
    url = reverse("admin:rewards_reward_upload_codes", args=[reward.pk])

    response = admin_client.post(
        url, {"file": SimpleUploadedFile("pool.csv", content.encode(), "text/csv")}, follow=True
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Added 2 code(s); 1 already in the pool; 3 row(s) refused." in body
    assert "repeats row 1" in body and "empty code" in body
    assert set(reward.codes.values_list("code", flat=True)) == {"OLD-1", "NEW-1", "NEW-2"}


def test_code_upload_refuses_a_binary_file(admin_client, programme):
    reward = RewardFactory(kind=Reward.Kind.PARTNER_CODE)
    url = reverse("admin:rewards_reward_upload_codes", args=[reward.pk])
    response = admin_client.post(
        url, {"file": SimpleUploadedFile("pool.csv", b"\xff\xfe\x00bad", "text/csv")}
    )
    assert response.status_code == 200
    assert "not UTF-8" in response.content.decode()
    assert not reward.codes.exists()


def test_cancel_action_asks_for_a_reason_then_refunds(admin_client, funded):
    redemption = redemption_create(member=funded, reward=RewardFactory(points_cost=300))
    url = reverse("admin:rewards_redemption_changelist")
    data = {"action": "cancel_redemptions", "_selected_action": [redemption.pk]}

    ask = admin_client.post(url, data)
    assert ask.status_code == 200 and "reason" in ask.content.decode()
    assert Redemption.objects.get().status == "completed"

    done = admin_client.post(url, {**data, "apply": "1", "reason": "wrong item"}, follow=True)
    assert "1 done" in done.content.decode()
    assert Redemption.objects.get().status == "cancelled"
    assert account_balance(member=funded).available == 1000


def test_cancel_action_reports_a_used_voucher_in_words(admin_client, funded):
    redemption = redemption_create(member=funded, reward=RewardFactory())
    voucher_consume(code=redemption.voucher.code, order_ref="O-1")
    response = admin_client.post(
        reverse("admin:rewards_redemption_changelist"),
        {
            "action": "cancel_redemptions",
            "_selected_action": [redemption.pk],
            "apply": "1",
            "reason": "r",
        },
        follow=True,
    )
    assert "was used on" in response.content.decode()
    assert Redemption.objects.get().status == "completed"


def test_mark_used_with_a_reason(admin_client, funded):
    voucher = redemption_create(member=funded, reward=RewardFactory()).voucher
    admin_client.post(
        reverse("admin:rewards_voucher_changelist"),
        {"action": "mark_used", "_selected_action": [voucher.pk], "apply": "1", "reason": "given"},
    )
    voucher.refresh_from_db()
    assert voucher.status == Voucher.Status.USED and voucher.note == "given"


def test_voucher_search_accepts_the_printed_code(admin_client, funded):
    voucher = redemption_create(member=funded, reward=RewardFactory()).voucher
    response = admin_client.get(
        reverse("admin:rewards_voucher_changelist"), {"q": voucher.display_code.lower()}
    )
    assert list(response.context["cl"].result_list) == [voucher]


def test_export_neutralises_formulas(admin_client, funded):
    reward = RewardFactory(name="=cmd|' /C calc'!A0")
    redemption = redemption_create(member=funded, reward=reward)
    response = admin_client.post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "export_csv", "_selected_action": [redemption.pk]},
    )
    body = response.content.decode()
    assert response["Content-Type"] == "text/csv"
    assert "'=cmd" in body and redemption.voucher.display_code in body


def test_staff_without_the_permissions_get_neither_cancel_nor_export(client, funded, staff_user):
    staff_user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_redemption", "view_voucher"])
    )
    client.force_login(staff_user)
    redemption = redemption_create(member=funded, reward=RewardFactory())
    response = client.get(reverse("admin:rewards_redemption_changelist"))
    assert response.status_code == 200
    form = response.context["action_form"]
    actions = [name for name, _ in form.fields["action"].choices] if form else []
    assert "cancel_redemptions" not in actions and "export_csv" not in actions
    client.post(
        reverse("admin:rewards_redemption_changelist"),
        {
            "action": "cancel_redemptions",
            "_selected_action": [redemption.pk],
            "apply": "1",
            "reason": "r",
        },
    )
    assert Redemption.objects.get().status == "completed"


def test_restock_adds_units(admin_client, programme):
    reward = RewardFactory(stock=1)
    admin_client.post(reverse("admin:rewards_reward_restock", args=[reward.pk]), {"quantity": 5})
    reward.refresh_from_db()
    assert reward.stock == 6


def test_reward_import_reports_bad_rows_and_writes_nothing(admin_client, programme):
    csv_text = (
        "code,name,kind,points_cost,visibility,voucher_valid_days,active,sort_order\n"
        "good,Good,gift,100,public,30,1,0\n"
        "bad,Bad,amount_off,100,public,30,1,0\n"
    )
    response = admin_client.post(
        reverse("admin:rewards_reward_import"),
        {
            "import_file": SimpleUploadedFile("rewards.csv", csv_text.encode(), "text/csv"),
            "format": "0",
            "resource": "0",
        },
    )
    assert response.status_code == 200
    assert "needs the amount" in response.content.decode()
    assert not Reward.objects.exists()


def test_member_page_lists_the_members_vouchers(admin_client, funded):
    voucher = redemption_create(member=funded, reward=RewardFactory(name="Tea for two")).voucher
    response = admin_client.get(reverse("admin:members_member_change", args=[funded.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert voucher.display_code in body and "Tea for two" in body
