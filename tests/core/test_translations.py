"""The zh-hans catalogue: complete, compiled, up to date with the code (docs/languages.md)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "config" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
# the same as MESSAGES_IGNORE in the Makefile (`make messages`), plus the real catalogue's
# directory: makemessages writes the strings of the files under a "locale" directory's parent
# into that directory, and this test must write into its temporary copy only
IGNORE = [".venv", "var", "tests", "static/vendor", "docs", "config/locale"]


def msgids(po: Path) -> set[tuple[str, str]]:
    """(context, msgid) of every entry of a .po file, obsolete ones left out."""
    entries: set[tuple[str, str]] = set()
    context = msgid = ""
    current = ""
    for line in [*po.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#~"):
            continue
        keyword = re.match(r"^(msgctxt|msgid|msgid_plural|msgstr)(\[\d+\])? (\".*\")$", line)
        if keyword:
            current = keyword.group(1)
            value = _unquote(keyword.group(3))
            if current == "msgctxt":
                context = value
            elif current == "msgid":
                msgid = value
        elif line.startswith('"') and current in ("msgctxt", "msgid"):
            if current == "msgctxt":
                context += _unquote(line)
            else:
                msgid += _unquote(line)
        elif not line.strip():
            if msgid:
                entries.add((context, msgid))
            context = msgid = current = ""
    return entries


def _unquote(text: str) -> str:
    import json

    return str(json.loads(text))


def test_zh_hans_catalogue_has_no_untranslated_or_fuzzy_entry():
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO)],
        capture_output=True,
        text=True,
    )
    statistics = result.stderr.strip().splitlines()[-1]

    assert result.returncode == 0, result.stderr  # placeholders match, the file is valid
    assert re.fullmatch(r"\d+ translated messages?\.", statistics), (
        f"{statistics} — run `make messages` and translate every new or fuzzy entry in {PO}"
    )


def test_catalogue_is_up_to_date_with_the_code(tmp_path, settings, monkeypatch):
    """makemessages run now finds exactly the strings of the committed catalogue: none added
    in the code and left out of it, none removed from the code and left in it."""
    target = tmp_path / "zh_Hans" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(PO, target / "django.po")
    settings.LOCALE_PATHS = [tmp_path]
    monkeypatch.chdir(ROOT)
    before = PO.read_bytes()

    call_command(
        "makemessages",
        locale=["zh_Hans"],
        ignore_patterns=IGNORE,
        no_obsolete=True,
        add_location="file",
        verbosity=0,
    )
    assert PO.read_bytes() == before  # the committed catalogue was not touched
    fresh = msgids(target / "django.po")
    committed = msgids(PO)

    missing = sorted(msgid for _ctx, msgid in fresh - committed)
    stale = sorted(msgid for _ctx, msgid in committed - fresh)
    assert not missing, f"strings not in the catalogue (run `make messages`): {missing[:20]}"
    assert not stale, f"strings no longer in the code (run `make messages`): {stale[:20]}"


def test_catalogue_is_compiled_for_the_app():
    """make install (and the test session) compile the .mo Django reads."""
    from django.utils import translation

    with translation.override("zh-hans"):
        assert translation.gettext("Loyalty till") == "会员收银台"


@pytest.mark.parametrize("code", ["en-gb", "zh-hans"])
def test_languages_are_the_two_shipped(code):
    assert code in dict(settings.LANGUAGES)
