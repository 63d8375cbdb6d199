"""Fewer indexes written per ledger entry and allocation (issue #22, expiry >= 1M rows/s).

- ledger_ledgerentry.reverses_id: the full index goes; the unique partial index
  ledger_entry_single_reversal (WHERE reverses_id IS NOT NULL) answers every `reverses = X`
  lookup (and the FK's PROTECT check), and the NULL of every other entry is no longer written.
- ledger_ledgerentry.created_by_id: the full index becomes a partial one (WHERE created_by_id IS
  NOT NULL); only staff adjustments and clerk postings carry an actor.
- ledger_lotallocation.entry_id: the unique (entry_id, lot_id) leads with it.

Database operations by name only: Django's AlterField would also drop
ledger_entry_single_reversal (it drops every non-constraint index on the column) and drop and
re-validate the foreign keys over every row.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0012_covering_time_indexes_for_kpis"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="created_by",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="created by",
                    ),
                ),
                migrations.AlterField(
                    model_name="ledgerentry",
                    name="reverses",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reversed_by",
                        to="ledger.ledgerentry",
                        verbose_name="reverses",
                    ),
                ),
                migrations.AlterField(
                    model_name="lotallocation",
                    name="entry",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="allocations",
                        to="ledger.ledgerentry",
                        verbose_name="entry",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "ledger_ledgerentry_created_by_id_391c569b"',
                    'CREATE INDEX "ledger_ledgerentry_created_by_id_391c569b" '
                    'ON "ledger_ledgerentry" ("created_by_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "ledger_ledgerentry_reverses_id_d9e13fb2"',
                    'CREATE INDEX "ledger_ledgerentry_reverses_id_d9e13fb2" '
                    'ON "ledger_ledgerentry" ("reverses_id")',
                ),
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "ledger_lotallocation_entry_id_d150c517"',
                    'CREATE INDEX "ledger_lotallocation_entry_id_d150c517" '
                    'ON "ledger_lotallocation" ("entry_id")',
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(
                condition=models.Q(("created_by__isnull", False)),
                fields=["created_by"],
                name="ledger_entry_created_by",
            ),
        ),
    ]
