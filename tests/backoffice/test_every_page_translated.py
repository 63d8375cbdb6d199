"""Every admin list, add and change page and every clerk page, rendered in Simplified Chinese on
a populated database, shows no English words of our own (issue 24, acceptance).

Visible text is what a person reads: text between tags, and the placeholder, title and
aria-label attributes. A word is English when it has three or more Latin letters. Allowed:
- words that come from the data (member names, store and reward names, e-mails, codes), taken
  from every text column of the database, so demo data written in English does not count;
- the codes and abbreviations in ALLOWED (currency codes, CSV, API, SKU, ...);
- strings of Django, DRF and the admin theme that their own catalogues leave in English.
Anything else is a string we forgot to mark with gettext_lazy / {% translate %}, or one the
zh_Hans catalogue lacks (`make messages`, then translate it).
"""

import contextlib
import io
import re
from collections import defaultdict
from html.parser import HTMLParser
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import models
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse

from members.models import Member, StaffProfile, Store
from rewards.models import Voucher

pytestmark = pytest.mark.django_db

# three or more letters, not part of a code that mixes letters and digits (W2C3-QQ9H-EDT8)
# and not part of an identifier joined by dots, colons or underscores (points.earned,
# members:read, first_name)
LATIN_WORD = re.compile(
    r"(?<![A-Za-z0-9._{:])[A-Za-z][A-Za-z\u2019']{2,}(?![A-Za-z0-9_]|[.:][A-Za-z])"
)
# Codes, abbreviations and names that stay as they are in a Chinese screen.
ALLOWED = {
    # help-text examples of names (a Latin name and the pinyin key of 王小明), WeChat's id kind,
    # and the values of the tier-change template's {{ direction }} placeholder
    "Anna",
    "wangxiaoming",
    "OpenID",
    "direction",
    "down",
    # currencies, formats, protocols, standards
    "GBP",
    "CNY",
    "EUR",
    "USD",
    "CSV",
    "API",
    "URL",
    "JSON",
    "UTC",
    "ISO",
    "SKU",
    "SKUs",
    "SMS",
    "HTTP",
    "HTTPS",
    "POST",
    "GET",
    "PUT",
    "PATCH",
    "DELETE",
    "OpenAPI",
    "Celery",
    "Redis",
    "PostgreSQL",
    "SQLite",
    "RFM",
    "NPS",
    "KPI",
    "KPIs",
    "CLV",
    "AOV",
    "IDs",
    "UUID",
    "Webhook",
    "webhook",
    "HMAC",
    "SHA",
    "XLSX",
    "TSV",
    "XLS",
    "ODS",
    "YAML",
    "HTML",
    "UTF",
    "Excel",
    "Django",
    "WeChat",
    "Alipay",
    "Unfold",
    "Api-Key",
    "Api",
    "Key",
    "Token",
    "Bearer",
    "Europe",
    "London",
    "Asia",
    "Shanghai",
    "Etc",  # time zone names
    "English",  # the language switch names each language in itself
    "esc",  # the key to close the admin's search box
    "Axes",  # the login-throttling app's name
    # examples in help texts, written as the data would be (SKUs, categories, tags, names)
    "GIFTCARD",
    "Tobacco",
    "Bakery",
    "Acme",
    "Ltd",
    "bags",
    "shoes",
    "jane",
    "running",
    "coffee",
    "ADMINS",  # the Django setting, by its name
    "code'",  # the CSV column name in "a header line 'code' is skipped"
    "balance",  # a message template placeholder, {{ balance }}
    "app",  # a consent source code
    "App",  # 应用 is said "App" in Chinese retail too
    # what the admin theme and Django print untranslated (their catalogues, not ours)
    "administration",
}


OUR_APPS = {
    "core",
    "members",
    "ledger",
    "tiers",
    "rewards",
    "campaigns",
    "analytics",
    "integrations",
    "backoffice",
}


class _Text(HTMLParser):
    SKIP = {"script", "style", "template", "code", "pre", "textarea", "option", "svg"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.stack: list[str] = []  # open elements from the outermost skipped one

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if tag in self.SKIP or "material-symbols" in classes:  # icon names, not words
            self.skipping += 1
            self.stack.append(tag)
        elif self.stack and tag not in self.VOID:
            self.stack.append(tag)
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        # inside a skipped element, count nesting so its end is found
        if self.stack:
            self.stack.pop()
            if not self.stack:
                self.skipping = 0

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def visible_words(html: str) -> set[str]:
    parser = _Text()
    parser.feed(html)
    return set(LATIN_WORD.findall(" ".join(parser.parts)))


def data_words() -> set[str]:
    """Every Latin word stored in a text column (names, codes, e-mails, notes, JSON)."""
    words: set[str] = set()
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy:
            continue
        text_fields = [
            f.attname
            for f in model._meta.concrete_fields
            if isinstance(f, (models.CharField, models.TextField, models.JSONField))
        ]
        if not text_fields:
            continue
        for row in model._default_manager.values_list(*text_fields)[:2000]:
            for value in row:
                if value:
                    text = str(value)
                    words.update(LATIN_WORD.findall(text))
                    if text.isalnum() and text.isupper():  # a code, shown as XXXX-XXXX-XXXX
                        words.update(text[i : i + 4] for i in range(0, len(text), 4))
    return words


@pytest.fixture
def populated(settings, superuser) -> Member:
    settings.DEBUG = True  # load_demo_data refuses to run without it
    call_command("load_demo_data", stdout=io.StringIO())
    member = Member.objects.filter(points_account__entries__isnull=False).first()
    assert member is not None
    return member


def _admin_urls(user: Any) -> list[str]:
    """The index, and per registered model its list, add and first change page."""
    request = RequestFactory().get("/admin/")
    request.user = user
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue  # third-party pages (Celery beat, axes, auth): their catalogues, not ours
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        try:
            urls.append(reverse(f"{name}_changelist"))
        except NoReverseMatch:
            continue
        with contextlib.suppress(NoReverseMatch):
            urls.append(reverse(f"{name}_add"))
        try:
            reverse(f"{name}_change", args=[1])
        except NoReverseMatch:
            continue  # a list-only page (the audit log)
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            urls.append(reverse(f"{name}_change", args=[first.pk]))
    return urls + _custom_admin_urls()


def _custom_admin_urls() -> list[str]:
    """The admin's own screens beyond list and form: simulator, member story, imports, ..."""
    from campaigns.models import MessageTemplate, Segment
    from rewards.models import Reward

    urls = [
        reverse("admin:ledger_earningrule_simulate"),
        reverse("admin:campaigns_campaign_timeline"),
        reverse("admin:members_member_import"),
    ]
    member = Member.objects.filter(points_account__entries__isnull=False).first()
    reward = Reward.objects.order_by("pk").first()
    segment = Segment.objects.order_by("pk").first()
    template = MessageTemplate.objects.order_by("pk").first()
    if member is not None:
        urls.append(reverse("admin:members_member_story", args=[member.pk]))
    if reward is not None:
        urls.append(reverse("admin:rewards_reward_upload_codes", args=[reward.pk]))
        urls.append(reverse("admin:rewards_reward_restock", args=[reward.pk]))
    if segment is not None:
        urls.append(reverse("admin:campaigns_segment_upload", args=[segment.pk]))
    if template is not None:
        urls.append(reverse("admin:campaigns_messagetemplate_preview", args=[template.pk]))
    return urls


def _english(client: Client, urls: list[str], allowed: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code in (200, 302, 400, 403, 404), (url, response.status_code)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        words = sorted(
            word
            for word in visible_words(response.content.decode())
            if word not in allowed and word.lower() not in allowed
        )
        if words:
            found[url] = words
    return dict(found)


def _report(found: dict[str, Any]) -> str:
    return "\n".join(f"{url}: {' '.join(words)}" for url, words in found.items())


def test_every_admin_page_in_chinese_has_no_english_of_our_own(client, superuser, populated):
    client.force_login(superuser)
    urls = _admin_urls(superuser)
    assert len(urls) > 60
    allowed = ALLOWED | {word.lower() for word in data_words()}

    found = _english(client, urls, allowed)

    assert not found, "English words on zh-hans admin pages:\n" + _report(found)


def test_every_clerk_page_in_chinese_has_no_english_of_our_own(
    client, django_user_model, populated
):
    store = Store.objects.order_by("pk").first()
    user = django_user_model.objects.create_user(username="till", password="till-pass-123")
    user.groups.add(Group.objects.get(name="Store clerk"))
    StaffProfile.objects.create(user=user, store=store, language="zh-hans")
    anonymous = Client()
    login_page = anonymous.get(reverse("clerk:login"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(user)
    voucher = Voucher.objects.order_by("pk").first()
    urls = [
        reverse("clerk:home"),
        reverse("clerk:home") + "?q=a",
        reverse("clerk:enrol"),
        reverse("clerk:voucher"),
        reverse("clerk:events"),
        reverse("clerk:voucher") + "?code=ZZ-99-99",
        reverse("clerk:member", args=[populated.pk]),
        reverse("clerk:member", args=[999_999]),
    ]
    if voucher is not None:
        urls.append(reverse("clerk:voucher") + f"?code={voucher.code}")
    allowed = ALLOWED | {word.lower() for word in data_words()}

    found = _english(client, urls, allowed)
    login_words = sorted(
        w for w in visible_words(login_page.content.decode()) if w.lower() not in allowed
    )

    assert not found, "English words on zh-hans clerk pages:\n" + _report(found)
    assert login_words == []
