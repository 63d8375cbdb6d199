"""Prefix search on names for the clerk lookup: upper(name) LIKE 'SMI%' on PostgreSQL.

text_pattern_ops makes LIKE 'prefix%' use the b-tree whatever the database collation. SQLite has
no such operator class and searches its small embedded data sets without them.
"""

from django.db import migrations

INDEXES = {
    "members_member_last_name_prefix": (
        "upper(last_name::text) text_pattern_ops, upper(first_name::text) text_pattern_ops"
    ),
    "members_member_first_name_prefix": "upper(first_name::text) text_pattern_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON members_member ({columns})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
