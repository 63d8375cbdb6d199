"""CSV import/export of members and stores (django-import-export, the admin path).

Natural keys: member_number, else e-mail, else phone. Rows are normalised like the services do;
a bad row is reported with its number and reason and, unless the user skips bad rows, nothing is
written. Re-importing the same file changes nothing (skip_unchanged).
"""

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from simple_history.utils import bulk_update_with_history

from loyalty.core.bulkwrite import in_values, insert_rows, reserve_ids
from loyalty.core.csvsafe import NeutraliseExportMixin
from members.admin_import import SkipBadRowsMixin
from members.identifiers import (
    is_valid_member_number,
    new_member_number,
    new_referral_code,
    normalize_email,
    normalize_phone,
)
from members.identities import LIST_COLUMN as IDENTITY_LIST_COLUMN
from members.identities import format_identities, identities_from_row, identities_holders
from members.import_copy import referral_codes
from members.models import Member, MemberIdentity, Store
from members.names import name_fields
from members.services import members_enrolled_record, members_updated_record

IMPORT_REASON = "admin import"


MEMBER_COLUMNS = (
    "member_number",
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
    "status",
)
NOT_IMPORTED = [f.name for f in Member._meta.fields if f.name not in MEMBER_COLUMNS]
# besides the model's columns: the external ids, one kind:value list (members/identities.py);
# a column per kind (wechat, alipay, ...) is read on import too
EXPORT_COLUMNS = (*MEMBER_COLUMNS, IDENTITY_LIST_COLUMN)
IMPORT_ATTRIBUTES = tuple(c if c != "home_store" else "home_store_id" for c in MEMBER_COLUMNS)


def changed_fields(member: Member, loaded: dict[str, Any]) -> list[str]:
    """The imported attributes that differ from what was loaded, by their field names."""
    return [
        attribute.removesuffix("_id")
        for attribute in IMPORT_ATTRIBUTES
        if attribute in loaded and getattr(member, attribute) != loaded[attribute]
    ]


class StoreResource(NeutraliseExportMixin, resources.ModelResource):
    class Meta:
        model = Store
        fields = ("code", "name", "region", "active")
        import_id_fields = ("code",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True


class StoreCodeWidget(widgets.ForeignKeyWidget):
    """Store by code from one query per import (ForeignKeyWidget asks per row); an unknown
    code is a row error, not a crash."""

    def __init__(self) -> None:
        super().__init__(Store, field="code")
        self._stores: dict[str, Store] | None = None

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Store | None:
        code = (value or "").strip()
        if not code:
            return None
        if self._stores is None:
            self._stores = {store.code: store for store in Store.objects.all()}
        store = self._stores.get(code) or self._stores.get(code.upper())
        if store is None:
            raise ValueError(_("Unknown store %(code)s.") % {"code": repr(code)})
        return store


# the e-mail column's validators but the format check, which normalize_email has run
EMAIL_FIELD_VALIDATORS = [
    validator
    for validator in Member._meta.get_field("email").validators
    if not isinstance(validator, EmailValidator)
]


class MemberResource(NeutraliseExportMixin, SkipBadRowsMixin, resources.ModelResource):
    """The admin import, in bulk: members looked up once per file, validated in Python (field
    checks and unique e-mail/phone against the members loaded), written with bulk_create /
    bulk_update plus their history rows. Each row still gets its own result: new, update,
    skip (unchanged) or invalid with the field errors."""

    home_store = fields.Field(
        attribute="home_store", column_name="home_store", widget=StoreCodeWidget()
    )
    birth_date = fields.Field(
        attribute="birth_date", column_name="birth_date", widget=widgets.DateWidget("%Y-%m-%d")
    )
    identities = fields.Field(column_name=IDENTITY_LIST_COLUMN, readonly=True)

    class Meta:
        model = Member
        fields = EXPORT_COLUMNS
        export_order = EXPORT_COLUMNS
        import_id_fields = ("member_number",)
        skip_unchanged = True  # compared in skip_row below against the values loaded
        report_skipped = True
        use_transactions = True
        # Speed (issue #8): no per-row savepoint, query or deepcopy. The preview lists each row
        # with its type and errors, without the per-field diff.
        use_bulk = True
        batch_size = 1000
        skip_diff = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seen: dict[str, int | None] = {}
        # the imported attributes of each member as loaded, by pk (skip_row, changed_fields)
        self._loaded: dict[int, dict[str, Any]] = {}
        # new members whose number was drawn here, not given in the file, by id() (the
        # instances are kept, so no id is reused while the import runs)
        self._drawn: dict[int, Member] = {}
        self._by_number: dict[str, Member] = {}
        self._by_email: dict[str, Member] = {}
        self._by_phone: dict[str, Member] = {}
        self._normalized: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._user: Any = None
        self._now = timezone.now()
        self._diff_columns: list[str] | None = None
        self._import_fields: list[Any] | None = None
        self._codes: Iterator[str] = iter(())
        self._identities_held: dict[tuple[str, str], int] = {}

    def filter_export(self, queryset: Any, **kwargs: Any) -> Any:
        return queryset.prefetch_related("identities")  # one query per page, not per member

    def dehydrate_identities(self, member: Member) -> str:
        return format_identities((i.kind, i.value) for i in member.identities.all())

    def _normalize(self, column: str, value: Any) -> tuple[str | None, str | None]:
        """(normalised value, error message), memoised: the lookup and the row both need it."""
        key = (column, (value or "").strip())
        if key not in self._normalized:
            normalize = normalize_email if column == "email" else normalize_phone
            try:
                self._normalized[key] = (normalize(key[1]), None)
            except ValidationError as exc:
                self._normalized[key] = (None, exc.messages[0])
        return self._normalized[key]

    def before_import(self, dataset: Any, **kwargs: Any) -> None:
        """Load every member the file can match (by number, e-mail or phone) in a few queries."""
        super().before_import(dataset, **kwargs)
        user = kwargs.get("user")
        self._user = user if getattr(user, "is_authenticated", False) else None
        self._codes = iter(referral_codes(len(dataset)))  # one draw for the file
        headers = dataset.headers or []
        numbers: set[str] = set()
        emails: set[str] = set()
        phones: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        for values in dataset:
            row = dict(zip(headers, values, strict=False))
            with contextlib.suppress(ValidationError):  # reported per row in before_import_row
                pairs.update(identities_from_row(row))
            if number := (row.get("member_number") or "").strip():
                numbers.add(number)
            for column, found in (("email", emails), ("phone", phones)):
                if row.get(column) and (value := self._normalize(column, row[column])[0]):
                    found.add(value)
        for field, values in (("member_number", numbers), ("email", emails), ("phone", phones)):
            for members in in_values(Member.objects.all(), field, sorted(values)):
                for member in members:
                    self._remember(member)
        self._identities_held = identities_holders(pairs)

    def _remember(self, member: Member) -> None:
        self._loaded[member.pk] = {f: getattr(member, f) for f in IMPORT_ATTRIBUTES}
        self._by_number[member.member_number] = member
        if member.email:
            self._by_email[member.email] = member
        if member.phone:
            self._by_phone[member.phone] = member

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        """Normalise the row, and refuse duplicates within the file."""
        errors: dict[str, str] = {}
        number = (row.get("member_number") or "").strip()
        if number and not is_valid_member_number(number):
            errors["member_number"] = "Not a valid card number (check digit)."
        row["member_number"] = number
        for column in ("email", "phone"):
            if column not in row:  # a file without the column leaves the member's own alone
                continue
            value, error = self._normalize(column, row.get(column))
            if error:
                errors[column] = error  # the value stays as typed: the preview shows it
            else:
                row[column] = value or ""
        if row.get("country"):
            row["country"] = row["country"].strip().upper()
        known = self.get_instance(None, row)
        status = (row.get("status") or "").strip().lower()
        if not status:
            # no status in the file: a known member keeps theirs (a suspended or closed member
            # is not reactivated by a contact-details import), a new one starts active
            status = known.status if known is not None else Member.Status.ACTIVE
        elif known is not None and status != known.status:
            # suspend / reactivate / close carry a reason and an audit entry (members.services):
            # a spreadsheet column cannot give them
            errors["status"] = (
                f"This member is {known.status}; change a status on the member's page "
                "(suspend, reactivate, close), not by import."
            )
        row["status"] = status
        for key in ("member_number", "email", "phone"):
            value = row.get(key)
            if value:
                seen_at = self._seen.get(f"{key}:{value}")
                if seen_at is not None and seen_at != kwargs.get("row_number"):
                    errors[key] = f"Same {key} as row {seen_at} of this file."
                self._seen.setdefault(f"{key}:{value}", kwargs.get("row_number"))
        row["_identities"] = []
        try:
            pairs = identities_from_row(row)
        except ValidationError as exc:
            errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
            pairs = []
        for kind, value in pairs:
            seen_at = self._seen.get(f"identity:{kind}:{value}")
            if seen_at is not None and seen_at != kwargs.get("row_number"):
                errors[IDENTITY_LIST_COLUMN] = (
                    f"Same {kind} id {value} as row {seen_at} of this file."
                )
            self._seen.setdefault(f"identity:{kind}:{value}", kwargs.get("row_number"))
            holder = self._identities_held.get((kind, value))
            if holder is not None and (known is None or holder != known.pk):
                errors[IDENTITY_LIST_COLUMN] = f"Another member already has the {kind} id {value}."
            elif holder is None:
                row["_identities"].append((kind, value))
        if errors:
            raise ValidationError(errors)

    def after_import_row(self, row: Any, row_result: Any, **kwargs: Any) -> None:
        """The preview shows each row's values as imported (normalised) instead of the per-field
        diff that skip_diff leaves out."""
        super().after_import_row(row, row_result, **kwargs)
        if row_result.diff is None:
            if self._diff_columns is None:
                self._diff_columns = [f.column_name for f in self.get_import_fields()]
            row_result.diff = [row.get(column, "") or "" for column in self._diff_columns]

    def get_import_fields(self) -> list[Any]:
        """Worked out once per resource: import-export recomputes the field order for every
        row (a twentieth of a 10,000-row import); the fields do not change during an import."""
        if self._import_fields is None:
            self._import_fields = super().get_import_fields()
        return self._import_fields

    def get_instance(self, instance_loader: Any, row: Any) -> Member | None:
        number, email, phone = row.get("member_number"), row.get("email"), row.get("phone")
        if number:
            return self._by_number.get(number)
        return self._by_email.get(email) if email else self._by_phone.get(phone) if phone else None

    def import_field(
        self, field: Any, instance: Any, row: Any, is_m2m: bool = False, **kwargs: Any
    ) -> None:
        # empty e-mail/phone are NULL (unique when present), never ''; a file without the
        # column keeps what the member has (import-export then skips the field)
        if (
            field.attribute in ("email", "phone")
            and field.column_name in row
            and not row.get(field.column_name)
        ):
            setattr(instance, field.attribute, None)
            return
        if field.attribute == "member_number" and not row.get("member_number"):
            return
        super().import_field(field, instance, row, is_m2m=is_m2m, **kwargs)

    def import_instance(self, instance: Member, row: Any, **kwargs: Any) -> None:
        super().import_instance(instance, row, **kwargs)
        instance._new_identities = row.get("_identities") or []  # type: ignore[attr-defined]
        loaded = self._loaded.get(instance.pk) if instance.pk else None
        previous = (
            (loaded["first_name"], loaded["last_name"], loaded["full_name"])
            if loaded is not None
            else None
        )
        # bulk writes skip save(): the full name made from the parts follows them (one typed
        # by hand stays) and its pinyin key, as Member.save and member_update do
        instance.full_name, instance.name_pinyin = name_fields(
            given=instance.first_name,
            family=instance.last_name,
            full_name=instance.full_name,
            previous=previous,
        )

    def get_bulk_update_fields(self) -> list[str]:
        columns = [f for f in super().get_bulk_update_fields() if f != "identities"]
        return [*columns, "name_pinyin"]  # the ids are rows of their own (_write_identities)

    def skip_row(
        self, instance: Member, original: Any, row: Any, import_validation_errors: Any = None
    ) -> bool:
        """Unchanged: every imported attribute equals what was loaded (no deepcopy needed) and
        the row gives no new external id."""
        loaded = self._loaded.get(instance.pk) if instance.pk else None
        if import_validation_errors or loaded is None or getattr(instance, "_new_identities", []):
            return False
        return all(getattr(instance, f) == loaded[f] for f in IMPORT_ATTRIBUTES)

    def _write_identities(self, members: list[Member]) -> None:
        MemberIdentity.objects.bulk_create(
            MemberIdentity(
                member_id=m.pk, kind=kind, value=value, created_at=self._now, updated_at=self._now
            )
            for m in members
            for kind, value in getattr(m, "_new_identities", [])
        )

    def validate_instance(
        self, instance: Member, import_validation_errors: Any = None, validate_unique: bool = True
    ) -> None:
        """Field checks in Python; uniqueness against the members loaded in before_import (no
        query per row: full_clean's unique and constraint checks are one query each)."""
        errors = dict(import_validation_errors or {})
        if not instance.pk and not instance.member_number:
            # drawn here; a clash with an existing number is drawn again at save time
            instance.member_number = new_member_number()
            self._drawn[id(instance)] = instance
        if not instance.referral_code:
            instance.referral_code = next(self._codes, None) or new_referral_code()
        if not instance.enrolled_at:
            instance.enrolled_at = self._now
        try:
            # only the columns a file can set (the others are ours); home_store comes from
            # StoreCodeWidget's cache, and ForeignKey.validate would query
            # the e-mail passed Django's EmailValidator when before_import_row normalised it:
            # its other validators (the length) run below, not that one a second time
            instance.full_clean(
                exclude=[*errors, *NOT_IMPORTED, "home_store", "email"],
                validate_unique=False,
                validate_constraints=False,
            )
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if "email" not in errors and instance.email:
            try:
                for validator in EMAIL_FIELD_VALIDATORS:
                    validator(instance.email)
            except ValidationError as exc:
                errors["email"] = exc.messages
        for field, index, label in (
            ("email", self._by_email, "e-mail"),
            ("phone", self._by_phone, "phone number"),
        ):
            other = index.get(getattr(instance, field) or "")
            if other is not None and other is not instance and field not in errors:
                errors[field] = [f"Another member already has this {label}."]
        if errors:
            raise ValidationError(errors)

    def before_save_instance(self, instance: Member, row: Any, **kwargs: Any) -> None:
        instance.updated_at = self._now  # bulk_update does not apply auto_now
        if not instance.pk:
            instance.created_at = self._now
            instance.enrolment_channel = Member.Channel.IMPORT
            instance.status_changed_at = instance.enrolled_at

    def _redraw_taken(self) -> None:
        """New members' drawn numbers/codes that exist already are drawn again (was: one
        query per row in full_clean)."""
        for field, draw in (
            ("member_number", new_member_number),
            ("referral_code", new_referral_code),
        ):
            for _attempt in range(20):
                values = [getattr(m, field) for m in self.create_instances]
                taken = set()
                for members in in_values(Member.objects.all(), field, values):
                    taken |= set(members.values_list(field, flat=True))
                clashes = [m for m in self.create_instances if getattr(m, field) in taken]
                if field == "referral_code":  # two new rows may draw the same code
                    seen: set[str] = set()
                    for m in self.create_instances:
                        if m.referral_code in seen:
                            clashes.append(m)
                        seen.add(m.referral_code)
                if field == "member_number":  # a number given in the file is never changed
                    clashes = [m for m in clashes if id(m) in self._drawn]
                if not clashes:
                    break
                for member in clashes:
                    setattr(member, field, draw())

    def bulk_create(
        self,
        using_transactions: bool,
        dry_run: bool,
        raise_errors: bool,
        batch_size: int | None = None,
        result: Any = None,
    ) -> None:
        if self.create_instances and (using_transactions or not dry_run):
            try:
                # a drawn number or code that is taken (rare) fails on the unique index: only
                # then are they looked up and drawn again
                try:
                    with transaction.atomic():
                        self._insert_with_history(self.create_instances)
                except (IntegrityError, psycopg.IntegrityError):  # COPY raises psycopg's own
                    self._redraw_taken()
                    self._insert_with_history(self.create_instances)
                for member in self.create_instances:
                    self._remember(member)
                self._write_identities(self.create_instances)
                # what member_enroll records besides the row, for the batch at once: consent
                # rows, the enrolment event, the starting tier, the member.enrolled webhooks
                members_enrolled_record(
                    members=self.create_instances, channel=Member.Channel.IMPORT, actor=self._user
                )
            except Exception as exc:
                self.handle_import_error(result, exc, raise_errors)
            finally:
                self.create_instances.clear()

    def _insert_with_history(self, members: list[Member]) -> None:
        """What bulk_create_with_history writes, via COPY on PostgreSQL (loyalty.core.bulkwrite):
        ids reserved first, then the member rows and their '+' history rows from the same
        values; the ORM's per-value preparation was most of the admin import's time."""
        for member, pk in zip(members, reserve_ids(Member, len(members)), strict=True):
            member.pk = pk
            member._state.adding = False
            member._state.db = "default"
        fields = Member._meta.concrete_fields
        values = [[getattr(m, f.attname) for f in fields] for m in members]
        columns = [f.column for f in fields]
        insert_rows(Member, columns, values)
        user_id = self._user.pk if self._user is not None else None
        tail = [self._now, IMPORT_REASON, "+", user_id]
        insert_rows(
            Member.history.model,
            [*columns, "history_date", "history_change_reason", "history_type", "history_user_id"],
            ([*row, *tail] for row in values),
        )

    def bulk_update(
        self,
        using_transactions: bool,
        dry_run: bool,
        raise_errors: bool,
        batch_size: int | None = None,
        result: Any = None,
    ) -> None:
        if self.update_instances and (using_transactions or not dry_run):
            try:
                bulk_update_with_history(
                    self.update_instances,
                    Member,
                    [*self.get_bulk_update_fields(), "updated_at"],
                    batch_size=batch_size,
                    default_user=self._user,
                    default_change_reason=IMPORT_REASON,
                )
                self._write_identities(self.update_instances)
                members_updated_record(
                    changes=[
                        (
                            m,
                            changed_fields(m, self._loaded.get(m.pk, {}))
                            + (["identities"] if getattr(m, "_new_identities", []) else []),
                        )
                        for m in self.update_instances
                    ],
                    actor=self._user,
                )
            except Exception as exc:
                self.handle_import_error(result, exc, raise_errors)
            finally:
                self.update_instances.clear()
