"""Names in any script: the stored full name, the display order per language, the name search
with Chinese characters, pinyin and Latin names (members/names.py, members.selectors)."""

import pytest
from django.utils import translation

from members.models import Member
from members.names import compose_full_name, display_name, name_fields, name_pinyin
from members.selectors import member_lookup
from members.services import member_enroll, member_update
from tests.factories.members import MemberFactory


def test_a_chinese_name_is_composed_family_first_without_a_space():
    assert compose_full_name("小明", "王") == "王小明"
    assert compose_full_name("Anna", "Smith") == "Anna Smith"
    assert compose_full_name("", "Smith") == "Smith"


@pytest.mark.parametrize(
    ("language", "latin", "chinese"),
    [
        ("en", "Anna Smith", "王小明"),
        ("en-gb", "Anna Smith", "王小明"),
        ("zh-hans", "Smith Anna", "王小明"),
    ],
)
def test_display_order_follows_the_language(language, latin, chinese):
    assert display_name(given="Anna", family="Smith", language=language) == latin
    assert display_name(given="小明", family="王", language=language) == chinese


def test_display_uses_the_full_name_when_the_parts_are_missing():
    assert display_name(full_name="Maria del Carmen García", language="zh-hans") == (
        "Maria del Carmen García"
    )


def test_pinyin_key_of_a_chinese_name_and_none_for_a_latin_one():
    assert name_pinyin("王小明") == "WANGXIAOMING"
    assert name_pinyin("欧阳娜娜") == "OUYANGNANA"
    assert name_pinyin("Anna Smith") == ""


def test_a_full_name_typed_by_hand_survives_a_change_of_its_parts():
    assert name_fields(
        given="Jack",
        family="Kennedy",
        full_name="John F. Kennedy",
        previous=("John", "Kennedy", "John F. Kennedy"),
    ) == ("John F. Kennedy", "")
    # a full name that was made from the parts follows them
    assert name_fields(
        given="Jack",
        family="Kennedy",
        full_name="John Kennedy",
        previous=("John", "Kennedy", "John Kennedy"),
    ) == ("Jack Kennedy", "")


@pytest.mark.django_db
def test_the_full_name_and_pinyin_are_stored_on_save():
    member = MemberFactory(first_name="小明", last_name="王")
    member.refresh_from_db()
    assert (member.full_name, member.name_pinyin) == ("王小明", "WANGXIAOMING")
    latin = MemberFactory(first_name="Anna", last_name="Smith", full_name="")
    latin.refresh_from_db()
    assert (latin.full_name, latin.name_pinyin) == ("Anna Smith", "")


@pytest.mark.django_db
def test_member_shown_in_the_active_language():
    member = MemberFactory(first_name="Anna", last_name="Smith")
    with translation.override("zh-hans"):
        assert member.display_name == "Smith Anna"
    with translation.override("en"):
        assert member.display_name == "Anna Smith"
        assert str(member) == f"{member.member_number} Anna Smith"


@pytest.mark.django_db
def test_enrol_with_a_full_name_only_and_update_the_parts():
    member = member_enroll(full_name="王小明", phone="+8613800138000")
    assert (member.full_name, member.name_pinyin) == ("王小明", "WANGXIAOMING")
    assert Member.objects.get(pk=member.pk).name_pinyin == "WANGXIAOMING"
    member = member_update(member=member, data={"first_name": "小明", "last_name": "王"})
    member.refresh_from_db()
    assert member.full_name == "王小明"  # typed by hand, and equal to the parts anyway


@pytest.mark.django_db
def test_renaming_the_parts_renames_a_composed_full_name_and_its_pinyin():
    member = member_enroll(first_name="小明", last_name="王", email="wang@example.com")
    member = member_update(member=member, data={"last_name": "李"})
    member.refresh_from_db()
    assert (member.full_name, member.name_pinyin) == ("李小明", "LIXIAOMING")
    assert member_lookup(query="李小") == [member]
    assert member_lookup(query="王小") == []


@pytest.mark.django_db
class TestNameSearch:
    def test_chinese_characters_match_the_start_of_the_full_name(self):
        wang = MemberFactory(first_name="小明", last_name="王")
        wang_li = MemberFactory(first_name="丽", last_name="王")
        ouyang = MemberFactory(first_name="娜娜", last_name="欧阳")
        MemberFactory(first_name="明", last_name="李")  # 明 inside, not at the start

        assert member_lookup(query="王") == [wang_li, wang]  # 丽 U+4E3D sorts before 小 U+5C0F
        assert member_lookup(query="王小") == [wang]
        assert member_lookup(query="王 小明") == [wang]  # spaces typed between characters
        assert member_lookup(query="欧阳娜") == [ouyang]
        assert member_lookup(query="小明") == []  # a given name alone is not the start

    def test_pinyin_finds_a_chinese_name(self):
        wang = MemberFactory(first_name="小明", last_name="王")
        MemberFactory(first_name="丽", last_name="李")

        assert member_lookup(query="wangxiaoming") == [wang]
        assert member_lookup(query="wang xiao") == [wang]
        assert member_lookup(query="WANGX") == [wang]
        assert member_lookup(query="xiaoming") == []

    def test_latin_names_are_searched_as_before_and_by_full_name(self):
        smith = MemberFactory(first_name="Anna", last_name="Smith")
        only_full = MemberFactory(first_name="", last_name="", full_name="Smithy Jones")

        assert member_lookup(query="smith") == [smith, only_full]
        assert member_lookup(query="anna sm") == [smith]
        assert member_lookup(query="smithy jo") == [only_full]

    def test_an_erased_member_is_not_found_by_its_old_name(self):
        from members.services import member_erase

        member = member_enroll(first_name="小明", last_name="王", email="w@example.com")
        member_erase(member=member)
        assert member_lookup(query="王") == []
        assert member_lookup(query="wang") == []
