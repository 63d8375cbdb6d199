"""The clerk screen's actions through the Django test client: each one's confirmation in words,
its refusals in words (never a 500), and its guard against a second effect."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from loyalty.ledger.models import Transaction
from loyalty.ledger.selectors import account_balance
from loyalty.ledger.services import purchase_record
from members.models import Consent, ConsentEvent, Member, MemberEvent
from members.services import member_suspend
from rewards.models import Redemption, Reward, Voucher
from rewards.services import redemption_create
from tests.factories.ledger import earn
from tests.factories.members import MemberFactory
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db

TOKEN = "0123456789abcdef0123456789abcdef"
TOKEN2 = "fedcba9876543210fedcba9876543210"


def url(name, member):
    return reverse(f"clerk:{name}", args=[member.pk])


def text(response) -> str:
    """The page's visible words, tags stripped, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def follow(client, response):
    assert response.status_code == 303, response.status_code
    return client.get(response["Location"])


def available(member) -> int:
    return account_balance(member=member).available


# --- the member page ------------------------------------------------------------------------


def test_member_page_shows_card_barcode_points_and_offers(clerk, funded):
    RewardFactory(name="Free coffee", points_cost=150)
    RewardFactory(name="Weekend away", points_cost=5000)

    response = clerk.get(url("member", funded))

    assert response.status_code == 200
    page = text(response)
    assert "Ada Lovelace" in page
    assert funded.member_number in page
    assert '<svg class="barcode"' in response.content.decode()
    assert "1,000 points available" in page
    assert "Free coffee" in page and "Weekend away" in page
    assert "4000 more points needed" in page
    assert "New member" in page  # enrolled just now
    # one Redeem button: only the coffee is affordable
    assert response.content.decode().count(">Redeem</button>") == 1


def test_member_page_badges_a_suspended_member(clerk, member, clerk_user):
    member_suspend(member=member, reason="card reported stolen", actor=clerk_user)
    page = text(clerk.get(url("member", member)))
    assert "Suspended" in page
    assert "card reported stolen" in page


def test_member_page_of_an_unknown_member_is_a_clear_404(clerk, programme):
    response = clerk.get(reverse("clerk:member", args=[999999]))
    assert response.status_code == 404
    assert "Member not found" in text(response)


# --- purchase -------------------------------------------------------------------------------


def test_purchase_confirms_points_earned_and_the_new_balance(clerk, member):
    response = clerk.post(
        url("purchase", member), {"amount": "25.40", "receipt": "R-1001", "token": TOKEN}
    )

    page = text(follow(clerk, response))
    assert "Purchase of £25.40 recorded (receipt R-1001)." in page
    assert "Points earned: 25 points." in page
    assert "New balance: 25 points available." in page
    txn = Transaction.objects.get()
    assert (txn.channel, txn.external_id, txn.amount) == ("store", "R-1001", Decimal("25.40"))
    assert txn.created_by.username == "till"


def test_purchase_sent_twice_earns_once_with_or_without_a_receipt(clerk, member):
    for _ in range(2):
        clerk.post(url("purchase", member), {"amount": "10.00", "token": TOKEN})
    second = clerk.post(url("purchase", member), {"amount": "10.00", "token": TOKEN})
    assert "Already recorded" in text(follow(clerk, second))
    clerk.post(url("purchase", member), {"amount": "30", "receipt": "R-9", "token": TOKEN2})
    clerk.post(url("purchase", member), {"amount": "30", "receipt": "R-9", "token": TOKEN})

    assert Transaction.objects.count() == 2
    assert available(member) == 40


def test_purchase_errors_are_words_under_the_field(clerk, member):
    cases = [
        ({"amount": "", "token": TOKEN}, "This field is required."),
        ({"amount": "abc", "token": TOKEN}, "Type an amount such as 12.50."),
        ({"amount": "-5", "token": TOKEN}, "The amount must be more than zero."),
        ({"amount": "1.005", "token": TOKEN}, "At most 2 decimals"),
        ({"amount": "10", "token": "forged"}, "This form is out of date."),
    ]
    for data, message in cases:
        response = clerk.post(url("purchase", member), data)
        assert response.status_code == 400, data
        assert message in text(response), data
    assert not Transaction.objects.exists()


def test_a_card_scanned_into_the_amount_box_is_not_a_purchase(clerk, member):
    other = MemberFactory()
    response = clerk.post(url("purchase", member), {"amount": other.member_number, "token": TOKEN})
    assert response.status_code == 400
    assert "That looks like a card number, not an amount." in text(response)
    assert not Transaction.objects.exists()


def test_purchase_receipt_reused_for_another_amount_is_explained(clerk, member):
    purchase_record(
        member=member,
        channel="store",
        external_id="R-7",
        occurred_at=member.enrolled_at,
        amount=Decimal("12.00"),
    )
    response = clerk.post(
        url("purchase", member), {"amount": "99.00", "receipt": "R-7", "token": TOKEN}
    )
    assert response.status_code == 400
    assert "This receipt number was already recorded for a different purchase" in text(response)
    assert "12.00" in text(response)


def test_purchase_for_a_suspended_member_is_refused_in_words(clerk, member, clerk_user):
    member_suspend(member=member, reason="fraud check", actor=clerk_user)
    response = clerk.post(url("purchase", member), {"amount": "10", "token": TOKEN})
    assert response.status_code == 400
    assert "This member's account is suspended" in text(response)
    assert not Transaction.objects.exists()


# --- return ---------------------------------------------------------------------------------


def test_member_page_lists_recent_purchases_with_what_is_left_to_return(clerk, member):
    first = earn(member, "40.00", external_id="R-1").transaction
    earn(member, "15.00", external_id="R-2")
    clerk.post(url("return", member), {"purchase": first.pk, "amount": "10.00", "token": TOKEN})
    page = text(clerk.get(url("member", member)))
    assert "receipt R-1" in page and "receipt R-2" in page
    assert "£40.00 (£10.00 returned)" in page


def test_return_takes_back_points_in_proportion(clerk, member):
    purchase = earn(member, "40.00", external_id="R-1").transaction
    response = clerk.post(
        url("return", member), {"purchase": purchase.pk, "amount": "10.00", "token": TOKEN}
    )
    page = text(follow(clerk, response))
    assert "Return of £10.00 recorded against receipt R-1." in page
    assert "Points taken back: 10 points." in page
    assert "New balance: 30 points available." in page


def test_return_without_amount_returns_what_is_left_and_only_once(clerk, member):
    purchase = earn(member, "40.00", external_id="R-1").transaction
    clerk.post(url("return", member), {"purchase": purchase.pk, "amount": "15", "token": TOKEN})
    clerk.post(url("return", member), {"purchase": purchase.pk, "token": TOKEN2})
    clerk.post(url("return", member), {"purchase": purchase.pk, "token": TOKEN2})  # again

    returns = Transaction.objects.filter(kind="return")
    assert sorted(r.amount for r in returns) == [Decimal("15.00"), Decimal("25.00")]
    assert available(member) == 0
    response = clerk.post(
        url("return", member),
        {"purchase": purchase.pk, "token": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    )
    assert response.status_code == 400
    assert "This purchase was already fully returned." in text(response)


def test_return_errors_in_words(clerk, member):
    purchase = earn(member, "20.00").transaction
    someone_else = earn(MemberFactory(), "20.00").transaction
    cases = [
        ({"token": TOKEN}, "Choose the purchase being returned."),
        (
            {"purchase": purchase.pk, "amount": "25", "token": TOKEN},
            "That is more than is left to return on this purchase: 20.00 bought",
        ),
        (
            {"purchase": someone_else.pk, "token": TOKEN},
            "That purchase was not found for this member.",
        ),
    ]
    for data, message in cases:
        response = clerk.post(url("return", member), data)
        assert response.status_code == 400, data
        assert message in text(response), data
    assert not Transaction.objects.filter(kind="return").exists()


# --- redeem ---------------------------------------------------------------------------------


def test_redeem_shows_the_voucher_code_big_and_the_new_balance(clerk, funded):
    reward = RewardFactory(name="Free coffee", points_cost=150)
    response = clerk.post(url("redeem", funded), {"reward": reward.pk, "token": TOKEN})

    page_response = follow(clerk, response)
    voucher = Voucher.objects.get()
    html = page_response.content.decode()
    assert re.search(r'class="voucher-code"[^>]*>' + re.escape(voucher.display_code), html)
    page = text(page_response)
    assert "Redeemed “Free coffee”. Give the member this voucher code:" in page
    assert "New balance: 850 points available." in page
    redemption = Redemption.objects.get()
    assert (redemption.channel, redemption.created_by.username) == ("store", "till")


def test_redeem_sent_twice_spends_once(clerk, funded):
    reward = RewardFactory(points_cost=150)
    for _ in range(2):
        clerk.post(url("redeem", funded), {"reward": reward.pk, "token": TOKEN})
    assert Redemption.objects.count() == 1
    assert available(funded) == 850


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"points_cost": 5000}, "Only 1000 points are available; 5000 were requested."),
        ({"stock": 0}, "out of stock"),
        ({"active": False}, "cannot be redeemed now"),
    ],
)
def test_redeem_refusals_in_words(clerk, funded, setup, message):
    reward = RewardFactory(**setup)
    response = clerk.post(url("redeem", funded), {"reward": reward.pk, "token": TOKEN})
    assert response.status_code == 400
    assert message in text(response)
    assert not Redemption.objects.exists()


def test_redeem_limit_reached_in_words(clerk, funded):
    reward = RewardFactory(points_cost=100, limit_per_member=1)
    redemption_create(member=funded, reward=reward)
    response = clerk.post(url("redeem", funded), {"reward": reward.pk, "token": TOKEN})
    assert response.status_code == 400
    assert "already redeemed" in text(response).lower()


def test_redeem_of_an_unknown_reward(clerk, funded):
    response = clerk.post(url("redeem", funded), {"reward": 987654, "token": TOKEN})
    assert response.status_code == 400
    assert "That reward no longer exists." in text(response)


# --- pay with points ------------------------------------------------------------------------


def test_pay_with_points_by_points_or_by_amount(clerk, funded):
    response = clerk.post(
        url("pay", funded), {"order_ref": "R-55", "points": "300", "token": TOKEN}
    )
    page = text(follow(clerk, response))
    assert "Paid £3.00 of order R-55 with 300 points." in page
    assert "New balance: 700 points available." in page

    clerk.post(url("pay", funded), {"order_ref": "R-56", "amount": "2.50", "token": TOKEN2})
    assert available(funded) == 450
    voucher = Voucher.objects.get(order_ref="R-56")
    assert voucher.status == Voucher.Status.USED


def test_pay_with_points_sent_twice_pays_once(clerk, funded):
    for _ in range(2):
        clerk.post(url("pay", funded), {"order_ref": "R-1", "points": "200", "token": TOKEN})
    assert available(funded) == 800


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"order_ref": "R-1"}, "Type either the points to use or the amount to pay."),
        ({"order_ref": "R-1", "points": "200", "amount": "2"}, "not both"),
        ({"points": "200"}, "This field is required."),
        ({"order_ref": "R-1", "points": "50"}, "Use at least 100 points to pay."),
        ({"order_ref": "R-1", "points": "5000"}, "Only 1000 points are available"),
        ({"order_ref": "R-1", "points": "1.5"}, "Type a whole number of points."),
    ],
)
def test_pay_with_points_errors_in_words(clerk, funded, data, message):
    response = clerk.post(url("pay", funded), data | {"token": TOKEN})
    assert response.status_code == 400
    assert message in text(response)
    assert available(funded) == 1000


# --- consent --------------------------------------------------------------------------------


def test_consent_changes_are_saved_with_the_clerk_as_actor(clerk, member):
    response = clerk.post(url("consents", member), {"email": "on", "push": "on"})
    page = text(follow(clerk, response))
    assert "Marketing consent saved: e-mail yes, SMS no, app notifications yes." in page
    granted = dict(Consent.objects.filter(member=member).values_list("channel", "granted"))
    assert granted == {"email": True, "sms": False, "push": True}
    assert ConsentEvent.objects.filter(member=member, actor__username="till").count() == 2


# --- enrolment ------------------------------------------------------------------------------


def test_enrol_a_member_with_consent_and_open_their_card(clerk, programme):
    response = clerk.post(
        reverse("clerk:enrol"),
        {
            "first_name": "Grace",
            "last_name": "Hopper",
            "email": "grace@example.COM",
            "phone": "07911 123456",
            "consent_email": "on",
            "token": TOKEN,
        },
    )
    member = Member.objects.get()
    assert response["Location"].startswith(reverse("clerk:member", args=[member.pk]))
    page = text(clerk.get(response["Location"]))
    assert f"Welcome, Grace Hopper! Enrolled with card number {member.member_number}." in page
    assert (member.email, member.phone, member.enrolment_channel) == (
        "grace@example.com",
        "+447911123456",
        "store",
    )
    granted = dict(member.consents.values_list("channel", "granted"))
    assert granted == {"email": True, "sms": False, "push": False}
    assert MemberEvent.objects.get(member=member).actor.username == "till"

    again = clerk.post(
        reverse("clerk:enrol"),
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"}
        | {"token": TOKEN},
    )
    assert again["Location"] == reverse("clerk:member", args=[member.pk])  # double submit
    assert Member.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "a@example.com"}, "Type the member's name."),
        ({"first_name": "Ann"}, "Type an e-mail address or a phone number (or both)."),
        ({"first_name": "Ann", "email": "not-an-email"}, "Enter a valid e-mail address."),
        ({"first_name": "Ann", "phone": "12"}, "Enter a valid phone number."),
    ],
)
def test_enrol_errors_in_words(clerk, programme, data, message):
    response = clerk.post(reverse("clerk:enrol"), data | {"token": TOKEN})
    assert response.status_code == 400
    assert message in text(response)
    assert not Member.objects.exists()


def test_enrol_a_known_customer_says_search_instead(clerk, member):
    response = clerk.post(
        reverse("clerk:enrol"), {"first_name": "Ada", "email": member.email, "token": TOKEN}
    )
    assert response.status_code == 400
    assert "A member with this e-mail already exists." in text(response)
    assert "Search for that member instead" in text(response)
    assert Member.objects.count() == 1


# --- vouchers -------------------------------------------------------------------------------


@pytest.fixture
def voucher(funded):
    reward = RewardFactory(
        name="Free coffee", kind=Reward.Kind.FREE_PRODUCT, product_sku="COF", points_cost=150
    )
    return redemption_create(member=funded, reward=reward).voucher


def test_voucher_check_then_use_for_an_order(clerk, voucher):
    check = clerk.get(reverse("clerk:voucher"), {"code": voucher.code.lower()})
    assert check.status_code == 200
    page = text(check)
    assert "Valid" in page and "Free coffee" in page and "Ada Lovelace" in page

    response = clerk.post(
        reverse("clerk:voucher"), {"code": voucher.display_code, "order_ref": "R-77"}
    )
    page = text(follow(clerk, response))
    assert f"Voucher {voucher.display_code} used for order R-77." in page
    assert "Not usable: used" in page
    voucher.refresh_from_db()
    assert (voucher.status, voucher.order_ref, voucher.used_by.username) == ("used", "R-77", "till")


def test_voucher_errors_in_words(clerk, voucher):
    unknown = clerk.get(reverse("clerk:voucher"), {"code": "NOPE-NOPE"})
    assert unknown.status_code == 404
    assert "No voucher has the code NOPE-NOPE. Check the code and type it again." in text(unknown)

    missing = clerk.post(reverse("clerk:voucher"), {"code": voucher.code, "order_ref": ""})
    assert missing.status_code == 400
    assert "This field is required." in text(missing)

    clerk.post(reverse("clerk:voucher"), {"code": voucher.code, "order_ref": "R-1"})
    other = clerk.post(reverse("clerk:voucher"), {"code": voucher.code, "order_ref": "R-2"})
    assert other.status_code == 400
    assert "was already used for order R-1" in text(other)


# --- what the card says ---------------------------------------------------------------------


def test_card_shows_tier_progress_birthday_and_pending_points(clerk, programme, member):
    from datetime import date

    from django.utils import timezone

    from tests.factories.tiers import TierPolicyFactory, standard_ladder

    TierPolicyFactory()
    standard_ladder()
    programme.pending_days = 14
    programme.save()
    today = timezone.localdate()
    member.birth_date = date(1990, today.month, min(today.day, 28))
    member.save()

    response = clerk.post(url("purchase", member), {"amount": "60.00", "token": TOKEN})

    page = text(follow(clerk, response))
    assert "Points earned: 60 points (pending until the return period ends)." in page
    assert "New balance: 0 points available, 60 points pending." in page
    assert "60 pending" in page
    assert "Birthday this month" in page
    assert "Member → Silver" in page
    assert "60 of 100 qualifying points: 40 points more for Silver" in page
    assert 'aria-valuenow="60"' in response.client.get(url("member", member)).content.decode()


def test_generic_service_messages_are_reworded_specific_ones_kept():
    from loyalty.clerk.errors import clerk_message
    from loyalty.ledger.exceptions import InsufficientPoints, TransactionConflict
    from members.exceptions import MemberNotActive
    from rewards.exceptions import RewardNotEligible

    assert clerk_message(MemberNotActive(extra={"status": "closed"})).startswith(
        "This member's account is closed"
    )
    assert clerk_message(RewardNotEligible("“Spa day” is for Gold members and above.")) == (
        "“Spa day” is for Gold members and above."
    )
    assert clerk_message(InsufficientPoints()) == "Not enough points available."
    assert "Check the receipt number" in clerk_message(
        TransactionConflict("external id clash", extra={"amount": "5.00"})
    )
