"""Reads on members: lookup for the till, lists for the admin and API, privacy data."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from members.exceptions import InvalidCardNumber, MemberNotFound
from members.identifiers import (
    MEMBER_NUMBER_LENGTH,
    is_valid_member_number,
    looks_like_phone,
    normalize_email,
    normalize_phone,
)
from members.models import Member, StaffProfile, Store

MAX_ID = 2**63 - 1  # larger ids cannot exist and would overflow the database driver


def member_get(*, member_id: int) -> Member:
    if not isinstance(member_id, int) or not 0 < member_id <= MAX_ID:
        raise MemberNotFound()
    try:
        return Member.objects.select_related("home_store", "referred_by").get(pk=member_id)
    except (Member.DoesNotExist, ValueError, TypeError):
        raise MemberNotFound() from None


def member_get_by_number(*, member_number: str) -> Member:
    member_number = member_number.strip()
    if not is_valid_member_number(member_number):
        raise InvalidCardNumber()
    try:
        return Member.objects.select_related("home_store").get(member_number=member_number)
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


def member_list_for_staff(*, user: Any) -> QuerySet[Member]:
    """The members a staff user may see: all of them for superusers and unrestricted staff,
    only those whose home store is theirs for a clerk restricted to a store. An anonymous or
    inactive user sees nothing."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Member.objects.none()
    qs = member_list()
    store = staff_restricted_store(user=user)
    if store is not None:
        qs = qs.filter(home_store=store)
    return qs


def member_lookup(*, query: str, limit: int = 10, store: Store | None = None) -> list[Member]:
    """The clerk's one search box: card number, phone, e-mail or the start of a name.

    A 10-digit number is a card number and must pass its check digit (InvalidCardNumber, so the
    clerk re-scans instead of serving the wrong member). Names match by prefix on last and first
    name, best matches first: exact last name, then last-name prefix, then first-name prefix.
    """
    query = " ".join(query.split())
    if not query:
        return []
    qs = (
        Member.objects.select_related("home_store")
        .prefetch_related("consents")  # the API shows consents per match
        .filter(erased_at__isnull=True)
    )
    if store is not None:
        qs = qs.filter(home_store=store)

    if query.isdigit() and len(query) == MEMBER_NUMBER_LENGTH:
        if not is_valid_member_number(query):
            raise InvalidCardNumber()
        return list(qs.filter(member_number=query)[:1])
    if "@" in query:
        try:
            email = normalize_email(query)
        except ValidationError:
            return []
        return list(qs.filter(email=email)[:limit])
    if looks_like_phone(query):
        try:
            phone = normalize_phone(query)
        except ValidationError:
            return []
        return list(qs.filter(phone=phone)[:limit])

    tokens = query.upper().split(" ")
    if len(tokens) == 1:
        (token,) = tokens
        match = Q(last_name__istartswith=token) | Q(first_name__istartswith=token)
        rank = Case(
            When(last_name__iexact=token, then=Value(0)),
            When(last_name__istartswith=token, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    else:
        first, last = tokens[0], " ".join(tokens[1:])
        match = Q(first_name__istartswith=first, last_name__istartswith=last) | Q(
            last_name__istartswith=first, first_name__istartswith=last
        )
        rank = Case(
            When(first_name__iexact=first, last_name__iexact=last, then=Value(0)),
            When(first_name__istartswith=first, last_name__istartswith=last, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    return list(
        qs.filter(match)
        .annotate(rank=rank)
        .order_by("rank", "last_name", "first_name", "pk")[:limit]
    )


def member_export_data(*, member: Member) -> dict[str, Any]:
    """The members app's own part of a privacy export."""
    return {
        "member": {
            "member_number": member.member_number,
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
