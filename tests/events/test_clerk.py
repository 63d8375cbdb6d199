"""The clerk's Events today page: events open for check-in, a card scanned checks the member in
once (points, badge), a second scan says already checked in; clerks without the permission get
the forbidden page."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from campaigns.events.models import EventCheckIn
from loyalty.core.roles import roles_setup
from loyalty.ledger.selectors import account_balance
from members.models import StaffProfile
from tests.factories.events import EventFactory, OpenEventFactory
from tests.factories.members import MemberFactory, StoreFactory
from tests.factories.rewards import RewardsSettingsFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def till(django_user_model, programme) -> Client:
    roles_setup()
    RewardsSettingsFactory()
    user = django_user_model.objects.create_user(username="till", password="till-pass-123")
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.create(user=user, store=StoreFactory(), restricted_to_store=False)
    client = Client()
    client.force_login(user)
    return client


def test_a_scanned_card_checks_the_member_in_once(till):
    event = OpenEventFactory(name="Opening party", points=25)
    EventFactory(name="Next month")  # not open for check-in yet: not listed
    member = MemberFactory(first_name="Ada", last_name="Lovelace")
    page = till.get(reverse("clerk:events"))
    html = page.content.decode()
    assert page.status_code == 200 and "Opening party" in html and "Next month" not in html
    data = {"event": event.pk, "member_number": member.member_number}
    done = till.post(reverse("clerk:events"), data, follow=True)
    assert "is checked in at Opening party" in done.content.decode()
    assert account_balance(member=member).available == 25
    again = till.post(reverse("clerk:events"), data)
    assert again.status_code == 400 and "Already checked in" in again.content.decode()
    assert EventCheckIn.objects.filter(event=event).count() == 1
    assert account_balance(member=member).available == 25


def test_a_wrong_card_is_said_under_the_card_field(till):
    event = OpenEventFactory()
    response = till.post(reverse("clerk:events"), {"event": event.pk, "member_number": "123"})
    assert response.status_code == 400
    assert "card number is not valid" in response.content.decode()


def test_a_clerk_without_the_permission_is_refused(django_user_model, programme):
    user = django_user_model.objects.create_user(username="x", password="x-pass-123456")
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="use_clerk_screen"))
    client = Client()
    client.force_login(user)
    assert client.get(reverse("clerk:events")).status_code == 403
