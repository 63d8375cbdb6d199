"""Writes on members: enrolment, updates, consent, status, merge and privacy (export, erase)."""

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty.core import events
from loyalty.core.idempotency import idempotency_records_forget_member
from loyalty.core.middleware import STAFF_LANGUAGE
from members import hooks
from members.exceptions import (
    DuplicateIdentity,
    DuplicateMember,
    InvalidStatusChange,
    MemberErased,
)
from members.identifiers import (
    new_member_number,
    new_referral_code,
    normalize_email,
    normalize_phone,
)
from members.models import (
    Consent,
    ConsentEvent,
    Member,
    MemberEvent,
    MemberIdentity,
    StaffProfile,
    Store,
)
from members.names import name_fields

User = AbstractBaseUser


def _member_event_publish(event_type: str, member: Member, **extra: Any) -> None:
    """member.enrolled / member.updated, sent after commit: ids only, no personal data."""
    events.publish(
        event_type,
        {
            "member_id": member.pk,
            "member_number": member.member_number,
            "status": member.status,
            **extra,
            "occurred_at": timezone.now().isoformat(),
        },
    )


CONSENT_CHANNELS = [choice for choice, _ in Consent.Channel.choices]
PROFILE_FIELDS = [
    "full_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "street",
    "city",
    "postcode",
    "country",
    "home_store",
    "interests",
]


def _normalized_contact(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise e-mail and phone in `data`; field errors are raised as one ValidationError."""
    errors: dict[str, list[str]] = {}
    result = dict(data)
    if "email" in data:
        try:
            result["email"] = normalize_email(data["email"])
        except ValidationError as exc:
            errors["email"] = exc.messages
    if "phone" in data:
        try:
            result["phone"] = normalize_phone(data["phone"])
        except ValidationError as exc:
            errors["phone"] = exc.messages
    if data.get("country"):
        result["country"] = str(data["country"]).strip().upper()
    if errors:
        raise ValidationError(errors)
    return result


def _ensure_contact_free(*, email: str | None, phone: str | None, exclude_pk: int | None) -> None:
    clauses = Q()
    if email:
        clauses |= Q(email=email)
    if phone:
        clauses |= Q(phone=phone)
    if not clauses:
        return
    candidates = Member.objects.filter(clauses)
    if exclude_pk is not None:
        candidates = candidates.exclude(pk=exclude_pk)
    existing = candidates.first()
    if existing is None:
        return
    field = "email" if email and existing.email == email else "phone"
    raise DuplicateMember(
        _("A member with this e-mail already exists.")
        if field == "email"
        else _("A member with this phone number already exists."),
        extra={"existing_member_id": existing.pk, "field": field},
    )


def _save_unique(member: Member, **save_kwargs: Any) -> None:
    """Save, turning a lost race on the unique e-mail/phone into DuplicateMember."""
    try:
        with transaction.atomic():
            member.save(**save_kwargs)
    except IntegrityError:
        _ensure_contact_free(email=member.email, phone=member.phone, exclude_pk=member.pk)
        raise


def _unique_value(field: str, factory: Callable[[], str]) -> str:
    for _attempt in range(20):
        value = factory()
        if not Member.objects.filter(**{field: value}).exists():
            return value
    raise RuntimeError(f"could not draw a free {field}")  # 1 in 10^9 odds, 20 times in a row


@transaction.atomic
def member_enroll(
    *,
    first_name: str = "",
    last_name: str = "",
    full_name: str = "",
    email: str | None = None,
    phone: str | None = None,
    birth_date: date | None = None,
    street: str = "",
    city: str = "",
    postcode: str = "",
    country: str = "",
    home_store: Store | None = None,
    channel: str = Member.Channel.STORE,
    consents: dict[str, bool] | None = None,
    referral_code: str | None = None,
    interests: list[str] | None = None,
    external_ref: str = "",
    enrolled_at: datetime | None = None,
    actor: Any = None,
) -> Member:
    """Enrol a new member with a fresh card number and referral code.

    Raises ValidationError (field errors) and DuplicateMember (409, existing id in extra).
    """
    data = _normalized_contact({"email": email, "phone": phone, "country": country})
    _ensure_contact_free(email=data["email"], phone=data["phone"], exclude_pk=None)
    referrer = None
    if referral_code:
        referrer = Member.objects.filter(referral_code=referral_code.strip().upper()).first()
        if referrer is None:
            raise ValidationError({"referral_code": ["No member has this referral code."]})
    now = timezone.now()
    member = Member(
        member_number=_unique_value("member_number", new_member_number),
        referral_code=_unique_value("referral_code", new_referral_code),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        full_name=full_name.strip(),  # composed from the parts on save when blank
        email=data["email"],
        phone=data["phone"],
        birth_date=birth_date,
        street=street.strip(),
        city=city.strip(),
        postcode=postcode.strip(),
        country=data["country"] or "",
        home_store=home_store,
        enrolment_channel=channel,
        enrolled_at=enrolled_at or now,
        status_changed_at=now,
        referred_by=referrer,
        interests=interests or [],
        external_ref=external_ref,
    )
    member.full_clean()
    _save_unique(member)
    granted = consents or {}
    Consent.objects.bulk_create(
        Consent(
            member=member,
            channel=channel_name,
            granted=bool(granted.get(channel_name, False)),
            changed_at=now,
            source=channel,
        )
        for channel_name in CONSENT_CHANNELS
    )
    ConsentEvent.objects.bulk_create(
        ConsentEvent(member=member, channel=name, granted=True, source=channel, actor=_user(actor))
        for name, value in granted.items()
        if value
    )
    MemberEvent.objects.create(
        member=member,
        kind=MemberEvent.Kind.ENROLLED,
        detail={"channel": channel, "referred_by": referrer.pk if referrer else None},
        actor=_user(actor),
    )
    for hook in hooks.ENROL_HOOKS:  # the starting state other apps give (the entry tier)
        hook(members=[member], actor=actor)
    _member_event_publish(
        "member.enrolled",
        member,
        channel=channel,
        home_store=home_store.code if home_store else None,
        referred_by=referrer.member_number if referrer else None,
        enrolled_at=member.enrolled_at.isoformat(),
    )
    return member


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


# ---------------------------------------------------------------- the same records, in bulk
# Imports write member rows in bulk (COPY or set-based SQL); these record what member_enroll,
# member_update and consent_set record around the row, for a whole batch at once: one insert per
# table and one outbox insert per event type, never one per row. They run in the import's
# transaction, so an import rolled back (a dry run, a bad row) records nothing either.


def _actor_id(actor: Any) -> int | None:
    user = _user(actor)
    return user.pk if user is not None else None


def _stamp(model: type, columns: list[str], rows: Any) -> None:
    from loyalty.core.bulkwrite import insert_rows

    insert_rows(model, ["created_at", "updated_at", *columns], rows)


def members_enrolled_record(
    *,
    members: Sequence[Any],
    channel: str = Member.Channel.IMPORT,
    granted: Mapping[int, Mapping[str, bool]] | None = None,
    consent_rows: bool = True,
    actor: Any = None,
) -> None:
    """What member_enroll records besides the member row, for `members` an import inserted in
    bulk (each with id, member_number, status, home_store_id, enrolled_at): a consent row per
    channel (unless the caller wrote them: consent_rows=False), a consent event per consent
    given (granted: member id -> {channel: bool}), the `enrolled` history event, the enrol hooks
    (the starting tier) and the member.enrolled events."""
    if not members:
        return
    now = timezone.now()
    granted = granted or {}
    actor_id = _actor_id(actor)
    if consent_rows:
        _stamp(
            Consent,
            ["member_id", "channel", "granted", "changed_at", "source"],
            (
                (now, now, m.id, name, bool(granted.get(m.id, {}).get(name)), now, channel)
                for m in members
                for name in CONSENT_CHANNELS
            ),
        )
    _stamp(
        ConsentEvent,
        ["member_id", "channel", "granted", "source", "actor_id"],
        (
            (now, now, member_id, name, True, channel, actor_id)
            for member_id, given in granted.items()
            for name, value in given.items()
            if value
        ),
    )
    _stamp(
        MemberEvent,
        ["member_id", "kind", "detail", "actor_id"],
        (
            (
                now,
                now,
                m.id,
                MemberEvent.Kind.ENROLLED,
                {"channel": channel, "referred_by": None},
                actor_id,
            )
            for m in members
        ),
    )
    for hook in hooks.ENROL_HOOKS:
        hook(members=members, actor=actor)
    store_ids = {m.home_store_id for m in members if m.home_store_id}
    codes = (
        dict(Store.objects.filter(pk__in=store_ids).values_list("pk", "code")) if store_ids else {}
    )
    occurred = now.isoformat()
    events.publish_many(
        "member.enrolled",
        [
            {
                "member_id": m.id,
                "member_number": m.member_number,
                "status": m.status,
                "channel": channel,
                "home_store": codes.get(m.home_store_id),
                "referred_by": None,
                "enrolled_at": m.enrolled_at.isoformat(),
                "occurred_at": occurred,
            }
            for m in members
        ],
    )


def members_updated_record(*, changes: Sequence[tuple[Any, list[str]]], actor: Any = None) -> None:
    """What member_update records besides the row, for members an import changed in bulk:
    changes are (member with id/member_number/status, changed field names). One `updated`
    history event each (field names only, as member_update) and the member.updated events."""
    changes = [(m, fields) for m, fields in changes if fields]
    if not changes:
        return
    now = timezone.now()
    actor_id = _actor_id(actor)
    _stamp(
        MemberEvent,
        ["member_id", "kind", "detail", "actor_id"],
        ((now, now, m.id, MemberEvent.Kind.UPDATED, {"fields": f}, actor_id) for m, f in changes),
    )
    occurred = now.isoformat()
    events.publish_many(
        "member.updated",
        [
            {
                "member_id": m.id,
                "member_number": m.member_number,
                "status": m.status,
                "fields": fields,
                "occurred_at": occurred,
            }
            for m, fields in changes
        ],
    )


def consent_events_record(
    *, changes: Sequence[tuple[int, str, bool]], source: str, actor: Any = None
) -> None:
    """The consent events consent_set writes, for consents an import changed in bulk:
    changes are (member id, channel, granted)."""
    now = timezone.now()
    actor_id = _actor_id(actor)
    _stamp(
        ConsentEvent,
        ["member_id", "channel", "granted", "source", "actor_id"],
        (
            (now, now, member_id, name, value, source, actor_id)
            for member_id, name, value in changes
        ),
    )


@transaction.atomic
def member_update(*, member: Member, data: dict[str, Any], actor: Any = None) -> Member:
    """Change profile fields (only those in PROFILE_FIELDS present in `data`)."""
    if member.erased_at:
        raise MemberErased()
    data = _normalized_contact({k: v for k, v in data.items() if k in PROFILE_FIELDS})
    _ensure_contact_free(email=data.get("email"), phone=data.get("phone"), exclude_pk=member.pk)
    previous_name = (member.first_name, member.last_name, member.full_name)
    changed = []
    for field, value in data.items():
        if isinstance(value, str) and field not in ("email", "phone"):
            value = value.strip()
        if getattr(member, field) != value:
            setattr(member, field, value)
            changed.append(field)
    if not changed:
        return member
    if {"first_name", "last_name", "full_name"} & set(changed):
        # a full name made from the parts follows them; one typed by hand stays as it is
        full_name, _pinyin = name_fields(
            given=member.first_name,
            family=member.last_name,
            full_name=member.full_name,
            previous=previous_name,
        )
        member.full_name = full_name  # saved with the parts (Member.save's update_fields)
    member.full_clean()
    _save_unique(member, update_fields=[*changed, "updated_at"])
    # field names only: the audit trail must not become a second copy of personal data
    MemberEvent.objects.create(
        member=member, kind=MemberEvent.Kind.UPDATED, detail={"fields": changed}, actor=_user(actor)
    )
    _member_event_publish("member.updated", member, fields=changed)
    return member


@transaction.atomic
def consent_set(
    *, member: Member, channel: str, granted: bool, source: str, actor: Any = None
) -> Consent:
    """Record a consent given or withdrawn; a no-op when nothing changes."""
    if channel not in CONSENT_CHANNELS:
        raise ValidationError({"channel": [f"Unknown channel {channel!r}."]})
    consent, _created = Consent.objects.select_for_update().get_or_create(
        member=member,
        channel=channel,
        defaults={"granted": False, "changed_at": timezone.now(), "source": source},
    )
    if consent.granted == granted:
        return consent
    consent.granted = granted
    consent.changed_at = timezone.now()
    consent.source = source
    consent.save(update_fields=["granted", "changed_at", "source", "updated_at"])
    ConsentEvent.objects.create(
        member=member, channel=channel, granted=granted, source=source, actor=_user(actor)
    )
    return consent


_TRANSITIONS: dict[str, set[str]] = {
    Member.Status.SUSPENDED: {Member.Status.ACTIVE},
    Member.Status.ACTIVE: {Member.Status.SUSPENDED},
    Member.Status.CLOSED: {Member.Status.ACTIVE, Member.Status.SUSPENDED},
}


def _status_change(*, member: Member, to: str, reason: str, actor: Any) -> Member:
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.status not in _TRANSITIONS[to]:
        raise InvalidStatusChange(
            _("A %(status)s member cannot become %(to)s.")
            % {
                "status": member.get_status_display().lower(),
                "to": str(dict(Member.Status.choices).get(to, to)).lower(),
            },
            extra={"status": member.status, "requested": to},
        )
    if to != Member.Status.ACTIVE and not reason.strip():
        raise ValidationError({"reason": ["Say why (it is kept in the member's history)."]})
    previous = member.status
    member.status = to
    member.status_reason = reason.strip()
    member.status_changed_at = timezone.now()
    member.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    MemberEvent.objects.create(
        member=member,
        kind=MemberEvent.Kind.STATUS_CHANGED,
        detail={"from": previous, "to": to, "reason": member.status_reason},
        actor=_user(actor),
    )
    _member_event_publish("member.updated", member, fields=["status"], previous_status=previous)
    return member


@transaction.atomic
def member_suspend(*, member: Member, reason: str, actor: Any = None) -> Member:
    return _status_change(member=member, to=Member.Status.SUSPENDED, reason=reason, actor=actor)


@transaction.atomic
def member_reactivate(*, member: Member, reason: str = "", actor: Any = None) -> Member:
    return _status_change(member=member, to=Member.Status.ACTIVE, reason=reason, actor=actor)


@transaction.atomic
def member_close(*, member: Member, reason: str, actor: Any = None) -> Member:
    """Close a member; every app registered through members.hooks acts in the same transaction
    (the ledger forfeits the member's live points, so the liability drops to zero)."""
    member = _status_change(member=member, to=Member.Status.CLOSED, reason=reason, actor=actor)
    for hook in hooks.CLOSE_HOOKS:
        hook(member=member, actor=actor, reason=reason)
    return member


@transaction.atomic
def member_merge(*, source: Member, target: Member, reason: str = "", actor: Any = None) -> Member:
    """Fold the duplicate `source` into `target`; returns the survivor.

    Contact data the survivor lacks is taken from the duplicate, referrals move over, every app
    registered through members.hooks moves its own rows (points, vouchers...), and the duplicate is
    closed with a pointer to the survivor. Both members get a `merged` event.
    """
    if source.pk == target.pk:
        raise ValidationError({"source": ["A member cannot be merged into itself."]})
    locked = {
        m.pk: m
        for m in Member.objects.select_for_update()
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    source, target = locked[source.pk], locked[target.pk]
    if source.erased_at or target.erased_at:
        raise MemberErased(_("An erased member cannot be merged."))
    if source.status == Member.Status.CLOSED and source.status_reason.startswith("merged into"):
        raise InvalidStatusChange(_("This member was already merged."))

    taken: list[str] = []
    moved_contact = {}
    for field in ("email", "phone", "birth_date", "street", "city", "postcode", "country"):
        if not getattr(target, field) and getattr(source, field):
            moved_contact[field] = getattr(source, field)
    for field in ("email", "phone"):
        if field in moved_contact:
            setattr(source, field, None)  # free the unique value before the survivor takes it
            taken.append(field)
    if taken:
        source.save(update_fields=[*taken, "updated_at"])
    if moved_contact:
        for field, value in moved_contact.items():
            setattr(target, field, value)
        target.save(update_fields=[*moved_contact, "updated_at"])
    if not target.home_store_id and source.home_store_id:
        target.home_store_id = source.home_store_id
        target.save(update_fields=["home_store", "updated_at"])
    referrals = (
        Member.objects.filter(referred_by=source).exclude(pk=target.pk).update(referred_by=target)
    )
    if source.referred_by_id and not target.referred_by_id and source.referred_by_id != target.pk:
        target.referred_by_id = source.referred_by_id
        target.save(update_fields=["referred_by", "updated_at"])
    for source_consent in Consent.objects.filter(member=source, granted=True):
        consent_set(
            member=target, channel=source_consent.channel, granted=True, source="merge", actor=actor
        )

    # external ids are unique across members: the duplicate's simply move to the survivor
    MemberIdentity.objects.filter(member=source).update(member=target, updated_at=timezone.now())
    moved: dict[str, Any] = {}
    for hook in hooks.MERGE_HOOKS:
        # a hook may answer a dict of what it moved or flagged; it goes into the merge event
        result = hook(source=source, target=target, actor=actor)
        if isinstance(result, dict) and result:
            moved.update(result)

    source.status = Member.Status.CLOSED
    source.status_reason = f"merged into {target.member_number}"
    source.status_changed_at = timezone.now()
    source.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
    detail = {
        "source": source.pk,
        "target": target.pk,
        "fields_taken": sorted(moved_contact),
        "referrals_moved": referrals,
        "reason": reason,
    }
    if moved:
        detail["moved"] = moved
    MemberEvent.objects.create(
        member=source, kind=MemberEvent.Kind.MERGED, detail=detail, actor=_user(actor)
    )
    MemberEvent.objects.create(
        member=target, kind=MemberEvent.Kind.MERGED, detail=detail, actor=_user(actor)
    )
    return target


@transaction.atomic
def member_erase(*, member: Member, actor: Any = None) -> Member:
    """Anonymise a member irreversibly (right to erasure).

    Personal data goes from the member, its consents' history and the admin log; amounts, ledger
    entries, transactions and KPI totals stay. The card number is retired, never reissued.
    """
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.erased_at:
        return member
    now = timezone.now()
    for field in (
        "first_name",
        "last_name",
        "full_name",
        "name_pinyin",
        "street",
        "city",
        "postcode",
        "country",
        "external_ref",
    ):
        setattr(member, field, "")
    member.email = None
    member.phone = None
    member.birth_date = None
    member.interests = []
    member.status = Member.Status.CLOSED
    member.status_reason = "erased on request"
    member.status_changed_at = now
    member.erased_at = now
    member.referral_code = _unique_value("referral_code", new_referral_code)
    member.save()
    Consent.objects.filter(member=member).update(granted=False, source="erased", changed_at=now)
    MemberIdentity.objects.filter(member=member).delete()  # ids in other systems: personal data
    ConsentEvent.objects.filter(member=member).update(source="erased")
    MemberEvent.objects.filter(member=member).update(detail={})
    # The audit trail keeps who changed what and when, but not the personal data itself: every
    # earlier version of the member (and the one just written) is blanked like the member.
    member.history.update(  # type: ignore[attr-defined]
        first_name="",
        last_name="",
        full_name="",
        name_pinyin="",
        street="",
        city="",
        postcode="",
        country="",
        external_ref="",
        email=None,
        phone=None,
        birth_date=None,
        interests=[],
        status_reason="",
        referral_code=member.referral_code,
        history_change_reason=None,
    )
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Member), object_id=str(member.pk)
    ).update(object_repr=member.member_number, change_message="[]")
    idempotency_records_forget_member(member_id=member.pk)  # stored API answers with its data
    for hook in hooks.ERASE_HOOKS:
        hook(member=member, actor=actor)
    MemberEvent.objects.create(member=member, kind=MemberEvent.Kind.ERASED, actor=_user(actor))
    # receivers holding a copy of the member's personal data should delete it now
    _member_event_publish("member.updated", member, fields=["erased"])
    return member


@transaction.atomic
def member_privacy_export(*, member: Member, actor: Any = None) -> dict[str, Any]:
    """Everything the system holds on a member, as a JSON-serialisable dict."""
    from members.selectors import member_export_data

    data = member_export_data(member=member)
    for name, section in hooks.PRIVACY_SECTIONS.items():
        data[name] = section(member)
    MemberEvent.objects.create(member=member, kind=MemberEvent.Kind.EXPORTED, actor=_user(actor))
    return data


@transaction.atomic
def store_create(*, code: str, name: str, region: str = "", active: bool = True) -> Store:
    store = Store(
        code=code.strip().upper(), name=name.strip(), region=region.strip(), active=active
    )
    store.full_clean()
    store.save()
    return store


@transaction.atomic
def members_ensure_by_ref(
    *,
    refs: dict[str, dict[str, Any]],
    channel: str = Member.Channel.IMPORT,
    enrolled_at: datetime | None = None,
) -> dict[str, Member]:
    """Members keyed by their id in a source system (external_ref), enrolled in bulk if missing.

    `refs` maps external_ref -> optional fields (country, first_name...). Returns ref -> Member.
    Used by historical imports, where thousands of customers arrive at once.
    """
    found = {m.external_ref: m for m in Member.objects.filter(external_ref__in=list(refs))}
    missing = [ref for ref in refs if ref not in found]
    if missing:
        now = timezone.now()
        numbers: set[str] = set()
        while len(numbers) < len(missing):
            numbers.add(new_member_number())
        taken = set(
            Member.objects.filter(member_number__in=numbers).values_list("member_number", flat=True)
        )
        numbers -= taken
        while len(numbers) < len(missing):
            candidate = new_member_number()
            if not Member.objects.filter(member_number=candidate).exists():
                numbers.add(candidate)
        codes: set[str] = set()
        while len(codes) < len(missing):
            codes.add(new_referral_code())
        codes -= set(
            Member.objects.filter(referral_code__in=codes).values_list("referral_code", flat=True)
        )
        while len(codes) < len(missing):
            codes.add(_unique_value("referral_code", new_referral_code))
        new_members = [
            Member(
                member_number=number,
                referral_code=code,
                external_ref=ref,
                enrolment_channel=channel,
                enrolled_at=refs[ref].get("enrolled_at") or enrolled_at or now,
                status_changed_at=now,
                country=refs[ref].get("country", ""),
                first_name=refs[ref].get("first_name", ""),
                last_name=refs[ref].get("last_name", ""),
            )
            for ref, number, code in zip(missing, sorted(numbers), sorted(codes), strict=True)
        ]
        for new_member in new_members:
            new_member.fill_name_fields()  # bulk_create does not call save()
        created = Member.objects.bulk_create(new_members)
        Consent.objects.bulk_create(
            Consent(member=m, channel=c, granted=False, changed_at=now, source=channel)
            for m in created
            for c in CONSENT_CHANNELS
        )
        MemberEvent.objects.bulk_create(
            MemberEvent(member=m, kind=MemberEvent.Kind.ENROLLED, detail={"channel": channel})
            for m in created
        )
        for member in created:
            found[member.external_ref] = member
    return found


# ------------------------------------------------------------------------------ identities


def _identity_clean(*, kind: str, value: str) -> tuple[str, str]:
    from members.identities import normalize_identity

    return normalize_identity(kind, value)


def _identity_save(identity: MemberIdentity) -> None:
    """Save, turning the unique (kind, value) taken (also by a concurrent request, caught by the
    database constraint) into DuplicateIdentity naming the member who has it."""
    existing = (
        MemberIdentity.objects.filter(kind=identity.kind, value=identity.value)
        .exclude(pk=identity.pk)
        .values_list("member_id", flat=True)
        .first()
    )
    if existing is None:
        try:
            with transaction.atomic():
                identity.save()
            return
        except IntegrityError:
            existing = (
                MemberIdentity.objects.filter(kind=identity.kind, value=identity.value)
                .values_list("member_id", flat=True)
                .first()
            )
    raise DuplicateIdentity(extra={"existing_member_id": existing, "kind": identity.kind})


def _identities_changed(member: Member, actor: Any) -> None:
    MemberEvent.objects.create(
        member=member,
        kind=MemberEvent.Kind.UPDATED,
        detail={"fields": ["identities"]},
        actor=_user(actor),
    )
    _member_event_publish("member.updated", member, fields=["identities"])


@transaction.atomic
def identity_attach(*, member: Member, kind: str, value: str, actor: Any = None) -> MemberIdentity:
    """Give `member` an external id. Attaching the id the member already has is a no-op;
    one another member has raises DuplicateIdentity (409)."""
    if member.erased_at:
        raise MemberErased()
    kind, value = _identity_clean(kind=kind, value=value)
    mine = MemberIdentity.objects.filter(member=member, kind=kind, value=value).first()
    if mine is not None:
        return mine
    identity = MemberIdentity(member=member, kind=kind, value=value)
    identity.full_clean(validate_constraints=False)  # the unique pair: _identity_save says who
    _identity_save(identity)
    _identities_changed(member, actor)
    return identity


@transaction.atomic
def identity_update(
    *, identity: MemberIdentity, kind: str, value: str, actor: Any = None
) -> MemberIdentity:
    """Correct an external id (a typo): same rules as identity_attach."""
    kind, value = _identity_clean(kind=kind, value=value)
    if (identity.kind, identity.value) == (kind, value):
        return identity
    identity.kind, identity.value = kind, value
    identity.full_clean(validate_constraints=False)
    _identity_save(identity)
    _identities_changed(identity.member, actor)
    return identity


@transaction.atomic
def identity_detach(*, identity: MemberIdentity, actor: Any = None) -> None:
    """Remove an external id from its member (the id may then be given to another member)."""
    member = identity.member
    identity.delete()
    _identities_changed(member, actor)


@transaction.atomic
def staff_language_set(*, user: Any, language: str) -> StaffProfile:
    """Save the language a staff member chose (the clerk screen's switch) in their staff
    profile, creating an unrestricted profile with no store if they have none yet (which
    changes nothing about what they may see). `language` is one of settings.LANGUAGES or ""
    (follow the browser)."""
    profile, _created = StaffProfile.objects.get_or_create(user=user)
    profile.language = language
    profile.full_clean()
    profile.save(update_fields=["language", "updated_at"])
    return profile


def staff_language_remember(sender: object, request: Any, user: Any, **kwargs: Any) -> None:
    """user_logged_in receiver: keep the staff profile's language in the session, where
    loyalty.core.middleware.StaffLocaleMiddleware reads it on every request without a query."""
    if not hasattr(request, "session"):
        return
    language = (
        StaffProfile.objects.filter(user_id=user.pk).values_list("language", flat=True).first()
    )
    if language:
        request.session[STAFF_LANGUAGE] = language
