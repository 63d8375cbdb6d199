"""Extension points for upper apps (ledger, rewards, ...), registered from AppConfig.ready().

Members never imports the apps that build on it; they register here instead:
- privacy sections: member_privacy_export() includes {name: fn(member)} for each;
- erase hooks: fn(member=, actor=) inside the erase transaction;
- close hooks: fn(member=, actor=, reason=) inside the transaction that closes a member (the
  ledger forfeits the member's live points there);
- merge hooks: fn(source=, target=, actor=) inside the merge transaction, before the duplicate
  is closed, so each app moves its own rows or points. A hook may return a dict (JSON-able,
  keyed by its app) of what it moved or flagged; member_merge puts the union in the `merged`
  MemberEvent's detail under "moved".
- enrol hooks: fn(members=, actor=) inside the enrolment transaction, once per enrolment or
  once per import batch (members: the new members, each with .id and .member_number), so each
  app gives new members their starting state (the tiers app: the entry tier) in bulk.
- phone region provider: fn() -> region code or None, the programme's default region for phone
  numbers typed without a country code (the ledger's programme settings hold it; without a
  provider, or when it answers None, settings.PHONE_DEFAULT_REGION applies).
"""

from collections.abc import Callable
from typing import Any

PRIVACY_SECTIONS: dict[str, Callable[[Any], Any]] = {}
ERASE_HOOKS: list[Callable[..., None]] = []
MERGE_HOOKS: list[Callable[..., object]] = []
CLOSE_HOOKS: list[Callable[..., None]] = []
ENROL_HOOKS: list[Callable[..., object]] = []  # what a hook returns is not used
PHONE_REGION_PROVIDERS: list[Callable[[], str | None]] = []


def register_privacy_section(name: str, fn: Callable[[Any], Any]) -> None:
    PRIVACY_SECTIONS[name] = fn


def register_erase_hook(fn: Callable[..., None]) -> None:
    if fn not in ERASE_HOOKS:
        ERASE_HOOKS.append(fn)


def register_merge_hook(fn: Callable[..., object]) -> None:
    if fn not in MERGE_HOOKS:
        MERGE_HOOKS.append(fn)


def register_close_hook(fn: Callable[..., None]) -> None:
    if fn not in CLOSE_HOOKS:
        CLOSE_HOOKS.append(fn)


def register_enrol_hook(fn: Callable[..., object]) -> None:
    if fn not in ENROL_HOOKS:
        ENROL_HOOKS.append(fn)


def register_phone_region_provider(fn: Callable[[], str | None]) -> None:
    if fn not in PHONE_REGION_PROVIDERS:
        PHONE_REGION_PROVIDERS.append(fn)
