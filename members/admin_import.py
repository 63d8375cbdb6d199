"""Admin import of members: optional 'skip bad rows', with the skipped rows downloadable.

By default a file with any bad row cannot be confirmed (nothing is written). With "skip bad rows"
ticked, bad rows are reported as skipped, the good ones can be confirmed, and the skipped rows
(with their row number and reason) are offered as a CSV download.

The form is kept after an error: a file that was read is kept in import-export's temporary
storage and named by a signed token in the form (for this user, a few hours), so submitting the
form again (format chosen, "skip bad rows" ticked) uses it without choosing it again; choosing
another file replaces it.
"""

import csv
import io
import os
import uuid
from typing import TYPE_CHECKING, Any

from django import forms
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.fields import Field
from import_export.forms import ConfirmImportForm
from import_export.results import RowResult
from unfold.contrib.import_export.forms import ImportForm

from loyalty.core.csvsafe import neutralise

SESSION_KEY = "members_import_skipped"
KEPT_SALT = "members.import.kept-file"
KEPT_MAX_AGE = 6 * 3600  # seconds a kept file can be used again


class MemberImportForm(ImportForm):
    skip_bad_rows = forms.BooleanField(
        required=False,
        label=_("Skip bad rows"),
        help_text=_(
            "Import the good rows and download the bad ones, instead of refusing the file."
        ),
    )
    kept_file = forms.CharField(required=False, widget=forms.HiddenInput())

    def __init__(self, formats: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(formats, *args, **kwargs)
        self._formats = list(formats)

    def clean(self) -> dict[str, Any]:
        """A header naming a column twice is refused before any row is read: which of the two
        values would be meant cannot be known (the import would silently keep one)."""
        data = super().clean()
        upload, choice = data.get("import_file"), data.get("format")
        if upload is None or choice in (None, ""):
            return data
        try:
            file_format = self._formats[int(choice)]()
        except (ValueError, IndexError):
            return data
        if file_format.get_title().lower() not in ("csv", "tsv"):
            return data
        duplicates = duplicated_columns(upload, "\t" if file_format.get_title() == "tsv" else ",")
        if duplicates:
            self.add_error(
                "import_file",
                ngettext(
                    "The column %(names)s appears more than once in the header. Keep one and "
                    "upload the file again.",
                    "The columns %(names)s appear more than once in the header. Keep one of "
                    "each and upload the file again.",
                    len(duplicates),
                )
                % {"names": ", ".join(f"“{name}”" for name in duplicates)},
            )
        return data


def duplicated_columns(upload: Any, delimiter: str) -> list[str]:
    """Column names given twice in the file's first line (trimmed, case ignored)."""
    upload.seek(0)
    first = upload.readline(1 << 20)
    upload.seek(0)
    text = first.decode("utf-8-sig", errors="replace") if isinstance(first, bytes) else first
    header = next(csv.reader([text], delimiter=delimiter), [])
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for name in header:
        key = name.strip().lower()
        if not key:
            continue
        if key in seen and seen[key] not in duplicates:
            duplicates.append(seen[key])
        seen.setdefault(key, name.strip())
    return duplicates


class MemberConfirmImportForm(ConfirmImportForm):
    skip_bad_rows = forms.BooleanField(required=False, widget=forms.HiddenInput())


class SkipBadRowsMixin:
    """Resource side: with skip_bad_rows, an invalid row becomes a skipped row, remembered."""

    if TYPE_CHECKING:  # given by the import-export Resource this is mixed into

        def get_import_fields(self) -> list[Field]: ...

    def __init__(self, *args: Any, skip_bad_rows: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skip_bad_rows = skip_bad_rows
        self.skipped_rows: list[dict[str, Any]] = []

    def import_data(self, *args: Any, **kwargs: Any) -> Any:
        result = super().import_data(*args, **kwargs)  # type: ignore[misc]
        result._skipped_bad_rows = self.skipped_rows  # read by the admin to offer the download
        return result

    def import_row(self, row: Any, instance_loader: Any, **kwargs: Any) -> RowResult:
        result = super().import_row(row, instance_loader, **kwargs)  # type: ignore[misc]
        if self.skip_bad_rows and result.import_type == RowResult.IMPORT_TYPE_INVALID:
            error = result.validation_error
            reasons = (
                "; ".join(
                    f"{field}: {', '.join(msgs)}" for field, msgs in error.message_dict.items()
                )
                if hasattr(error, "error_dict")
                else "; ".join(error.messages)
            )
            self.skipped_rows.append(
                {"row": kwargs.get("row_number"), "reason": reasons, **dict(row)}
            )
            result.import_type = RowResult.IMPORT_TYPE_SKIP
            result.validation_error = None
            result.skip_reason = reasons  # shown on the row in the preview
            if result.diff is None:  # the values as typed, in the preview's columns
                result.diff = [row.get(f.column_name, "") or "" for f in self.get_import_fields()]
        elif result.import_type == RowResult.IMPORT_TYPE_SKIP:
            result.unchanged = True  # skip_unchanged: the member already holds these values
        return result


class SkipBadRowsAdminMixin:
    """Admin side: pass the option through preview and confirm; serve the skipped rows."""

    import_form_class = MemberImportForm
    confirm_form_class = MemberConfirmImportForm

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.get("form")
        resource_kwargs = super().get_import_resource_kwargs(request, **kwargs)  # type: ignore[misc]
        if form is not None and getattr(form, "cleaned_data", None):
            resource_kwargs["skip_bad_rows"] = bool(form.cleaned_data.get("skip_bad_rows"))
        return resource_kwargs

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)  # type: ignore[misc]
        if import_form is not None:
            initial["skip_bad_rows"] = bool(import_form.cleaned_data.get("skip_bad_rows"))
        return initial

    def import_action(self, request: HttpRequest, **kwargs: Any) -> Any:
        """After a preview with bad rows, the uploaded file is kept (import-export stored it):
        the page offers to import its good rows and skip the bad ones without choosing the file
        again (the retry form), besides uploading a corrected file. After any error the
        import form itself keeps the file too (keep_upload)."""
        self.restore_kept_upload(request)
        response = super().import_action(request, **kwargs)  # type: ignore[misc]
        context = getattr(response, "context_data", None)
        if context is None or context.get("confirm_form") is not None:
            return response
        result, form = context.get("result"), context.get("form")
        self.keep_upload(request, form)
        upload = getattr(form, "cleaned_data", {}).get("import_file") if form else None
        if (
            result is not None
            and result.has_validation_errors()
            and not result.has_errors()
            and getattr(upload, "tmp_storage_name", None)
        ):
            retry = self.create_confirm_form(request, import_form=form)  # type: ignore[attr-defined]
            retry.initial["skip_bad_rows"] = True
            context["retry_form"] = retry
        return response

    def restore_kept_upload(self, request: HttpRequest) -> None:
        """Before the form is read: a re-submit that names a kept file and chooses none gets
        the kept file back as its upload (a bad or foreign token is ignored: the form then
        asks for a file as usual)."""
        token = request.POST.get("kept_file") if request.method == "POST" else None
        if not token or request.FILES.get("import_file"):
            return
        try:
            kept = signing.loads(token, salt=KEPT_SALT, max_age=KEPT_MAX_AGE)
        except signing.BadSignature:
            return
        if not isinstance(kept, dict) or kept.get("user") != request.user.pk:
            return
        storage = self.get_tmp_storage_class()(  # type: ignore[attr-defined]
            name=os.path.basename(str(kept.get("name", ""))),
            read_mode="rb",
            **self.get_tmp_storage_class_kwargs(),  # type: ignore[attr-defined]
        )
        try:
            data = storage.read()
            storage.remove()  # used once: a further error keeps a fresh copy
        except (OSError, TypeError, ValueError):
            return
        if isinstance(data, str):
            data = data.encode("utf-8")
        request.FILES["import_file"] = SimpleUploadedFile(str(kept.get("original", "")), data)

    def keep_upload(self, request: HttpRequest, form: Any) -> None:
        """After an error: keep the file that was read and say so on its field, so the form
        can be submitted again without choosing it (not when the file itself was refused)."""
        if form is None or not form.is_bound or form.errors.get("import_file"):
            return
        upload = getattr(form, "cleaned_data", {}).get("import_file")
        if upload is None:
            return
        upload.seek(0)
        data = upload.read()
        storage = self.get_tmp_storage_class()(  # type: ignore[attr-defined]
            read_mode="rb",
            **self.get_tmp_storage_class_kwargs(),  # type: ignore[attr-defined]
        )
        storage.save(data)
        token = signing.dumps(
            {
                "name": os.path.basename(storage.name),
                "original": upload.name,
                "user": request.user.pk,
            },
            salt=KEPT_SALT,
        )
        form.data = form.data.copy()
        form.data["kept_file"] = token
        field = form.fields["import_file"]
        field.required = False
        field.help_text = _(
            "Kept from your last try: %(name)s. Submit again to use it, or choose a corrected "
            "file to replace it."
        ) % {"name": upload.name}
        form["import_file"].help_text = field.help_text  # the form caches its bound fields

    def remember_skipped(self, request: HttpRequest, rows: list[dict[str, Any]]) -> str:
        token = uuid.uuid4().hex
        request.session[SESSION_KEY] = {"token": token, "rows": rows[:10_000]}
        return token

    def skipped_rows_view(self, request: HttpRequest, token: str) -> HttpResponse:
        stored = request.session.get(SESSION_KEY) or {}
        if stored.get("token") != token:
            return HttpResponse("These skipped rows are no longer available.", status=404)
        rows = stored["rows"]
        buffer = io.StringIO()
        columns = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: neutralise(v) for k, v in row.items()} for row in rows)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="skipped-rows.csv"'
        return response
