import pytest
from django.contrib.auth.models import Group

from loyalty.core.services import model_update

pytestmark = pytest.mark.django_db


def test_model_update_saves_only_listed_changed_fields():
    group = Group.objects.create(name="Before")

    _, updated = model_update(instance=group, fields=["name"], data={"name": "After", "id": 999})

    group.refresh_from_db()
    assert updated is True
    assert group.name == "After"
    assert group.pk != 999


def test_model_update_without_changes_does_not_save():
    group = Group.objects.create(name="Same")

    _, updated = model_update(instance=group, fields=["name"], data={"name": "Same"})

    assert updated is False
