"""`db.generate-down`: down files computed on shadows (schema after -> schema before), written only when a shadow
proves them (the migration, then the down, gives the schema before), naming what they cannot restore."""

import json

import psycopg
import pytest

from tests.fixtures.cli import migrate_args, run_in_process
from tests.fixtures.folders import make_drizzle_folder

UPS = [
    ("0000_a", 'CREATE TABLE "a" ("id" integer PRIMARY KEY, "name" text);'),
    ("0001_b", 'CREATE TABLE "b" ("id" integer, "a_id" integer REFERENCES "a" ("id"));\n--> statement-breakpoint\n'
               'CREATE INDEX "b_a" ON "b" ("a_id");'),
    ("0002_drop", 'ALTER TABLE "a" DROP COLUMN "name";\n--> statement-breakpoint\nUPDATE "b" SET "id" = 1;'),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _shadow_on_the_test_server(pg_server_url, monkeypatch):
    global SHADOW
    SHADOW = pg_server_url


SHADOW = ""


def gen(tmp_path, db_url, folder, *args):
    return run_in_process(
        ["db.generate-down", *args, "--migrations-dir", str(folder), "--database-url", db_url, "--shadow-url", SHADOW],
        cwd=tmp_path,
    )


def test_all_writes_proven_down_files_that_roll_back_and_forward(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, UPS)
    result = gen(tmp_path, db_url, folder, "--all")
    assert result.returncode == 0, result.stdout + result.stderr
    for tag, _ in UPS:
        assert (folder / f"{tag}.down.sql").is_file(), tag
        assert f"{tag}: wrote migrations/{tag}.down.sql" in result.stdout
    down = (folder / "0002_drop.down.sql").read_text()
    assert down.startswith("-- down of 0002_drop: written by `inv db.generate-down`, proven on a shadow")
    assert '-- cannot restore: the values DROP COLUMN "name" removed from public.a' in down
    assert "-- cannot restore: the data the migration updated in public.b" in down
    assert "cannot restore: the values DROP COLUMN" in result.stdout
    assert "name" in down.split("\n", 3)[-1]  # the column comes back (empty)
    # the files are what db.rollback runs: roll all the way back, then forward again
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    back = run_in_process(["db.rollback", "--migrations-dir", str(folder), "--database-url", db_url, "--steps", "3",
                           "--yes"], cwd=tmp_path)  # fmt: skip
    assert back.returncode == 0, back.stdout + back.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM drizzle.__drizzle_migrations").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0


def test_existing_down_files_are_kept_unless_force(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, UPS[:1])
    (folder / "0000_a.down.sql").write_text('DROP TABLE "a";')
    kept = gen(tmp_path, db_url, folder, "--tags", "0000")
    assert kept.returncode == 0 and "kept 1 existing down file(s)" in kept.stdout
    assert (folder / "0000_a.down.sql").read_text() == 'DROP TABLE "a";'
    forced = json.loads(gen(tmp_path, db_url, folder, "--tags", "0000", "--force", "--json").stdout)
    assert forced["written_files"] == ["migrations/0000_a.down.sql"] and forced["downs"][0]["proven"] is True
    assert 'drop table "public"."a"' in (folder / "0000_a.down.sql").read_text().lower()


def test_a_down_the_shadow_cannot_prove_is_not_written_and_the_difference_is_named(tmp_path, db_url):
    # a domain over the enum keeps the renamed type (only columns of the type or its array are recast), so that type
    # cannot be dropped: the down fails on the shadow, the failure is named, nothing is written
    folder = make_drizzle_folder(tmp_path, [
        ("0000_t", "CREATE TYPE \"mood\" AS ENUM ('a');\n--> statement-breakpoint\n"
                   'CREATE DOMAIN "mood_d" AS "mood";\n--> statement-breakpoint\nCREATE TABLE "m" ("v" "mood_d");'),
        ("0001_v", "ALTER TYPE \"mood\" ADD VALUE 'b';"),
    ])  # fmt: skip
    result = gen(tmp_path, db_url, folder, "--tags", "0001_v")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0001_v: NOT written" in result.stdout
    assert 'cannot drop type mood__old_version_to_be_dropped because other objects depend on it' in result.stdout
    assert not (folder / "0001_v.down.sql").exists()


ENUM_UPS = [
    ("0000_t", "CREATE TYPE \"mood\" AS ENUM ('ok', 'great');\n--> statement-breakpoint\n"
               'CREATE TABLE "people" ("id" integer PRIMARY KEY, "myMood" "mood" DEFAULT \'ok\' NOT NULL, '
               '"pastMoods" "mood"[] DEFAULT \'{ok}\');\n'
               "--> statement-breakpoint\n"
               'CREATE INDEX "people_mood" ON "people" ("myMood");'),
    ("0001_meh", "ALTER TYPE \"mood\" ADD VALUE 'meh' BEFORE 'great';"),
]  # fmt: skip


def rollback_one(tmp_path, db_url, folder):
    return run_in_process(["db.rollback", "--migrations-dir", str(folder), "--database-url", db_url, "--steps", "1",
                           "--yes", "--allow-data-loss"], cwd=tmp_path)  # fmt: skip


def moods(db_url):
    with psycopg.connect(db_url) as conn:
        values = [r[0] for r in conn.execute("SELECT unnest(enum_range(NULL::mood))::text")]
        rows = conn.execute('SELECT "id", "myMood"::text, "pastMoods"::text FROM "people" ORDER BY 1').fetchall()
        tracked = conn.execute("SELECT count(*) FROM drizzle.__drizzle_migrations").fetchone()[0]
    return values, rows, tracked


def test_an_added_enum_value_is_undone_by_recreating_the_type_without_it(tmp_path, db_url):
    """PostgreSQL cannot drop an enum value: the down renames the type, creates it with the values before, recasts
    the (camelCase) columns of it and of its array through text with their defaults dropped and set again, then drops
    the renamed type; the shadow proves it (the schema before, exactly) and the header names the value."""
    folder = make_drizzle_folder(tmp_path, ENUM_UPS)
    result = gen(tmp_path, db_url, folder, "--all")
    assert result.returncode == 0, result.stdout + result.stderr
    down = (folder / "0001_meh.down.sql").read_text()
    assert "-- cannot restore: the enum value 'meh' added at line 1" in down
    assert "cannot restore: the enum value 'meh'" in result.stdout
    assert 'using "myMood"::text::"public"."mood"' in down
    assert 'type "public"."mood"[] using "pastMoods"::text[]::"public"."mood"[]' in down
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO "people" VALUES (1, 'great', '{ok,great}'), (2, DEFAULT, DEFAULT)""")
    back = rollback_one(tmp_path, db_url, folder)
    assert back.returncode == 0, back.stdout + back.stderr
    assert moods(db_url) == (["ok", "great"], [(1, "great", "{ok,great}"), (2, "ok", "{ok}")], 1)  # rows kept
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute('INSERT INTO "people" ("id") VALUES (3)')  # the default came back with the type
        assert conn.execute("SELECT to_regtype('mood__old_version_to_be_dropped')").fetchone() == (None,)
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    assert moods(db_url)[0] == ["ok", "meh", "great"]


def test_an_enum_value_added_under_a_partitioned_table_is_undone_through_the_parent_only(tmp_path, db_url):
    """The partitions' columns follow their parent's ALTER COLUMN TYPE (altering a partition's own fails)."""
    folder = make_drizzle_folder(tmp_path, [
        ("0000_t", "CREATE TYPE \"mood\" AS ENUM ('ok', 'great');\n--> statement-breakpoint\n"
                   'CREATE TABLE "p" ("m" "mood", "k" int) PARTITION BY LIST ("k");\n--> statement-breakpoint\n'
                   'CREATE TABLE "p1" PARTITION OF "p" FOR VALUES IN (1);'),
        ("0001_meh", "ALTER TYPE \"mood\" ADD VALUE 'meh';"),
    ])  # fmt: skip
    result = gen(tmp_path, db_url, folder, "--tags", "0001_meh")
    assert result.returncode == 0, result.stdout + result.stderr
    down = (folder / "0001_meh.down.sql").read_text()
    assert 'alter table "public"."p" alter column "m" type' in down and '"public"."p1"' not in down


def test_a_row_holding_the_added_enum_value_fails_the_down_and_changes_nothing(tmp_path, db_url):
    """Never mapped to another value or NULL: the recast fails, the down's transaction rolls back, the migration
    stays applied (exit 1, naming the statement), even with --allow-data-loss."""
    folder = make_drizzle_folder(tmp_path, ENUM_UPS)
    assert gen(tmp_path, db_url, folder, "--all").returncode == 0
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""INSERT INTO "people" VALUES (1, 'meh'), (2, 'ok')""")
    back = rollback_one(tmp_path, db_url, folder)
    assert back.returncode == 1, back.stdout + back.stderr
    assert "the down file of 0001_meh failed at statement" in back.stderr
    assert 'invalid input value for enum mood: "meh"' in back.stderr
    assert "rows still hold an enum value this down removes" in back.stderr  # the fix says what to do
    assert moods(db_url) == (["ok", "meh", "great"], [(1, "meh", "{ok}"), (2, "ok", "{ok}")], 2)


def test_needs_tags_or_all(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, UPS[:1])
    result = gen(tmp_path, db_url, folder)
    assert result.returncode == 2 and "needs migration tags or --all" in result.stderr
