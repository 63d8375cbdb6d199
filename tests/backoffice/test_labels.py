"""Human labels everywhere staff look: no "Consent object (427)", no field names like
"Member_number", no raw JSON for history details or interests."""

import re

import pytest
from django.urls import reverse

from members.services import member_update

pytestmark = pytest.mark.django_db

RAW = re.compile(r"\w+ object \(\d+\)|Member_number|\{&quot;|\{\"|\[&quot;")


def _visible_text(html: str) -> str:
    """What staff read: the text between tags and the values of inputs."""
    html = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    values = re.findall(r'value="([^"]*)"', html)
    return re.sub(r"<[^>]+>", " ", html) + " ".join(values)


def test_member_page_has_human_labels(client, superuser, busy_member):
    member_update(member=busy_member, data={"interests": ["running", "coffee"]}, actor=superuser)
    client.force_login(superuser)

    html = client.get(reverse("admin:members_member_change", args=[busy_member.pk])).content
    html = html.decode()
    text = _visible_text(html)

    assert RAW.findall(text) == []
    assert "active → suspended (lost card)" in text  # status change in words
    assert "changed: interests" in text
    assert 'value="running, coffee"' in html and 'data-tags="1"' in html


def test_member_interests_are_saved_from_the_tag_input(client, superuser, busy_member):
    client.force_login(superuser)
    url = reverse("admin:members_member_change", args=[busy_member.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "interests"}
    data.update(
        {
            "interests": "yoga, tea\nyoga",
            "home_store": busy_member.home_store_id,
            "birth_date": "",
        }
    )
    for inline in client.get(url).context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})

    response = client.post(url, data)

    busy_member.refresh_from_db()
    assert response.status_code in (200, 302)
    assert busy_member.interests == ["yoga", "tea"]


@pytest.mark.parametrize("page", ["import", "export"])
def test_import_and_export_pages_have_no_field_names(client, superuser, programme, page):
    client.force_login(superuser)

    html = client.get(reverse(f"admin:members_member_{page}")).content.decode()

    assert RAW.findall(_visible_text(html)) == []
