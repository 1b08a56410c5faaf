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


def project(tmp_path, db_url, schema_text=None, migrations=()):
    folder = make_drizzle_folder(tmp_path, list(migrations))
    overrides = {}
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
    snapshot = json.loads((meta / "0001_snapshot.json").read_text())
    assert snapshot["prevId"] == "a" and snapshot["id"] != "a"
    journal = parse_journal((meta / "_journal.json").read_text())
    assert [e.tag for e in journal.entries] == ["0000_t", "0001_seed_rows"]
    assert journal.entries[1].when > journal.entries[0].when
    sql.write_text(generate.CUSTOM_HEADER + "\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n")
    assert migrate(settings).applied == ["0000_t", "0001_seed_rows"]
    with server.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
