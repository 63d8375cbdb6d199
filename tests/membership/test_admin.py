"""Paid club admin: plans with members-only rewards picked from a list, joining with the
payment reference, recording a renewal, cancelling with the refund shown first; actions only
for roles that may run them."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from campaigns.membership.models import ClubMembership, ClubPlan, ClubTerm
from loyalty.core.roles import roles_setup
from tests.factories.membership import joined
from tests.factories.rewards import RewardFactory

pytestmark = pytest.mark.django_db


def _staff(client, role: str) -> User:
    roles_setup()
    user = User.objects.create_user(role.lower(), password="x-long-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def test_marketing_creates_a_plan_with_members_only_rewards(client, programme):
    _staff(client, "Marketing")
    lounge = RewardFactory(code="lounge", name="Lounge access")
    response = client.post(
        reverse("admin:membership_clubplan_add"),
        {
            "code": "plus",
            "name": "Plus club",
            "description": "",
            "active": "on",
            "fee": "49.00",
            "term_months": "12",
            "grace_days": "14",
            "points_multiplier": "1.5",
            "reward_discount_percent": "10",
            "free_delivery": "on",
            "exclusive_rewards": [str(lounge.pk)],
            "reminder_days": "7",
            "reminder_template": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    plan = ClubPlan.objects.get()
    assert list(plan.exclusive_rewards.all()) == [lounge]
    listing = client.get(reverse("admin:membership_clubplan_changelist")).content.decode()
    assert "x1.5 points, 10% off rewards, free delivery" in listing


def test_a_plan_with_a_bad_discount_is_refused_with_a_field_error(client, programme):
    _staff(client, "Marketing")
    response = client.post(
        reverse("admin:membership_clubplan_add"),
        {"code": "x", "name": "X", "fee": "0", "term_months": "12", "grace_days": "14",
         "points_multiplier": "0.5", "reward_discount_percent": "95", "reminder_days": "7"},
    )  # fmt: skip
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"fee", "points_multiplier", "reward_discount_percent"} <= set(errors)
    assert not ClubPlan.objects.exists()


def test_join_renew_and_cancel_in_the_admin(client, clock, member, plan):
    _staff(client, "Marketing")
    add = reverse("admin:membership_clubmembership_add")
    assert client.get(add).status_code == 200
    wrong = client.post(
        add,
        {"member": member.member_number, "plan": plan.pk, "auto_renew": "on",
         "payment_reference": "PAY-1", "amount": "10.00"},
    )  # fmt: skip
    assert wrong.status_code == 200 and "is not the fee" in wrong.content.decode()
    assert not ClubMembership.objects.exists()

    done = client.post(
        add,
        {"member": member.member_number, "plan": plan.pk, "auto_renew": "on",
         "payment_reference": "PAY-1", "amount": "36.50"},
    )  # fmt: skip
    membership = ClubMembership.objects.get()
    assert done.status_code == 302
    assert membership.created_by.username == "marketing"

    page = client.get(reverse("admin:membership_clubmembership_change", args=[membership.pk]))
    assert page.status_code == 200 and "Record a renewal payment" in page.content.decode()
    renew = reverse("admin:membership_clubmembership_renew", args=[membership.pk])
    assert client.post(renew, {"payment_reference": "PAY-2", "amount": "36.50"}).status_code == 302
    assert ClubTerm.objects.filter(membership=membership).count() == 2

    changelist = reverse("admin:membership_clubmembership_changelist")
    clock.at(2026, 4, 20, 15, 0)
    client.force_login(User.objects.get(username="marketing"))  # the session expired meanwhile
    preview = client.post(
        changelist, {"action": "cancel_selected", "_selected_action": [membership.pk]}
    )
    assert preview.status_code == 200
    assert "62.90" in preview.content.decode()  # 26.40 for term 1 + all of term 2 (36.50)
    assert ClubMembership.objects.get().status == "active"
    client.post(
        changelist,
        {"action": "cancel_selected", "_selected_action": [membership.pk], "apply": "1",
         "reason": "moving abroad"},
    )  # fmt: skip
    cancelled = ClubMembership.objects.get()
    assert (cancelled.status, cancelled.refund) == ("cancelled", Decimal("62.90"))


def test_finance_reads_but_cannot_cancel(client, clock, member, plan):
    joined(member, plan)
    _staff(client, "Finance")
    changelist = client.get(reverse("admin:membership_clubmembership_changelist"))
    assert changelist.status_code == 200
    assert "cancel_selected" not in changelist.content.decode()
    assert client.get(reverse("admin:membership_clubmembership_add")).status_code == 403


def test_a_clerk_does_not_see_the_club(client, programme):
    _staff(client, "Store clerk")
    assert client.get(reverse("admin:membership_clubmembership_changelist")).status_code == 403
