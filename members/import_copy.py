"""The PostgreSQL path of the bulk member import: COPY into a staging table, then set-based SQL.

Same contract as MemberImporter (members/importing.py, the path SQLite keeps): the same row
checks (clean_row) and the same row-by-row error report, rows matched by member number, else
e-mail, else phone, a row whose e-mail or phone belongs to another member refused, unchanged rows
left alone, history rows written with the reason "bulk import", three consent rows per new
member, and nothing written when a row is bad unless skip_bad_rows.

How it is faster:
- Python only parses and normalises (phone numbers need `phonenumbers`, which SQL cannot do) and
  COPYs the cleaned rows into a temporary table; an identifier already stored on a member is
  already normalised (every write path normalises it), so one indexed query per batch lets
  clean_row skip phonenumbers/validate_email for those: that is what makes a re-import cheap.
- Matching, conflicts, change detection, inserts, updates, history and consents are a handful
  of INSERT ... SELECT / UPDATE ... FROM statements over the whole file; an unchanged member is
  never written.

Matching is against the members as they were before the import (the ORM path does the same per
batch of 2000); rows can't depend on each other anyway, since a key repeated in the file is an
error.
"""

import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from members.identifiers import (
    REFERRAL_ALPHABET,
    REFERRAL_CODE_LENGTH,
    luhn_check_digit,
    phone_region_pinned,
)
from members.identities import identities_holders
from members.importing import (
    IDENTITY_LIST_COLUMN,
    IMPORT_REASON,
    PROFILE,
    ImportReport,
    MemberImporter,
    RowError,
    clean_row,
)
from members.models import Consent, Member, MemberIdentity
from members.names import name_fields
from members.services import (
    consent_events_record,
    members_enrolled_record,
    members_updated_record,
)


class Enrolled(NamedTuple):
    """A member the SQL wrote, as the bulk event recorders read it."""

    id: int
    member_number: str
    status: str
    home_store_id: int | None
    enrolled_at: datetime


STAGE = "member_import_stage"
RESOLVED = "member_import_resolved"
NEW = "member_import_new"
# stage columns after row_number, in the order rows are written (PROFILE fields: NULL = not given)
STAGE_COLUMNS = (
    "member_number",
    *PROFILE,
    "email_consent",
    "sms_consent",
    "new_number",
    "referral_code",
    "new_full_name",
    "new_name_pinyin",
    "raw",
)
# 32 letters, so byte % 32 is unbiased
_CODE_TABLE = bytes(ord(REFERRAL_ALPHABET[b % len(REFERRAL_ALPHABET)]) for b in range(256))
assert len(REFERRAL_ALPHABET) == 32


def referral_codes(count: int) -> list[str]:
    """`count` codes like new_referral_code(), from one draw of the OS random source."""
    size = REFERRAL_CODE_LENGTH
    text = secrets.token_bytes(count * size).translate(_CODE_TABLE).decode()
    return [text[i : i + size] for i in range(0, count * size, size)]


def member_number() -> str:
    """Like new_member_number() (9 digits, the first 1-9, then the Luhn digit), one draw."""
    payload = str(100_000_000 + secrets.randbelow(900_000_000))
    return payload + luhn_check_digit(payload)


def _column(name: str) -> str:
    field = Member._meta.get_field(name)
    assert isinstance(field, models.Field)  # PROFILE names the member's own columns
    return field.column


class CopyMemberImporter(MemberImporter):
    """MemberImporter's contract on PostgreSQL, via COPY and set-based SQL."""

    def run(self, rows: Iterator[tuple[int, dict[str, str]]], progress: Any = None) -> ImportReport:
        self.now = timezone.now()
        self.raw_keys: list[str] | None = None
        self.identities: dict[int, list[tuple[str, str]]] = {}  # row number -> its ids
        self.identity_only: list[int] = []  # members whose only change is a new id
        with (
            phone_region_pinned(),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            self.cursor = cursor
            self._create_stage()
            batch: list[tuple[int, dict[str, str]]] = []
            for number, raw in rows:
                self.report.rows += 1
                batch.append((number, raw))
                if len(batch) >= self.batch_size:
                    self._stage(batch, progress)
                    batch = []
            if batch:
                self._stage(batch, progress)
            self._resolve()
            failed = bool(self.report.errors) and not self.skip_bad_rows
            if not failed and not self.dry_run:
                self._write_staged()
                self.report.written = True
            else:
                transaction.set_rollback(True)
        self.report.errors.sort(key=lambda e: e.row_number)  # stable: a row's fields keep order
        return self.report

    # ------------------------------------------------------------------------------ staging
    def _create_stage(self) -> None:
        # ON COMMIT DROP cleans up; a caller's enclosing transaction (tests) may not have ended
        self.cursor.execute(f"DROP TABLE IF EXISTS {STAGE}, {RESOLVED}, {NEW}")
        self.cursor.execute(
            f"""CREATE TEMP TABLE {STAGE} (
                row_number integer PRIMARY KEY,
                member_number text, full_name text, first_name text, last_name text,
                email text, phone text,
                birth_date date, street text, city text, postcode text, country text,
                home_store_id bigint, external_ref text, email_consent boolean,
                sms_consent boolean, new_number text, referral_code text,
                new_full_name text, new_name_pinyin text, raw text[]
            ) ON COMMIT DROP"""
        )

    def _known(self, batch: list[tuple[int, dict[str, str]]]) -> tuple[set[str], set[str]]:
        """E-mails and phones of the batch, as written, that a member already has.

        Only a shortcut (an unknown value is normalised in full), so a fresh file does not pay
        for it: a sample of the batch is looked up first, the whole batch only on a hit."""
        emails = [v for _, raw in batch if (v := raw.get("email", "").strip())]
        phones = [v for _, raw in batch if (v := raw.get("phone", "").strip())]
        sql = "SELECT email, phone FROM members_member WHERE email = ANY(%s) OR phone = ANY(%s)"
        if not emails and not phones:
            return set(), set()
        self.cursor.execute(
            sql, [emails[:: max(1, len(emails) // 20)], phones[:: max(1, len(phones) // 20)]]
        )
        if not self.cursor.fetchall():
            return set(), set()
        self.cursor.execute(sql, [emails, phones])
        known_emails, known_phones = set(), set()
        for email, phone in self.cursor.fetchall():
            known_emails.add(email)
            known_phones.add(phone)
        return known_emails, known_phones

    def _stage(self, batch: list[tuple[int, dict[str, str]]], progress: Any) -> None:
        known_emails, known_phones = self._known(batch)
        if self.raw_keys is None:
            self.raw_keys = list(batch[0][1])
        codes = referral_codes(len(batch))
        staged = []
        for (number, raw), code in zip(batch, codes, strict=True):
            try:
                row = self._clean(raw, known_emails, known_phones)
                self._check_duplicate_in_file(number, row)
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    self.report.errors.append(RowError(number, name, "; ".join(messages), raw))
                continue
            given = row["member_number"] or None
            if row["identities"]:
                self.identities[number] = row["identities"]
            # the name columns of a new member (an existing one's are worked out in _write)
            full_name, pinyin = name_fields(
                given=row["first_name"], family=row["last_name"], full_name=row["full_name"]
            )
            staged.append(
                (
                    number,
                    given,
                    *[None if row[f] in (None, "") else row[f] for f in PROFILE],
                    row.get("email_consent"),
                    row.get("sms_consent"),
                    None if given else member_number(),
                    code,
                    full_name,
                    pinyin,
                    list(raw.values()),
                )
            )
        with self.cursor.cursor.copy(
            f"COPY {STAGE} (row_number, {', '.join(STAGE_COLUMNS)}) FROM STDIN"
        ) as copy:
            for values in staged:
                copy.write_row(values)
        if progress is not None:
            progress.update(len(batch))

    def _clean(self, raw: dict[str, str], emails: set[str], phones: set[str]) -> dict[str, Any]:
        return clean_row(raw, self.stores, known_emails=emails, known_phones=phones)

    # ---------------------------------------------------------------------------- resolving
    def _resolve(self) -> None:
        """Match each staged row to a member, find conflicts, count new/changed/unchanged."""
        cur = self.cursor
        cur.execute(f"ANALYZE {STAGE} (member_number, email, phone)")  # the join keys
        # the ORM path: by number when the row has one, else by e-mail, else by phone
        cur.execute(
            f"""CREATE TEMP TABLE {RESOLVED} ON COMMIT DROP AS
            SELECT s.*, x.member_id,
                CASE WHEN be.id IS NOT NULL AND be.id IS DISTINCT FROM x.member_id THEN 'email'
                     WHEN bp.id IS NOT NULL AND bp.id IS DISTINCT FROM x.member_id THEN 'phone'
                END AS conflict
            FROM {STAGE} s
            LEFT JOIN members_member bn ON bn.member_number = s.member_number
            LEFT JOIN members_member be ON be.email = s.email
            LEFT JOIN members_member bp ON bp.phone = s.phone
            CROSS JOIN LATERAL (
                SELECT CASE WHEN s.member_number IS NOT NULL THEN bn.id
                            ELSE COALESCE(be.id, bp.id) END AS member_id
            ) x"""
        )
        cur.execute(f"ALTER TABLE {RESOLVED} ADD COLUMN changed boolean NOT NULL DEFAULT false")
        changed = " OR ".join(
            f"(r.{f} IS NOT NULL AND m.{f} IS DISTINCT FROM r.{f})" for f in PROFILE
        )
        cur.execute(
            f"UPDATE {RESOLVED} r SET changed = true FROM members_member m "
            f"WHERE m.id = r.member_id AND r.conflict IS NULL AND ({changed})"
        )
        self._resolve_identities()
        # temporary tables get no autovacuum statistics
        cur.execute(f"ANALYZE {RESOLVED} (member_id, conflict, changed)")
        cur.execute(
            f"""SELECT count(*) FILTER (WHERE conflict IS NULL AND member_id IS NULL),
                       count(*) FILTER (WHERE conflict IS NULL AND changed),
                       count(*) FILTER (WHERE conflict IS NULL AND member_id IS NOT NULL
                                        AND NOT changed)
                FROM {RESOLVED}"""
        )
        self.report.created, self.report.updated, self.report.unchanged = cur.fetchone()
        self.report.updated += len(self.identity_only)
        self.report.unchanged -= len(self.identity_only)
        cur.execute(
            f"SELECT row_number, conflict, raw FROM {RESOLVED} WHERE conflict IS NOT NULL "
            "AND conflict <> 'identity' ORDER BY row_number"
        )
        for number, conflict, raw in cur.fetchall():
            self.report.errors.append(
                RowError(
                    number,
                    conflict,
                    f"Another member already has this {conflict}.",
                    dict(zip(self.raw_keys or [], raw, strict=True)),
                )
            )

    def _resolve_identities(self) -> None:
        """Rows giving an external id another member holds are refused (conflict 'identity',
        reported here); rows whose only change is a new id count as updated."""
        if not self.identities:
            return
        cur = self.cursor
        held = identities_holders({p for pairs in self.identities.values() for p in pairs})
        cur.execute(
            f"SELECT row_number, member_id, changed, raw FROM {RESOLVED} "
            "WHERE row_number = ANY(%s) AND conflict IS NULL ORDER BY row_number",
            [list(self.identities)],
        )
        refused = []
        for number, member_id, changed, raw in cur.fetchall():
            pairs = self.identities[number]
            taken = [p for p in pairs if held.get(p) not in (None, member_id)]
            if taken:
                kind, value = taken[0]
                refused.append(number)
                self.report.errors.append(
                    RowError(
                        number,
                        IDENTITY_LIST_COLUMN,
                        f"Another member already has the {kind} id {value}.",
                        dict(zip(self.raw_keys or [], raw, strict=True)),
                    )
                )
            elif member_id is not None and not changed and any(p not in held for p in pairs):
                self.identity_only.append(member_id)
        if refused:
            cur.execute(
                f"UPDATE {RESOLVED} SET conflict = 'identity' WHERE row_number = ANY(%s)",
                [refused],
            )
            for number in refused:
                del self.identities[number]

    def _write_identities(self) -> None:
        """The new external ids of the rows written, for new and existing members alike."""
        if not self.identities:
            return
        cur = self.cursor
        cur.execute(
            f"SELECT row_number, new_id FROM {NEW} WHERE row_number = ANY(%s) "
            f"UNION ALL SELECT row_number, member_id FROM {RESOLVED} "
            "WHERE row_number = ANY(%s) AND member_id IS NOT NULL AND conflict IS NULL",
            [list(self.identities), list(self.identities)],
        )
        member_of = dict(cur.fetchall())
        held = identities_holders({p for pairs in self.identities.values() for p in pairs})
        MemberIdentity.objects.bulk_create(
            MemberIdentity(
                member_id=member_of[number],
                kind=kind,
                value=value,
                created_at=self.now,
                updated_at=self.now,
            )
            for number, pairs in self.identities.items()
            if number in member_of
            for kind, value in pairs
            if (kind, value) not in held
        )
        if self.identity_only:
            cur.execute(
                "SELECT id, member_number, status FROM members_member WHERE id = ANY(%s)",
                [self.identity_only],
            )
            members_updated_record(
                changes=[
                    (Enrolled(pk, number, status, None, self.now), ["identities"])
                    for pk, number, status in cur.fetchall()
                ]
            )

    def _rename_existing(self) -> None:
        """Full name and pinyin of existing members whose row changes a name part, worked out in
        Python (pinyin, and a full name typed by hand staying as it is: members/names.py) and
        written to the resolved rows, for the UPDATE to take."""
        cur = self.cursor
        cur.execute(
            f"UPDATE {RESOLVED} SET new_full_name = NULL, new_name_pinyin = NULL "
            "WHERE member_id IS NOT NULL"
        )
        cur.execute(
            f"""SELECT r.row_number, m.first_name, m.last_name, m.full_name,
                       r.first_name, r.last_name, r.full_name
                FROM {RESOLVED} r JOIN members_member m ON m.id = r.member_id
                WHERE r.changed AND (r.first_name IS NOT NULL OR r.last_name IS NOT NULL
                                     OR r.full_name IS NOT NULL)"""
        )
        numbers, names, keys = [], [], []
        for number, first, last, full, new_first, new_last, new_full in cur.fetchall():
            full_name, pinyin = name_fields(
                given=new_first if new_first is not None else first,
                family=new_last if new_last is not None else last,
                full_name=new_full if new_full is not None else full,
                previous=(first, last, full),
            )
            numbers.append(number)
            names.append(full_name)
            keys.append(pinyin)
        if numbers:
            cur.execute(
                f"UPDATE {RESOLVED} r SET new_full_name = v.full_name, "
                "new_name_pinyin = v.pinyin "
                "FROM unnest(%s::int[], %s::text[], %s::text[]) AS v(row_number, full_name, pinyin) "
                "WHERE r.row_number = v.row_number",
                [numbers, names, keys],
            )

    # ------------------------------------------------------------------------------ writing
    def _redraw_taken_identifiers(self) -> None:
        """Numbers and referral codes drawn for new members that are already taken (by a member
        or by another new row of the file) are drawn again until none is."""
        cur = self.cursor
        for column, target, draw in (
            ("new_number", "member_number", lambda n: [member_number() for _ in range(n)]),
            ("referral_code", "referral_code", referral_codes),
        ):
            for _ in range(50):
                cur.execute(
                    f"""WITH new AS (
                        SELECT row_number, new_number, referral_code,
                               COALESCE(member_number, new_number) AS member_number
                        FROM {RESOLVED} WHERE member_id IS NULL AND conflict IS NULL
                    )
                    SELECT n.row_number FROM new n WHERE n.{column} IS NOT NULL AND (
                        EXISTS (SELECT 1 FROM members_member m WHERE m.{target} = n.{column})
                        OR n.{column} IN (
                            SELECT {target} FROM new GROUP BY {target} HAVING count(*) > 1
                        )
                    )"""
                )
                taken = [row[0] for row in cur.fetchall()]
                if not taken:
                    break
                cur.execute(
                    f"UPDATE {RESOLVED} r SET {column} = v.value "
                    "FROM unnest(%s::int[], %s::text[]) AS v(row_number, value) "
                    "WHERE r.row_number = v.row_number",
                    [taken, draw(len(taken))],
                )
            else:
                raise RuntimeError(f"could not draw free values for {target}")

    def _insert_new(
        self,
        insert_cols: list[str],
        insert_values: dict[str, str],
        history: str,
        params: dict[str, datetime | str],
    ) -> None:
        member_cols = [f.column for f in Member._meta.concrete_fields]
        copied = ", ".join(member_cols)
        copied_from = ", ".join(f"w.{c}" for c in member_cols)
        history_tail = "history_date, history_change_reason, history_type, history_user_id"
        # ids drawn up front, so history and consent rows need no join back to the new members
        self.cursor.execute(
            f"""CREATE TEMP TABLE {NEW} ON COMMIT DROP AS
            SELECT nextval(pg_get_serial_sequence('members_member', 'id')) AS new_id, r.*
            FROM (SELECT * FROM {RESOLVED} WHERE member_id IS NULL AND conflict IS NULL
                  ORDER BY row_number) r"""
        )
        self.cursor.execute(
            f"""WITH w AS (
                INSERT INTO members_member (id, {", ".join(insert_cols)})
                SELECT r.new_id, {", ".join(insert_values[c] for c in insert_cols)}
                FROM {NEW} r
                RETURNING *
            )
            INSERT INTO {history} ({copied}, {history_tail})
            SELECT {copied_from}, %(now)s, %(reason)s, '+', NULL FROM w""",
            params,
        )

    def _write_staged(self) -> None:
        """Write the whole staged file (run() stages every batch first)."""
        cur = self.cursor
        history = Member.history.model._meta.db_table
        member_cols = [f.column for f in Member._meta.concrete_fields]
        copied = ", ".join(member_cols)
        copied_from = ", ".join(f"w.{c}" for c in member_cols)
        history_tail = "history_date, history_change_reason, history_type, history_user_id"
        profile_cols = [_column(name) for name in PROFILE]
        text_cols = {
            f.column
            for f in Member._meta.concrete_fields
            if f.get_internal_type() == "CharField" and not f.null
        }
        insert_values = {
            "created_at": "%(now)s",
            "updated_at": "%(now)s",
            "member_number": "COALESCE(r.member_number, r.new_number)",
            **{c: f"COALESCE(r.{c}, '')" if c in text_cols else f"r.{c}" for c in profile_cols},
            "enrolment_channel": "%(channel)s",
            "enrolled_at": "%(now)s",
            "status": "%(status)s",
            "status_reason": "''",
            "status_changed_at": "%(now)s",
            "referral_code": "r.referral_code",
            "interests": "'[]'::jsonb",
            "full_name": "r.new_full_name",
            "name_pinyin": "r.new_name_pinyin",
            "referred_by_id": "NULL",
            "erased_at": "NULL",
        }
        insert_cols = [c for c in member_cols if c != "id"]
        missing = set(insert_cols) - set(insert_values)
        assert not missing, f"new Member columns need an import value: {missing}"
        params: dict[str, datetime | str] = {
            "now": self.now,
            "channel": Member.Channel.IMPORT,
            "status": Member.Status.ACTIVE,
            "reason": IMPORT_REASON,
        }
        consent = Consent._meta.db_table
        # A drawn number or referral code that is taken (rare) fails the insert on the unique
        # index: then, and only then, they are checked and drawn again.
        for attempt in range(2):
            try:
                with transaction.atomic():
                    self._insert_new(insert_cols, insert_values, history, params)
                break
            except IntegrityError:
                if attempt:
                    raise
                self._redraw_taken_identifiers()
        cur.execute(
            f"""INSERT INTO {consent} (created_at, updated_at, member_id, channel, granted,
                                   changed_at, source)
            SELECT %(now)s, %(now)s, r.new_id, c.channel,
                   CASE c.channel WHEN 'email' THEN COALESCE(r.email_consent, false)
                                  WHEN 'sms' THEN COALESCE(r.sms_consent, false)
                                  ELSE false END,
                   %(now)s, 'import'
            FROM {NEW} r CROSS JOIN unnest(%(channels)s::text[]) AS c(channel)""",
            params | {"channels": list(Consent.Channel.values)},
        )
        cur.execute(
            f"SELECT new_id, member_number, home_store_id, email_consent, sms_consent, "
            f"COALESCE(member_number, new_number) FROM {NEW} ORDER BY new_id"
        )
        new_rows = cur.fetchall()
        # what member_enroll records besides the row, for the file at once (the consent rows
        # are written above): consent and enrolment events, the starting tier, webhooks
        members_enrolled_record(
            members=[
                Enrolled(pk, number, Member.Status.ACTIVE, store, self.now)
                for pk, _, store, _, _, number in new_rows
            ],
            channel=Member.Channel.IMPORT,
            granted={
                pk: {
                    name: value
                    for name, value in (("email", email), ("sms", sms))
                    if value is not None
                }
                for pk, _, _, email, sms, _ in new_rows
            },
            consent_rows=False,
        )
        changed_fields = ", ".join(
            f"CASE WHEN r.{c} IS NOT NULL AND m.{c} IS DISTINCT FROM r.{c} THEN '{f.removesuffix('_id')}' END"
            for f, c in zip(PROFILE, profile_cols, strict=True)
        )
        cur.execute(
            f"""SELECT m.id, m.member_number, m.status,
                       array_remove(ARRAY[{changed_fields}]::text[], NULL)
                FROM {RESOLVED} r JOIN members_member m ON m.id = r.member_id
                WHERE r.changed ORDER BY m.id"""
        )
        members_updated_record(
            changes=[
                (Enrolled(pk, number, status, None, self.now), list(fields))
                for pk, number, status, fields in cur.fetchall()
            ]
        )
        self._rename_existing()
        assignments = ", ".join(
            f"{c} = COALESCE(r.{c}, m.{c})" for c in profile_cols if c != "full_name"
        )
        assignments += (
            ", full_name = COALESCE(r.new_full_name, m.full_name)"
            ", name_pinyin = COALESCE(r.new_name_pinyin, m.name_pinyin)"
        )
        cur.execute(
            f"""WITH w AS (
                UPDATE members_member m SET {assignments}, updated_at = %(now)s
                FROM {RESOLVED} r WHERE m.id = r.member_id AND r.changed
                RETURNING m.*
            )
            INSERT INTO {history} ({copied}, {history_tail})
            SELECT {copied_from}, %(now)s, %(reason)s, '~', NULL FROM w""",
            params,
        )
        # consent columns for members already there (Django's update() leaves updated_at alone)
        cur.execute(
            f"""UPDATE {consent} c SET granted = v.granted, changed_at = %(now)s, source = 'import'
            FROM (
                SELECT r.member_id, 'email' AS channel, r.email_consent AS granted
                FROM {RESOLVED} r WHERE r.member_id IS NOT NULL AND r.conflict IS NULL
                    AND r.email_consent IS NOT NULL
                UNION ALL
                SELECT r.member_id, 'sms', r.sms_consent
                FROM {RESOLVED} r WHERE r.member_id IS NOT NULL AND r.conflict IS NULL
                    AND r.sms_consent IS NOT NULL
            ) v
            WHERE c.member_id = v.member_id AND c.channel = v.channel
                AND c.granted <> v.granted
            RETURNING c.member_id, c.channel, c.granted""",
            params,
        )
        consent_events_record(changes=cur.fetchall(), source="import")
        self._write_identities()
