"""Name-prefix lookup served in index order (docs/performance.md, "Earn and clerk lookup").

The clerk lookup asks one rank at a time (exact last name, last-name prefix, first-name prefix),
each `ORDER BY upper(last_name), upper(first_name), id LIMIT n`. With COLLATE "C" one b-tree both
finds LIKE 'SMI%' and returns the rows already in that order, so PostgreSQL reads only the rows it
returns. The 0002 indexes (text_pattern_ops) found the matches but not their order: a common
prefix (thousands of members on 1M) was fetched and sorted in full for ten rows. Partial on
erased_at IS NULL, the filter every lookup has. SQLite: nothing to do (small embedded data).
"""

from django.db import migrations

NEW = {
    "members_member_name_order": (
        '(upper(last_name::text) COLLATE "C"), (upper(first_name::text) COLLATE "C"), id'
    ),
    "members_member_first_name_order": (
        '(upper(first_name::text) COLLATE "C"), (upper(last_name::text) COLLATE "C"), id'
    ),
}
OLD = {
    "members_member_last_name_prefix": (
        "upper(last_name::text) text_pattern_ops, upper(first_name::text) text_pattern_ops"
    ),
    "members_member_first_name_prefix": "upper(first_name::text) text_pattern_ops",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in NEW.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON members_member ({columns}) "
            "WHERE erased_at IS NULL"
        )
    for name in OLD:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in OLD.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON members_member ({columns})")
    for name in NEW:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("members", "0005_history")]
    operations = [migrations.RunPython(create, drop)]
