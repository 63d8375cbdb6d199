"""Members and stores.

Invariants:
- member_number is unique, numeric, and ends with a Luhn check digit (a mistyped card is caught);
- e-mail (normalised: trimmed, domain case-folded) is unique when present;
- phone (normalised to E.164) is unique when present;
- referral_code is unique;
- status is one of the choices; the reason and time of the last change are kept;
- a member row is never deleted once it has history: erasure anonymises it instead.
"""

from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from loyalty.core.formatting import format_day
from loyalty.core.models import BaseModel
from members.names import (
    FULL_NAME_MAX_LENGTH,
    PINYIN_MAX_LENGTH,
    compose_full_name,
    member_display_name,
    name_pinyin,
)

BIRTH_DATE_MIN = date(1900, 1, 1)


class Store(BaseModel):
    code = models.CharField(max_length=20, unique=True, verbose_name=_("code"))
    name = models.CharField(max_length=120, verbose_name=_("name"))
    region = models.CharField(max_length=80, blank=True, verbose_name=_("region"))
    active = models.BooleanField(default=True, verbose_name=_("active"))

    history = HistoricalRecords()  # audit trail: who changed what, when

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]
        permissions = [("import_store", "Can import stores"), ("export_store", "Can export stores")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Member(BaseModel):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    class Channel(models.TextChoices):
        STORE = "store", _("Store")
        WEB = "web", _("Web")
        APP = "app", _("App")
        IMPORT = "import", _("Import")
        API = "api", _("API")

    member_number = models.CharField(max_length=20, unique=True, verbose_name=_("member number"))
    # first_name / last_name keep their names (API, CSV, messages) and hold the given and family
    # parts of the name; full_name is the whole name, composed from them when not given
    # (members/names.py), and name_pinyin its search key for a name in Chinese characters.
    first_name = models.CharField(
        _("given name"),
        max_length=100,
        blank=True,
        help_text=_("Optional, e.g. Anna or 小明."),
    )
    last_name = models.CharField(
        _("family name"),
        max_length=100,
        blank=True,
        help_text=_("Optional, e.g. Smith or 王."),
    )
    full_name = models.CharField(
        _("full name"),
        max_length=FULL_NAME_MAX_LENGTH,
        blank=True,
        help_text=_(
            "The whole name as the member writes it, e.g. Anna Smith or 王小明. Left empty, it "
            "is made from the given and family names (family name first for Chinese names)."
        ),
    )
    name_pinyin = models.CharField(
        _("name in pinyin"),
        max_length=PINYIN_MAX_LENGTH,
        blank=True,
        editable=False,
        help_text=_("Search key of a Chinese name, e.g. WANGXIAOMING for 王小明; set on save."),
    )
    email = models.EmailField(max_length=254, null=True, blank=True, verbose_name=_("email"))
    phone = models.CharField(
        max_length=20, null=True, blank=True, help_text="E.164", verbose_name=_("phone")
    )
    birth_date = models.DateField(null=True, blank=True, verbose_name=_("birth date"))
    street = models.CharField(max_length=200, blank=True, verbose_name=_("street"))
    city = models.CharField(max_length=100, blank=True, verbose_name=_("city"))
    postcode = models.CharField(max_length=20, blank=True, verbose_name=_("postcode"))
    country = models.CharField(
        max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2"), verbose_name=_("country")
    )
    home_store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("home store"),
    )
    enrolment_channel = models.CharField(
        max_length=10,
        choices=Channel.choices,
        default=Channel.STORE,
        verbose_name=_("enrolment channel"),
    )
    enrolled_at = models.DateTimeField(verbose_name=_("enrolled at"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status")
    )
    status_reason = models.CharField(max_length=255, blank=True, verbose_name=_("status reason"))
    status_changed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("status changed at")
    )
    referral_code = models.CharField(max_length=12, unique=True, verbose_name=_("referral code"))
    referred_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
        verbose_name=_("referred by"),
    )
    interests = models.JSONField(default=list, blank=True, verbose_name=_("interests"))
    external_ref = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("Id of the customer in the source system (imports)"),
        verbose_name=_("external ref"),
    )
    erased_at = models.DateTimeField(null=True, blank=True, verbose_name=_("erased at"))

    history = HistoricalRecords()  # audit trail: who changed what, when

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-enrolled_at", "-id"]
        permissions = [
            ("import_member", "Can import members"),
            ("export_member", "Can export members and their personal data"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=Q(email__isnull=False),
                name="members_member_email_unique",
            ),
            models.UniqueConstraint(
                fields=["phone"],
                condition=Q(phone__isnull=False),
                name="members_member_phone_unique",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended", "closed"]),
                name="members_member_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(enrolment_channel__in=["store", "web", "app", "import", "api"]),
                name="members_member_channel_valid",
            ),
            models.CheckConstraint(
                condition=~Q(email=""), name="members_member_email_null_not_blank"
            ),
            models.CheckConstraint(
                condition=~Q(phone=""), name="members_member_phone_null_not_blank"
            ),
        ]
        indexes = [
            models.Index(fields=["home_store", "status"], name="members_member_store_idx"),
            models.Index(fields=["external_ref"], name="members_member_extref_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.member_number} {self.display_name}".strip()

    def clean(self) -> None:
        from members.identifiers import is_valid_member_number

        if self.member_number and not is_valid_member_number(self.member_number):
            raise ValidationError({"member_number": _("Not a valid card number (check digit).")})
        # a list of short tags (as the API takes them); NaN or an object from the admin's JSON
        # box would otherwise reach the database (SQLite's JSON check, PostgreSQL's jsonb: 500)
        if not isinstance(self.interests, list) or not all(
            isinstance(tag, str) and 0 < len(tag) <= 40 for tag in self.interests
        ):
            raise ValidationError(
                {"interests": _('A list of short texts, e.g. ["running", "coffee"].')}
            )
        # the same range as the CSV import: a typo (2999, 1800) is refused, not stored
        if self.birth_date and not BIRTH_DATE_MIN <= self.birth_date <= timezone.localdate():
            raise ValidationError(
                {"birth_date": _("Birth date out of range (from 1900-01-01 to today).")}
            )

    def fill_name_fields(self) -> None:
        """Derived name columns: the full name when blank (from the parts) and its pinyin key.
        Called by save() and by every bulk path that writes members without it (imports)."""
        if not (self.full_name or "").strip():
            self.full_name = compose_full_name(self.first_name, self.last_name)
        self.full_name = self.full_name.strip()
        self.name_pinyin = name_pinyin(self.full_name)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Derived search keys, not business logic: computed here so that every writer (services,
        # admin, factories) stores them alike; bulk writers call fill_name_fields themselves.
        self.fill_name_fields()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"first_name", "last_name", "full_name"} & set(
            update_fields
        ):
            kwargs["update_fields"] = {*update_fields, "full_name", "name_pinyin"}
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        """The name in the order the active language expects (members/names.py)."""
        return member_display_name(self)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class MemberIdentity(BaseModel):
    """An id the member has in another system: a web-shop account, a WeChat or Alipay user id,
    a partner's card. Each (kind, value) belongs to one member; any of them finds the member at
    the till and in the API like the card number does."""

    class Kind(models.TextChoices):
        WEB_SHOP = "web_shop", _("Web-shop account")
        WECHAT = "wechat", _("WeChat")
        ALIPAY = "alipay", _("Alipay")
        PARTNER_CARD = "partner_card", _("Partner card")
        OTHER = "other", _("Other")

    member = models.ForeignKey(
        Member,
        on_delete=models.CASCADE,
        related_name="identities",
        verbose_name=_("member"),
    )
    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=Kind.choices,
        help_text=_("Which system the id comes from, e.g. WeChat."),
    )
    value = models.CharField(
        _("id"),
        max_length=128,
        help_text=_(
            "The member's id in that system, exactly as it gives it, e.g. a WeChat OpenID "
            "(o6_bmjrPTlm6_2sgVt7hMZOPfL2M) or a partner card number."
        ),
    )

    class Meta:
        ordering = ["kind", "value"]
        verbose_name = _("external id")
        verbose_name_plural = _("external ids")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "value"],
                name="members_memberidentity_kind_value_unique",
                violation_error_message=_("Another member already has this id."),
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["web_shop", "wechat", "alipay", "partner_card", "other"]),
                name="members_memberidentity_kind_valid",
            ),
            models.CheckConstraint(
                condition=~Q(value=""), name="members_memberidentity_value_not_blank"
            ),
        ]
        indexes = [models.Index(fields=["value"], name="members_identity_value_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class Consent(BaseModel):
    """Current marketing consent per member and channel; every change is a ConsentEvent."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")
        PUSH = "push", _("Push")

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="consents", verbose_name=_("member")
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, verbose_name=_("channel"))
    granted = models.BooleanField(default=False, verbose_name=_("granted"))
    changed_at = models.DateTimeField(verbose_name=_("changed at"))
    source = models.CharField(
        max_length=40,
        help_text=_("How it was given: store, web, app, api..."),
        verbose_name=_("source"),
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "channel"], name="members_consent_one_per_channel"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms", "push"]),
                name="members_consent_channel_valid",
            ),
        ]
        verbose_name = _("marketing consent")
        verbose_name_plural = _("marketing consents")

    def __str__(self) -> str:
        state = _("given") if self.granted else _("not given")
        return f"{self.get_channel_display()}: {state}"


class ConsentEvent(BaseModel):
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="consent_events", verbose_name=_("member")
    )
    channel = models.CharField(
        max_length=10, choices=Consent.Channel.choices, verbose_name=_("channel")
    )
    granted = models.BooleanField(verbose_name=_("granted"))
    source = models.CharField(max_length=40, verbose_name=_("source"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=["email", "sms", "push"]),
                name="members_consentevent_channel_valid",
            ),
        ]
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")

    def __str__(self) -> str:
        state = _("given") if self.granted else _("withdrawn")
        return f"{self.get_channel_display()} {state} ({self.source})"


class MemberEvent(BaseModel):
    """Audit trail of a member's life: enrolment, status changes, merges, erasure."""

    class Kind(models.TextChoices):
        ENROLLED = "enrolled", _("Enrolled")
        UPDATED = "updated", _("Updated")
        STATUS_CHANGED = "status_changed", _("Status changed")
        MERGED = "merged", _("Merged")
        ERASED = "erased", _("Erased")
        EXPORTED = "exported", _("Data exported")

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="events", verbose_name=_("member")
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("kind"))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("detail"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "enrolled",
                        "updated",
                        "status_changed",
                        "merged",
                        "erased",
                        "exported",
                    ]
                ),
                name="members_memberevent_kind_valid",
            ),
        ]
        verbose_name = _("member history entry")
        verbose_name_plural = _("member history")

    def __str__(self) -> str:
        if not self.created_at:
            return ""
        # "Enrolled 3 Dec 2026": the staff member's language, the programme's time zone
        return f"{self.get_kind_display()} {format_day(self.created_at)}"

    def describe(self) -> str:
        """The detail in words for staff ("status: active → suspended (fraud check)")."""
        d = self.detail if isinstance(self.detail, dict) else {}
        if self.kind == self.Kind.ENROLLED:
            return _("via %(channel)s") % {"channel": d.get("channel") or "?"} if d else ""
        if self.kind == self.Kind.UPDATED and d.get("fields"):
            fields = d["fields"]
            names = fields.keys() if isinstance(fields, dict) else fields
            labels = [_field_label(Member, str(name)) for name in names]
            return _("changed: %(fields)s") % {"fields": ", ".join(labels)}
        if self.kind == self.Kind.STATUS_CHANGED and d:
            text = f"{d.get('from', '?')} → {d.get('to', '?')}"
            return f"{text} ({d['reason']})" if d.get("reason") else text
        if self.kind == self.Kind.MERGED and d:
            text = _("member %(source)s merged into member %(target)s") % {
                "source": d.get("source"),
                "target": d.get("target"),
            }
            return f"{text} ({d['reason']})" if d.get("reason") else text
        return ", ".join(f"{_field_label(Member, str(k))}: {v}" for k, v in d.items())


def _field_label(model: type[models.Model], name: str) -> str:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a field that no longer exists: its stored name is the best label
        return name.replace("_", " ")
    if isinstance(field, models.Field):
        return str(field.verbose_name)
    return name.replace("_", " ")  # a reverse relation has no verbose name of its own


class StaffProfile(BaseModel):
    """Ties a staff user to a store: the till they work at and, when restricted, the only
    store whose members they may see (admin member list, clerk screen); and the language their
    screens are shown in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_profile",
        verbose_name=_("user"),
    )
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff_profiles",
        verbose_name=_("store"),
    )
    restricted_to_store = models.BooleanField(
        default=False,
        verbose_name=_("restricted to store"),
        help_text=_("Only members whose home store is this store are visible to this user."),
    )
    language = models.CharField(
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        verbose_name=_("language"),
        help_text=_(
            "The language of the admin and the clerk screen for this user, from their next "
            "login on. Empty: the language their browser asks for."
        ),
    )

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")
        permissions = [("use_clerk_screen", "Can use the clerk screen")]
        constraints = [
            # A restriction without a store would hide every member: say so instead.
            models.CheckConstraint(
                condition=Q(restricted_to_store=False) | Q(store__isnull=False),
                name="members_staffprofile_restricted_needs_store",
            ),
            models.CheckConstraint(
                condition=Q(language__in=["", *(code for code, _name in settings.LANGUAGES)]),
                name="members_staffprofile_language_valid",
            ),
        ]

    def __str__(self) -> str:
        return _("%(user)s @ %(store)s") % {
            "user": self.user,
            "store": self.store or _("all stores"),
        }

    def clean(self) -> None:
        if self.restricted_to_store and self.store_id is None:
            raise ValidationError({"store": _("Choose the store this user is restricted to.")})
