"""The bulk member import (ORM path everywhere, COPY path on PostgreSQL) with names in any script
and external ids: full names and pinyin computed although rows are written in bulk, ids from a
column per kind or a kind:value list, duplicates refused row by row."""

from pathlib import Path

import pytest
from django.db import connection

from members.import_copy import CopyMemberImporter
from members.importing import MemberImporter, read_rows
from members.models import Member, MemberIdentity
from members.selectors import member_lookup
from members.services import identity_attach, member_enroll

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["orm", "copy"])
def importer(request):
    if request.param == "copy" and connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's (runs in .ci/run's second pass)")
    return MemberImporter if request.param == "orm" else CopyMemberImporter


def run(importer, tmp_path: Path, text: str, **options):
    path = tmp_path / "members.csv"
    path.write_text(text, encoding="utf-8")
    with path.open(encoding="utf-8", newline="") as handle:
        return importer(batch_size=3, **options).run(read_rows(handle, None))


def errors(report):
    return [(e.row_number, e.field, e.message) for e in report.errors]


def test_new_members_get_full_names_pinyin_and_ids(importer, tmp_path):
    report = run(
        importer,
        tmp_path,
        "full_name,first_name,last_name,email,wechat,identities\n"
        ",小明,王,wang@example.com,o6_wang,alipay:2088001\n"
        "Maria del Carmen García,,,maria@example.com,,web_shop:maria;partner_card:P-1\n"
        ",Anna,Smith,anna@example.com,,\n",
    )
    assert errors(report) == [] and report.created == 3 and report.written

    wang = Member.objects.get(email="wang@example.com")
    assert (wang.full_name, wang.name_pinyin) == ("王小明", "WANGXIAOMING")
    assert Member.objects.get(email="anna@example.com").full_name == "Anna Smith"
    assert member_lookup(query="王小") == [wang]
    assert member_lookup(query="wangxiao") == [wang]
    assert member_lookup(query="wechat:o6_wang") == [wang]
    assert member_lookup(query="2088001") == [wang]
    maria = Member.objects.get(email="maria@example.com")
    assert sorted(maria.identities.values_list("kind", "value")) == [
        ("partner_card", "P-1"),
        ("web_shop", "maria"),
    ]
    assert member_lookup(query="Maria del") == [maria]


def test_reimport_changes_nothing_and_a_new_id_is_an_update(importer, tmp_path):
    text = "email,first_name,last_name,wechat\nwang@example.com,小明,王,o6_wang\n"
    run(importer, tmp_path, text)
    again = run(importer, tmp_path, text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)

    more = run(importer, tmp_path, "email,alipay\nwang@example.com,2088001\n")
    assert (more.created, more.updated, more.unchanged) == (0, 1, 0)
    member = Member.objects.get(email="wang@example.com")
    assert sorted(member.identities.values_list("kind", flat=True)) == ["alipay", "wechat"]
    assert member.events.filter(detail={"fields": ["identities"]}).count() == 1


def test_renaming_a_part_recomputes_the_full_name_and_pinyin(importer, tmp_path):
    member_enroll(first_name="小明", last_name="王", email="wang@example.com")
    typed = member_enroll(full_name="John F. Kennedy", last_name="Kennedy", email="j@example.com")

    report = run(
        importer,
        tmp_path,
        "email,last_name,first_name\nwang@example.com,李,\nj@example.com,,Jack\n",
    )
    assert errors(report) == [] and report.updated == 2

    wang = Member.objects.get(email="wang@example.com")
    assert (wang.full_name, wang.name_pinyin) == ("李小明", "LIXIAOMING")
    typed.refresh_from_db()
    assert (typed.first_name, typed.full_name) == ("Jack", "John F. Kennedy")  # typed by hand


def test_ids_held_by_another_member_or_repeated_are_row_errors(importer, tmp_path):
    holder = member_enroll(first_name="Held", email="held@example.com")
    identity_attach(member=holder, kind="wechat", value="o6_taken")
    identity_attach(member=holder, kind="alipay", value="2088mine")

    report = run(
        importer,
        tmp_path,
        "email,wechat,identities\n"
        "a@example.com,o6_taken,\n"  # 1 another member's
        "b@example.com,o6_new,\n"  # 2 fine
        "c@example.com,,wechat:o6_new\n"  # 3 same id as row 2
        "d@example.com,,myspace:x\n"  # 4 unknown kind
        "e@example.com,has space,\n"  # 5 bad value
        "held@example.com,,alipay:2088mine\n",  # 6 the holder's own: unchanged
        skip_bad_rows=True,
    )
    assert [(n, f) for n, f, _ in errors(report)] == [
        (1, "identities"),
        (3, "identities"),
        (4, "identities"),
        (5, "wechat"),
    ]
    assert "Another member already has the wechat id o6_taken." in errors(report)[0][2]
    assert "row 2" in errors(report)[1][2]
    assert (report.created, report.unchanged) == (1, 1)
    assert MemberIdentity.objects.get(value="o6_new").member.email == "b@example.com"
    assert not Member.objects.filter(email__in=["a@example.com", "c@example.com"]).exists()


def test_a_bad_id_writes_nothing_without_skip_bad_rows(importer, tmp_path):
    report = run(
        importer, tmp_path, "email,identities\na@example.com,wechat:a\nb@example.com,nope\n"
    )
    assert not report.written
    assert not Member.objects.exists() and not MemberIdentity.objects.exists()
