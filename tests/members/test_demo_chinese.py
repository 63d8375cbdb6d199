"""`make run` with DEMO_LOCALE=zh-hans loads a Chinese programme through the demo loader: CNY,
Asia/Shanghai, +86 phones in E.164, Chinese names and stores found by Chinese prefix and pinyin."""

import io

import phonenumbers
import pytest
from django.core.management import call_command
from django.test import override_settings

from loyalty.ledger.policy import programme_settings_get
from members.models import Member, Store
from members.selectors import member_lookup
from rewards.models import Reward

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=True)
def test_the_chinese_demo(monkeypatch):
    monkeypatch.setenv("DEMO_LOCALE", "zh-hans")
    monkeypatch.setenv("DEMO_PASSWORD", "harbour-lantern-till-7")
    monkeypatch.setattr("members.demo.COUNT", 40)  # the shape, not the volume

    call_command("load_demo_data", stdout=io.StringIO())

    programme = programme_settings_get()
    assert (programme.currency, programme.time_zone, programme.phone_region) == (
        "CNY",
        "Asia/Shanghai",
        "CN",
    )
    assert Store.objects.get(code="SH01").name == "上海南京西路店"
    members = list(Member.objects.filter(external_ref__startswith="demo-zh-"))
    assert len(members) == 40
    phones = [m.phone for m in members if m.phone]
    assert phones
    for phone in phones:
        parsed = phonenumbers.parse(phone)
        assert phone.startswith("+86") and phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == phone
    assert Reward.objects.get(code="coffee").name == "免费咖啡一杯"

    member = members[0]
    assert member.full_name == member.last_name + member.first_name  # family name first
    assert member in member_lookup(query=member.full_name[:2], limit=50)
    assert member in member_lookup(query=member.name_pinyin.lower(), limit=50)
    national = phonenumbers.format_number(
        phonenumbers.parse(phones[0]), phonenumbers.PhoneNumberFormat.NATIONAL
    )
    assert [m.phone for m in member_lookup(query=national)] == [phones[0]]
    # run again: nothing new
    call_command("load_demo_data", stdout=io.StringIO())
    assert Member.objects.filter(external_ref__startswith="demo-zh-").count() == 40
