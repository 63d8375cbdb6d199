"""The audit trail: who changed what and when, per object and across models; erased members
leave no personal data in it; bulk imports keep it; it cannot be used to write."""

from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from loyalty.core.audit import audit_log_list, audited_models
from loyalty.ledger.models import EarningRule, ProgrammeSettings
from loyalty.tiers.models import Tier, TierPolicy
from members.models import Member, Store
from members.services import member_enroll, member_erase, member_update
from rewards.models import Reward
from tests.factories.ledger import EarningRuleFactory
from tests.factories.members import MemberFactory
from tests.security.test_roles import _rule_form

pytestmark = pytest.mark.django_db


def test_the_programme_models_are_audited():
    assert {ProgrammeSettings, EarningRule, TierPolicy, Tier, Member, Store, Reward} <= set(
        audited_models()
    )


def test_an_admin_change_is_kept_with_user_and_old_and_new_values(client, marketer, programme):
    rule = EarningRuleFactory(name="Double points")
    client.force_login(marketer)
    url = reverse("admin:ledger_earningrule_change", args=[rule.pk])
    assert client.post(url, _rule_form(rule, multiplier="3")).status_code == 302

    latest = rule.history.latest()
    assert latest.history_user == marketer and latest.history_type == "~"
    delta = latest.diff_against(latest.prev_record, excluded_fields={"updated_at"})
    assert [(c.field, str(c.old), str(c.new)) for c in delta.changes] == [
        ("multiplier", "2.00", "3.00")
    ]

    page = client.get(reverse("admin:ledger_earningrule_history", args=[rule.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "marketer" in text and "Multiplier" in text and "2.00" in text and "3.00" in text


def test_history_cannot_be_used_to_revert(client, administrator, programme):
    rule = EarningRuleFactory(name="Double points")
    rule.multiplier = 5
    rule.save()
    first = rule.history.earliest()
    client.force_login(administrator)
    url = reverse("admin:ledger_earningrule_simple_history", args=[rule.pk, first.history_id])

    assert client.get(url).status_code == 200
    assert client.post(url, _rule_form(rule, multiplier="2")).status_code == 403
    rule.refresh_from_db()
    assert rule.multiplier == 5


def test_restricted_clerk_sees_no_history_of_another_stores_member(
    client, clerk, my_member, their_member
):
    client.force_login(clerk)
    mine = client.get(reverse("admin:members_member_history", args=[my_member.pk]))
    theirs = client.get(reverse("admin:members_member_history", args=[their_member.pk]))
    assert mine.status_code == 200
    assert theirs.status_code == 404
    version = their_member.history.latest().history_id
    detail = client.get(
        reverse("admin:members_member_simple_history", args=[their_member.pk, version])
    )
    assert detail.status_code == 404
    assert their_member.last_name.encode() not in detail.content


def test_audit_log_page_lists_changes_across_models_with_filters(
    client, finance, marketer, administrator, programme
):
    rule = EarningRuleFactory(name="Weekend bonus")
    client.force_login(marketer)
    client.post(
        reverse("admin:ledger_earningrule_change", args=[rule.pk]),
        _rule_form(rule, multiplier="4", confirm_sweeping="on"),
    )
    member = MemberFactory(last_name="Audited")
    member_update(member=member, data={"city": "York"}, actor=administrator)

    client.force_login(finance)
    url = reverse("admin:core_auditlog_changelist")
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Weekend bonus" in text and "Audited" in text and "York" in text

    only_rules = client.get(url, {"model": "ledger.earningrule"})
    entries = only_rules.context["entries"]
    assert entries and {e.model_label for e in entries} == {"ledger.earningrule"}
    changed = next(e for e in entries if e.action == "Changed")
    assert changed.user == marketer
    assert [(c.field, c.old, c.new) for c in changed.changes] == [("multiplier", "2.00", "4.00")]

    by_user = client.get(url, {"user": marketer.pk}).context["entries"]
    assert by_user and all(e.user == marketer for e in by_user)

    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert client.get(url, {"since": tomorrow}).context["entries"] == []

    bad = client.get(url, {"since": "2026-02-01", "until": "2026-01-01"})
    assert bad.status_code == 200 and b"must not be after" in bad.content
    assert client.get(url, {"since": "not a date"}).status_code == 200


def test_audit_log_needs_its_permission(client, clerk, marketer):
    for user in (clerk, marketer):
        client.force_login(user)
        assert client.get(reverse("admin:core_auditlog_changelist")).status_code == 403


def test_audit_log_query_count_does_not_grow_with_the_changes(
    django_assert_max_num_queries, programme
):
    rule = EarningRuleFactory()
    for n in range(3):
        rule.priority = n
        rule.save()
    with django_assert_max_num_queries(2 * len(audited_models()) + 2) as few:
        audit_log_list()
    for n in range(30):
        rule.priority = 100 + n
        rule.save()
    with django_assert_max_num_queries(len(few.captured_queries)):
        entries = audit_log_list(model_label="ledger.earningrule")
    assert len(entries) == 34
    assert entries[0].changes[0].field == "priority"


def test_erasing_a_member_scrubs_their_history():
    member = member_enroll(first_name="Jane", last_name="Doe", email="jane@example.com")
    member_update(
        member=member, data={"phone": "07911 123456", "city": "Leeds", "street": "1 High St"}
    )
    member_update(member=member, data={"last_name": "Doe-Smith", "postcode": "LS1 1AA"})
    assert member.history.count() >= 3

    member_erase(member=member)

    rows = str(list(Member.history.filter(id=member.pk).values()))
    for personal in ("Jane", "Doe", "jane@example.com", "7911", "Leeds", "High St", "LS1"):
        assert personal not in rows
    # who and when are still there
    assert member.history.filter(history_type="~").count() >= 3


def test_bulk_import_records_history(tmp_path):
    existing = MemberFactory(email="known@example.com", city="Leeds")
    path = tmp_path / "members.csv"
    path.write_text(
        "first_name,last_name,email,city\n"
        "Ann,New,ann@example.com,York\n"
        "Kay,Known,known@example.com,Bath\n",
        encoding="utf-8",
    )
    call_command("import_members", str(path))

    created = Member.objects.get(email="ann@example.com")
    assert created.history.get().history_change_reason == "bulk import"
    update = existing.history.latest()
    assert update.history_type == "~" and update.history_change_reason == "bulk import"
    assert update.city == "Bath"


def test_audit_log_dates_are_inclusive():
    member = MemberFactory()
    member_update(member=member, data={"city": "Hull"})
    today = timezone.localdate()
    entries = audit_log_list(model_label="members.member", since=today, until=today)
    assert any(c.new == "Hull" for e in entries for c in e.changes)
    assert audit_log_list(model_label="members.member", until=date(2000, 1, 1)) == []
