"""Names in any script: a stored full name and a pinyin search key (members/names.py).

Existing members get their full name composed from the given and family names (one UPDATE,
"given family"; then the few in Chinese characters are recomposed family-first with their
pinyin, in Python). On PostgreSQL two b-tree indexes serve the name lookup like 0006 does for
the parts: upper(full_name) and name_pinyin, both COLLATE "C" (LIKE 'prefix%' and ORDER BY from
one index; the pinyin, stored upper case already, is compared upper-cased like the names so
that the query and the index have the same expression), partial on erased_at IS NULL.
"""

from django.db import migrations, models
from django.db.models import Value
from django.db.models.functions import Concat, Trim

HAN = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
INDEXES = {
    "members_member_full_name_order": '(upper(full_name::text) COLLATE "C"), id',
    "members_member_pinyin_order": '(upper(name_pinyin::text) COLLATE "C"), id',
}


def fill(apps, schema_editor):
    from members.names import compose_full_name, name_pinyin

    Member = apps.get_model("members", "Member")
    Member.objects.filter(full_name="").update(
        full_name=Trim(Concat("first_name", Value(" "), "last_name"))
    )
    batch = []
    for member in (
        Member.objects.filter(full_name__regex=HAN)
        .only("id", "first_name", "last_name", "full_name")
        .iterator(chunk_size=2000)
    ):
        member.full_name = (
            compose_full_name(member.first_name, member.last_name) or member.full_name
        )
        member.name_pinyin = name_pinyin(member.full_name)
        batch.append(member)
        if len(batch) >= 2000:
            Member.objects.bulk_update(batch, ["full_name", "name_pinyin"])
            batch = []
    Member.objects.bulk_update(batch, ["full_name", "name_pinyin"])


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON members_member ({columns}) "
            "WHERE erased_at IS NULL"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_member_history_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalmember",
            name="full_name",
            field=models.CharField(
                blank=True,
                help_text="The whole name as the member writes it, e.g. Anna Smith or 王小明. Left empty, it is made from the given and family names (family name first for Chinese names).",
                max_length=200,
                verbose_name="full name",
            ),
        ),
        migrations.AddField(
            model_name="historicalmember",
            name="name_pinyin",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="Search key of a Chinese name, e.g. WANGXIAOMING for 王小明; set on save.",
                max_length=200,
                verbose_name="name in pinyin",
            ),
        ),
        migrations.AddField(
            model_name="member",
            name="full_name",
            field=models.CharField(
                blank=True,
                help_text="The whole name as the member writes it, e.g. Anna Smith or 王小明. Left empty, it is made from the given and family names (family name first for Chinese names).",
                max_length=200,
                verbose_name="full name",
            ),
        ),
        migrations.AddField(
            model_name="member",
            name="name_pinyin",
            field=models.CharField(
                blank=True,
                editable=False,
                help_text="Search key of a Chinese name, e.g. WANGXIAOMING for 王小明; set on save.",
                max_length=200,
                verbose_name="name in pinyin",
            ),
        ),
        migrations.AlterField(
            model_name="historicalmember",
            name="first_name",
            field=models.CharField(
                blank=True,
                help_text="Optional, e.g. Anna or 小明.",
                max_length=100,
                verbose_name="given name",
            ),
        ),
        migrations.AlterField(
            model_name="historicalmember",
            name="last_name",
            field=models.CharField(
                blank=True,
                help_text="Optional, e.g. Smith or 王.",
                max_length=100,
                verbose_name="family name",
            ),
        ),
        migrations.AlterField(
            model_name="member",
            name="first_name",
            field=models.CharField(
                blank=True,
                help_text="Optional, e.g. Anna or 小明.",
                max_length=100,
                verbose_name="given name",
            ),
        ),
        migrations.AlterField(
            model_name="member",
            name="last_name",
            field=models.CharField(
                blank=True,
                help_text="Optional, e.g. Smith or 王.",
                max_length=100,
                verbose_name="family name",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
