"""The admin import/export of members (django-import-export, MemberResource) with names in any
script and external ids: names and pinyin computed for rows written in bulk, ids read from a
column per kind or a kind:value list, refused row by row when taken, and exported again."""

import pytest
from import_export.formats.base_formats import CSV

from members.models import Member
from members.resources import MemberResource
from members.selectors import member_lookup
from members.services import identity_attach, member_enroll

pytestmark = pytest.mark.django_db


def run(text: str, **kwargs):
    dataset = CSV().create_dataset(text)
    return MemberResource().import_data(dataset, dry_run=False, **kwargs)


def row_errors(result):
    return {
        row.number: sorted(row.error_dict) for row in result.invalid_rows
    }  # row number -> fields


def test_names_and_ids_of_new_members():
    result = run(
        "member_number,full_name,first_name,last_name,email,wechat,identities\n"
        ",,小明,王,wang@example.com,o6_wang,alipay:2088001\n"
        ",Maria del Carmen García,,,maria@example.com,,\n"
    )
    assert not result.has_errors() and not result.has_validation_errors()
    wang = Member.objects.get(email="wang@example.com")
    assert (wang.full_name, wang.name_pinyin) == ("王小明", "WANGXIAOMING")
    assert Member.objects.get(email="maria@example.com").full_name == "Maria del Carmen García"
    assert member_lookup(query="wangxiaoming") == [wang]
    assert member_lookup(query="alipay:2088001") == [wang]
    assert member_lookup(query="o6_wang") == [wang]


def test_an_id_alone_updates_a_known_member_and_a_taken_one_is_a_row_error():
    known = member_enroll(first_name="小明", last_name="王", email="wang@example.com")
    holder = member_enroll(first_name="Held", email="held@example.com")
    identity_attach(member=holder, kind="wechat", value="o6_taken")

    result = run(
        "member_number,email,wechat,identities\n"
        ",wang@example.com,o6_new,\n"
        ",new@example.com,o6_taken,\n"
        ",other@example.com,,wechat:o6_new\n"
        ",bad@example.com,,myspace:x\n",
        rollback_on_validation_errors=True,  # the admin's default: a bad row writes nothing
    )
    assert result.totals["update"] == 1
    errors = {row.number: row.error_dict for row in result.invalid_rows}
    assert sorted(errors) == [2, 3, 4]
    assert "Another member already has the wechat id o6_taken." in str(errors[2])
    assert "row 1" in str(errors[3])
    assert list(known.identities.values_list("value", flat=True)) == []  # nothing written
    # skipping the bad rows writes the good one, recorded in the member's history
    result = run(
        "member_number,email,wechat,identities\n,wang@example.com,o6_new,\n,new@example.com,o6_taken,\n",
        rollback_on_validation_errors=False,  # "skip bad rows"
    )
    assert list(known.identities.values_list("value", flat=True)) == ["o6_new"]
    assert known.events.filter(detail={"fields": ["identities"]}).exists()


def test_renaming_a_part_recomputes_a_composed_full_name():
    member_enroll(first_name="小明", last_name="王", email="wang@example.com")
    result = run("member_number,email,last_name\n,wang@example.com,李\n")
    assert result.totals["update"] == 1
    wang = Member.objects.get(email="wang@example.com")
    assert (wang.full_name, wang.name_pinyin) == ("李小明", "LIXIAOMING")


def test_export_lists_the_ids_and_imports_again_unchanged():
    member = member_enroll(full_name="王小明", email="wang@example.com")
    identity_attach(member=member, kind="wechat", value="o6_wang")
    identity_attach(member=member, kind="alipay", value="2088001")

    exported = MemberResource().export(queryset=Member.objects.all())
    row = exported.dict[0]
    assert row["full_name"] == "王小明"
    assert row["identities"] == "alipay:2088001;wechat:o6_wang"

    again = run(exported.csv)
    assert not again.has_validation_errors(), [r.error_dict for r in again.invalid_rows]
    assert again.totals["skip"] == 1
