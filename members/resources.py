"""CSV import/export of members and stores (django-import-export, the admin path).

Natural keys: member_number, else e-mail, else phone. Rows are normalised like the services do;
a bad row is reported with its number and reason and, unless the user skips bad rows, nothing is
written. Re-importing the same file changes nothing (skip_unchanged).
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from import_export import fields, resources, widgets

from loyalty.core.csvsafe import NeutraliseExportMixin
from members.admin_import import SkipBadRowsMixin
from members.identifiers import (
    is_valid_member_number,
    new_member_number,
    new_referral_code,
    normalize_email,
    normalize_phone,
)
from members.models import Member, Store

MEMBER_COLUMNS = (
    "member_number",
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


class StoreResource(NeutraliseExportMixin, resources.ModelResource):
    class Meta:
        model = Store
        fields = ("code", "name", "region", "active")
        import_id_fields = ("code",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True


class MemberResource(NeutraliseExportMixin, SkipBadRowsMixin, resources.ModelResource):
    home_store = fields.Field(
        attribute="home_store",
        column_name="home_store",
        widget=widgets.ForeignKeyWidget(Store, field="code"),
    )
    birth_date = fields.Field(
        attribute="birth_date", column_name="birth_date", widget=widgets.DateWidget("%Y-%m-%d")
    )

    class Meta:
        model = Member
        fields = MEMBER_COLUMNS
        export_order = MEMBER_COLUMNS
        import_id_fields = ("member_number",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._seen: dict[str, int] = {}

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        """Normalise the row, and refuse duplicates within the file."""
        errors: dict[str, str] = {}
        number = (row.get("member_number") or "").strip()
        if number and not is_valid_member_number(number):
            errors["member_number"] = "Not a valid card number (check digit)."
        row["member_number"] = number
        for column, normalize in (("email", normalize_email), ("phone", normalize_phone)):
            try:
                row[column] = normalize(row.get(column)) or ""
            except ValidationError as exc:
                errors[column] = exc.messages[0]
        if row.get("country"):
            row["country"] = row["country"].strip().upper()
        if not row.get("status"):
            row["status"] = Member.Status.ACTIVE
        for key in ("member_number", "email", "phone"):
            value = row.get(key)
            if value:
                seen_at = self._seen.get(f"{key}:{value}")
                if seen_at is not None and seen_at != kwargs.get("row_number"):
                    errors[key] = f"Same {key} as row {seen_at} of this file."
                self._seen.setdefault(f"{key}:{value}", kwargs.get("row_number"))
        if errors:
            raise ValidationError(errors)

    def get_instance(self, instance_loader: Any, row: Any) -> Member | None:
        number, email, phone = row.get("member_number"), row.get("email"), row.get("phone")
        if number:
            return Member.objects.filter(member_number=number).first()
        if email:
            return Member.objects.filter(email=email).first()
        if phone:
            return Member.objects.filter(phone=phone).first()
        return None

    def import_field(
        self, field: Any, instance: Any, row: Any, is_m2m: bool = False, **kwargs: Any
    ) -> None:
        # empty e-mail/phone are NULL (unique when present), never ''
        if field.attribute in ("email", "phone") and not row.get(field.column_name):
            setattr(instance, field.attribute, None)
            return
        if field.attribute == "member_number" and not row.get("member_number"):
            return
        super().import_field(field, instance, row, is_m2m=is_m2m, **kwargs)

    def before_save_instance(self, instance: Member, row: Any, **kwargs: Any) -> None:
        if not instance.pk:
            if not instance.member_number:
                instance.member_number = new_member_number()
            instance.referral_code = instance.referral_code or new_referral_code()
            instance.enrolment_channel = Member.Channel.IMPORT
            instance.enrolled_at = instance.enrolled_at or timezone.now()
            instance.status_changed_at = instance.enrolled_at

    def validate_instance(
        self, instance: Member, import_validation_errors: Any = None, validate_unique: bool = True
    ) -> None:
        if not instance.pk and not instance.member_number:
            # numbers are drawn at save time; validate with a placeholder that passes
            instance.member_number = new_member_number()
        if not instance.referral_code:
            instance.referral_code = new_referral_code()
        if not instance.enrolled_at:
            instance.enrolled_at = timezone.now()
        super().validate_instance(instance, import_validation_errors, validate_unique)
