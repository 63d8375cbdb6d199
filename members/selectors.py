"""Reads on members: lookup for the till, lists for the admin and API, privacy data."""

import contextlib
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q, QuerySet, prefetch_related_objects
from django.db.models.functions import Collate, Upper

from members.exceptions import InvalidCardNumber, MemberNotFound
from members.identifiers import (
    MEMBER_NUMBER_LENGTH,
    is_valid_member_number,
    looks_like_phone,
    normalize_email,
    normalize_phone,
)
from members.models import Member, MemberIdentity, StaffProfile, Store
from members.names import has_han, search_key

MAX_ID = 2**63 - 1  # larger ids cannot exist and would overflow the database driver


def member_get(*, member_id: int, user: Any, api_client: Any = None) -> Member:
    """The member `member_id` if `user` may see it (member_list_for_staff), else MemberNotFound:
    another store's member is "not found" exactly like one that does not exist."""
    if not isinstance(member_id, int) or not 0 < member_id <= MAX_ID:
        raise MemberNotFound()
    visible = member_list_for_staff(user=user, api_client=api_client)
    try:
        return visible.select_related("home_store", "referred_by").get(pk=member_id)
    except (Member.DoesNotExist, ValueError, TypeError):
        raise MemberNotFound() from None


def member_get_by_number(*, member_number: str, user: Any, api_client: Any = None) -> Member:
    member_number = member_number.strip()
    if not is_valid_member_number(member_number):
        raise InvalidCardNumber()
    visible = member_list_for_staff(user=user, api_client=api_client)
    try:
        return visible.get(member_number=member_number)
    except Member.DoesNotExist:
        raise MemberNotFound() from None


def member_list(*, store: Store | None = None) -> QuerySet[Member]:
    qs = Member.objects.select_related("home_store")
    if store is not None:
        qs = qs.filter(home_store=store)
    return qs


def staff_store_for(*, user: Any) -> Store | None:
    """The store a staff user works at (their StaffProfile), or None when they have none."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.pk:
        return None
    profile = StaffProfile.objects.select_related("store").filter(user_id=user.pk).first()
    return profile.store if profile is not None else None


def staff_restricted_store(*, user: Any) -> Store | None:
    """The only store whose members this user may see, or None when they may see all stores.

    Superusers are never restricted; a profile restricted to a store limits everyone else.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.pk:
        return None
    if user.is_superuser:
        return None
    profile = (
        StaffProfile.objects.select_related("store")
        .filter(user_id=user.pk, restricted_to_store=True)
        .first()
    )
    return profile.store if profile is not None else None


def member_list_for_staff(*, user: Any, api_client: Any = None) -> QuerySet[Member]:
    """THE store rule: the members a caller may see. Every path that reads or acts on a member
    for a caller starts here: the API (members, ledger, tiers, rewards), the clerk screen, the
    admin lists and their exports.

    - A superuser or an unrestricted staff user sees every member.
    - A staff user whose profile restricts them to a store sees only that store's members.
    - An anonymous or inactive user sees nobody.
    - An API key (`api_client`, the request's ApiClient) sees every member: a till or web shop
      serves members of any home store. Its service account is inactive, so the key itself is
      what lets it in.
    """
    if api_client is not None and getattr(api_client, "is_api_client", False):
        return member_list()
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Member.objects.none()
    qs = member_list()
    store = staff_restricted_store(user=user)
    if store is not None:
        qs = qs.filter(home_store=store)
    return qs


def member_visible(*, member_id: int | None, user: Any, api_client: Any = None) -> bool:
    """Whether the caller may see member `member_id` (a row with no member is visible)."""
    if member_id is None:
        return True
    visible = member_list_for_staff(user=user, api_client=api_client)
    return visible.filter(pk=member_id).exists()


def member_related_for_staff(
    queryset: QuerySet[Any], *, user: Any, path: str = "member"
) -> QuerySet[Any]:
    """Rows tied to a member (entries, vouchers, redemptions, tier history...) limited by the
    same rule: only those whose member `user` may see. `path` leads from the row to the member
    (e.g. "account__member")."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    store = staff_restricted_store(user=user)
    if store is None:
        return queryset
    return queryset.filter(**{f"{path}__home_store": store})


@dataclass(frozen=True)
class LookupResult:
    """What the search box found and how: kind is card | email | phone | identity | name."""

    kind: str
    members: list[Member]


def member_lookup(
    *,
    query: str,
    limit: int = 10,
    store: Store | None = None,
    among: QuerySet[Member] | None = None,
) -> list[Member]:
    """The clerk's one search box (member_search), as the list of members found."""
    return member_search(query=query, limit=limit, store=store, among=among).members


def _identity_filter(query: str) -> Q | None:
    """An external id typed as it is ("o6_bmjrPTlm6") or as kind:value ("wechat:o6_bmj...")."""
    if " " in query:
        return None
    kind, sep, value = query.partition(":")
    if sep and value and kind.lower() in MemberIdentity.Kind.values:
        return Q(identities__kind=kind.lower(), identities__value=value)
    return Q(identities__value=query)


def member_search(
    *,
    query: str,
    limit: int = 10,
    store: Store | None = None,
    among: QuerySet[Member] | None = None,
) -> LookupResult:
    """The clerk's one search box: card number, phone, e-mail, an external id (a web-shop
    account, a WeChat or Alipay id, a partner card: MemberIdentity) or the start of a name.

    A 10-digit number is a card number and must pass its check digit (InvalidCardNumber, so the
    clerk re-scans instead of serving the wrong member) unless it is some member's external id.
    Latin names match by prefix on last and first name, best matches first: exact last name,
    then last-name prefix, then first-name prefix, then the start of the full name, then the
    start of a Chinese name's pinyin; within each, by name ignoring case, then by enrolment
    (id). A query in Chinese characters matches the start of the full name, spaces ignored.
    `among` is the set searched (member_list_for_staff for a caller); `store` narrows it to one
    home store.
    """
    query = " ".join(query.split())
    if not query:
        return LookupResult("", [])
    # The API shows consents per match: prefetched once for the whole answer (name searches
    # run up to five queries). The exact keys are unique: no ordering to sort by.
    base = among if among is not None else Member.objects.all()
    qs = base.select_related("home_store").filter(erased_at__isnull=True)
    if store is not None:
        qs = qs.filter(home_store=store)

    exact = None
    kind = ""
    invalid_card = False
    if query.isdigit() and len(query) == MEMBER_NUMBER_LENGTH:
        kind = "card"
        if is_valid_member_number(query):
            exact = Q(member_number=query)
        else:
            invalid_card = True
    elif "@" in query:
        kind = "email"
        with contextlib.suppress(ValidationError):
            exact = Q(email=normalize_email(query))
    elif looks_like_phone(query):
        kind = "phone"
        with contextlib.suppress(ValidationError):
            exact = Q(phone=normalize_phone(query))
    if exact is not None:
        members = list(qs.filter(exact).order_by()[:1])
        if members:
            prefetch_related_objects(members, "consents")
            return LookupResult(kind, members)
    identity = _identity_filter(query)
    # An id with a digit or a sign (o6_bmj..., 2088..., wechat:...) is tried before the names;
    # a word of letters only is a name first, and an id only when no name starts with it.
    if identity is not None and not query.isalpha():
        by_id = _identity_search(qs, identity, limit)
        if by_id is not None:
            return by_id
    if invalid_card:
        raise InvalidCardNumber()
    if kind:  # a card, e-mail or phone that no member has
        return LookupResult(kind, [])

    if has_han(query):
        # Chinese: the start of the full name, whatever spaces were typed (王 小明 = 王小明)
        ranks: list[tuple[Q, str]] = [(Q(full_key__startswith=search_key(query)), "full_key")]
    else:
        tokens = query.upper().split(" ")
        if len(tokens) == 1:
            (token,) = tokens
            ranks = [  # exact last name, then last-name prefix, then first-name prefix
                (Q(last_key=token), "last_key"),
                (Q(last_key__startswith=token), "last_key"),
                (Q(first_key__startswith=token), "last_key"),
            ]
        else:
            first, last = tokens[0], " ".join(tokens[1:])
            ranks = [  # "anna smith" exactly, then as prefixes, then the other way round
                (Q(first_key=first, last_key=last), "last_key"),
                (Q(first_key__startswith=first, last_key__startswith=last), "last_key"),
                (Q(last_key__startswith=first, first_key__startswith=last), "last_key"),
            ]
        # then the start of the full name (a member known by a full name only), then the
        # pinyin of a Chinese name typed on a Latin keyboard ("wang xiao" or "wangxiao")
        ranks.append((Q(full_key__startswith=query.upper()), "full_key"))
        letters = search_key(query)
        if letters.isascii() and letters.isalpha():
            ranks.append((Q(name_pinyin__startswith=letters), "pinyin_key"))
    qs = qs.alias(
        last_key=_name_key("last_name"),
        first_key=_name_key("first_name"),
        full_key=_name_key("full_name"),
        pinyin_key=_name_key("name_pinyin"),  # upper case already: the index's expression
    )
    found: list[Member] = []
    earlier: Q | None = None
    # One query per rank, each in the order of its index (members_member_name_order, 0006;
    # members_member_full_name_order and members_member_pinyin_order, 0008), so the database
    # reads only the rows it returns: a common prefix matches thousands of members on 1M and
    # sorting them all made this the slowest lookup. Most searches stop after one or two.
    orderings = {
        "last_key": ("last_key", "first_key", "pk"),
        "full_key": ("full_key", "pk"),
        "pinyin_key": ("pinyin_key", "pk"),
    }
    for rank, ordering in ranks:
        stage = qs.filter(rank) if earlier is None else qs.filter(rank).exclude(earlier)
        found.extend(stage.order_by(*orderings[ordering])[: limit - len(found)])
        if len(found) >= limit:
            break
        earlier = rank if earlier is None else earlier | rank
    if not found and identity is not None:
        by_identity = _identity_search(qs, identity, limit)
        if by_identity is not None:
            return by_identity
    prefetch_related_objects(found, "consents")
    return LookupResult("name", found)


def _identity_search(qs: QuerySet[Member], identity: Q, limit: int) -> LookupResult | None:
    """Members holding the external id (one per kind at most), or None."""
    members = list(qs.filter(identity).distinct().order_by("pk")[:limit])
    if not members:
        return None
    prefetch_related_objects(members, "consents")
    return LookupResult("identity", members)


def _name_key(field: str) -> Any:
    """UPPER(name) compared byte by byte: on PostgreSQL COLLATE "C", which is what lets the
    members_member_name_* indexes serve both LIKE 'SMI%' and the ORDER BY (SQLite's default
    collation compares bytes already)."""
    key = Upper(field)
    return Collate(key, "C") if connection.vendor == "postgresql" else key


def member_export_data(*, member: Member) -> dict[str, Any]:
    """The members app's own part of a privacy export."""
    return {
        "member": {
            "member_number": member.member_number,
            "full_name": member.full_name,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "email": member.email,
            "phone": member.phone,
            "birth_date": member.birth_date.isoformat() if member.birth_date else None,
            "address": {
                "street": member.street,
                "city": member.city,
                "postcode": member.postcode,
                "country": member.country,
            },
            "home_store": member.home_store.code if member.home_store else None,
            "enrolment_channel": member.enrolment_channel,
            "enrolled_at": member.enrolled_at.isoformat(),
            "status": member.status,
            "status_reason": member.status_reason,
            "referral_code": member.referral_code,
            "referred_by": member.referred_by.member_number if member.referred_by else None,
            "interests": member.interests,
        },
        "identities": [
            {"kind": i.kind, "value": i.value, "added_at": i.created_at.isoformat()}
            for i in member.identities.order_by("kind", "value")
        ],
        "consents": [
            {
                "channel": c.channel,
                "granted": c.granted,
                "changed_at": c.changed_at.isoformat(),
                "source": c.source,
            }
            for c in member.consents.order_by("channel")
        ],
        "consent_history": [
            {
                "channel": e.channel,
                "granted": e.granted,
                "source": e.source,
                "at": e.created_at.isoformat(),
            }
            for e in member.consent_events.order_by("created_at", "pk")
        ],
        "history": [
            {"kind": e.kind, "detail": e.detail, "at": e.created_at.isoformat()}
            for e in member.events.order_by("created_at", "pk")
        ],
    }
