"""db.generate: custom migrations and migrations generated from a declarative schema file."""

import json

import pytest

from migrakit.core.drizzle.journal import parse_journal
from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.errors import ConfirmationRequired
from migrakit.sources.config import load_settings
from migrakit.sources.folders import load_folder
from migrakit.workflows import generate
from migrakit.workflows.migrate import migrate
from tests.fixtures.folders import make_drizzle_folder

SCHEMA_V1 = """
CREATE TYPE mood AS ENUM ('ok', 'great');
CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL, mood mood DEFAULT 'ok');
CREATE INDEX people_name_idx ON people (name);
"""


def project(tmp_path, db_url, schema_text=None, migrations=(), **overrides):
    folder = make_drizzle_folder(tmp_path, list(migrations))
    if schema_text is not None:
        (tmp_path / "schema.sql").write_text(schema_text)
        overrides["schema"] = "schema.sql"
    return load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), **overrides)


def test_generated_migration_reproduces_the_schema_file(tmp_path, db_url):
    settings = project(tmp_path, db_url, SCHEMA_V1)
    result = generate.from_schema_file(settings, "people")
    assert result.tag == "0000_people"
    text = (settings.migrations_dir / "0000_people.sql").read_text()
    assert text.count("--> statement-breakpoint") == len(result.statements) - 1
    down = settings.migrations_dir / "0000_people.down.sql"
    assert str(down) in result.files, result.note  # written with it, proven on a shadow
    assert down.read_text().startswith("-- down of 0000_people: written by `inv db.generate-down`, proven")
    migrate(settings)
    with server.shadow_database(db_url) as expected:
        with server.connect(expected, autocommit=True) as conn:
            conn.execute(SCHEMA_V1.encode())
        assert schema.diff_statements(db_url, expected) == []


def test_no_change_writes_nothing(tmp_path, db_url):
    settings = project(tmp_path, db_url, "CREATE TABLE t (id int);", [("0000_t", "CREATE TABLE t (id int);")])
    journal_before = (settings.migrations_dir / "meta" / "_journal.json").read_bytes()
    result = generate.from_schema_file(settings, "noop")
    assert result.tag is None
    assert (settings.migrations_dir / "meta" / "_journal.json").read_bytes() == journal_before
    assert sorted(p.name for p in settings.migrations_dir.glob("*.sql")) == ["0000_t.sql"]


def test_destructive_change_needs_the_flag_and_writes_nothing_without_it(tmp_path, db_url):
    settings = project(
        tmp_path, db_url, "CREATE TABLE keep (id int);", [("0000_two", "CREATE TABLE keep (id int);\nCREATE TABLE gone (id int);")]
    )
    with pytest.raises(ConfirmationRequired) as info:
        generate.from_schema_file(settings, "drop_gone")
    assert any("gone" in d for d in info.value.details)
    assert len(load_folder(settings.migrations_dir).migrations) == 1
    result = generate.from_schema_file(settings, "drop_gone", allow_destructive=True)
    assert result.destructive and result.tag == "0001_drop_gone"


def test_custom_migration_round_trip(tmp_path, db_url):
    settings = project(tmp_path, db_url, None, [("0000_t", "CREATE TABLE t (id int);")])
    meta = settings.migrations_dir / "meta"
    (meta / "0000_snapshot.json").write_text(json.dumps({"id": "a", "prevId": "00000000-0000-0000-0000-000000000000"}, indent=2))
    result = generate.custom(settings, "seed_rows")
    assert result.tag == "0001_seed_rows"
    sql = settings.migrations_dir / "0001_seed_rows.sql"
    assert sql.read_text() == generate.CUSTOM_HEADER
    down = settings.migrations_dir / "0001_seed_rows.down.sql"
    assert down.read_text().startswith("-- down of 0001_seed_rows: put the SQL that undoes 0001_seed_rows below")
    assert str(down) in result.files
    snapshot = json.loads((meta / "0001_snapshot.json").read_text())
    assert snapshot["prevId"] == "a" and snapshot["id"] != "a"
    journal = parse_journal((meta / "_journal.json").read_text())
    assert [e.tag for e in journal.entries] == ["0000_t", "0001_seed_rows"]
    assert journal.entries[1].when > journal.entries[0].when
    sql.write_text(generate.CUSTOM_HEADER + "\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n")
    assert migrate(settings).applied == ["0000_t", "0001_seed_rows"]
    with server.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_an_enum_value_added_in_the_schema_file_is_generated_as_add_value_and_its_down_recreates_the_type(
    tmp_path, db_url
):
    settings = project(tmp_path, db_url, SCHEMA_V1.replace("('ok', 'great')", "('ok', 'meh', 'great')"),
                       [("0000_v1", SCHEMA_V1)])  # fmt: skip
    migrate(settings)
    result = generate.from_schema_file(settings, "meh")
    up = (settings.migrations_dir / f"{result.tag}.sql").read_text()
    assert up.strip() == """alter type "public"."mood" add value 'meh' after 'ok';"""  # no table touched
    down = (settings.migrations_dir / f"{result.tag}.down.sql").read_text()
    assert 'rename to "mood__old_version_to_be_dropped"' in down and "cannot restore: the enum value 'meh'" in down
    assert migrate(settings).applied == [result.tag]
    with server.shadow_database(db_url) as expected:
        with server.connect(expected, autocommit=True) as conn:
            conn.execute(SCHEMA_V1.replace("('ok', 'great')", "('ok', 'meh', 'great')").encode())
        assert schema.diff_statements(db_url, expected) == []


# Issue 23.4: five everyday changes to tables with rows, each generated as lock-safe migrations, and a volatile
# default (23.3: the column, its default, a batched backfill of its own, NOT NULL through a check), a serial
# column (the diff library writes it out: its sequence, the column with a nextval default: the same steps) and an
# identity column (added plain, backfilled from a sequence of its own, then made identity).
EVERYDAY_BASE = """CREATE TABLE users (id serial PRIMARY KEY, email text);
CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users (id), total int, buyer_id int);
"""
EVERYDAY_ROWS = """INSERT INTO users (email) SELECT 'u' || g FROM generate_series(1, 20000) g;
INSERT INTO orders (user_id, total, buyer_id) SELECT 1 + g % 20000, g, 1 + g % 20000 FROM generate_series(1, 50000) g;
ANALYZE users; ANALYZE orders;
"""
EVERYDAY_CHANGES = {
    "nullable_column": "ALTER TABLE users ADD COLUMN nick text;",
    "index": "CREATE INDEX orders_total_idx ON orders (total);",
    "not_null": "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    "unique": "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
    "foreign_key": "ALTER TABLE orders ADD CONSTRAINT orders_buyer_fk FOREIGN KEY (buyer_id) REFERENCES users (id);",
    "volatile_default": "ALTER TABLE users ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();",
    "serial_column": "ALTER TABLE users ADD COLUMN seq_no serial;",
    "identity_column": "ALTER TABLE users ADD COLUMN seq_no integer GENERATED ALWAYS AS IDENTITY;",
}


@pytest.mark.parametrize("change", sorted(EVERYDAY_CHANGES))
def test_everyday_change_is_generated_lock_safe_without_findings_or_drift(tmp_path, db_url, pg_server_url, change):
    from migrakit.workflows import check as check_workflow

    base = [("0000_base", EVERYDAY_BASE)]
    settings = project(tmp_path, db_url, EVERYDAY_BASE + EVERYDAY_CHANGES[change], base, shadow_url=pg_server_url)
    migrate(settings)
    with server.connect(db_url, autocommit=True) as conn:
        conn.execute(EVERYDAY_ROWS.encode())
    result = generate.from_schema_file(settings, change)
    written = "".join((settings.migrations_dir / f"{tag}.sql").read_text() for tag in result.tags)
    assert "orders_user_id_fkey" not in written  # the untouched foreign key is neither dropped nor re-added
    assert result.lint and all("] error:" not in line and "] warning:" not in line for line in result.lint), result.lint
    assert migrate(settings).applied == result.tags
    report = check_workflow.check(settings)
    assert report.diff.equal and report.exit_code == 0


def test_index_on_a_table_with_rows_is_generated_concurrently_in_its_own_migration(tmp_path, db_url):
    settings = project(tmp_path, db_url, EVERYDAY_BASE + EVERYDAY_CHANGES["unique"], [("0000_base", EVERYDAY_BASE)])
    migrate(settings)
    result = generate.from_schema_file(settings, "email_unique")
    assert result.tags == ["0001_email_unique", "0002_email_unique_2"]
    first = (settings.migrations_dir / "0001_email_unique.sql").read_text()
    assert first == "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON public.users USING btree (email);\n"
    second = (settings.migrations_dir / "0002_email_unique_2.sql").read_text()
    assert "UNIQUE using index" in second
    journal = parse_journal((settings.migrations_dir / "meta" / "_journal.json").read_text())
    assert [e.tag for e in journal.entries] == ["0000_base", *result.tags]
