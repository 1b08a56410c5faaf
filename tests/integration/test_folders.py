"""Never green while wrong: a missing or mistyped folder is exit 2 before any connection, an empty folder while
the tracking table has rows is exit 2 (unless --allow-empty), and a forgotten `--custom` migration (its SQL never
written) is refused before anything runs (exit 1; --allow-empty records it as Drizzle does); a migration of
comments only is a deliberate no-op, recorded as Drizzle records it, with a note."""

from __future__ import annotations

import hashlib
import json
import re

import psycopg
import pytest

from tests.fixtures.cli import migrate_args, run_cli, run_in_process
from tests.fixtures.folders import add_migration, make_drizzle_folder

GOOD = ("0000_good", "CREATE TABLE good (id int);")
UNREACHABLE = "postgresql://app:secret@127.0.0.1:1/app"  # nothing listens on port 1: proves no connection was tried


def rows(db_url):
    with psycopg.connect(db_url) as conn:
        if not conn.execute("SELECT to_regclass('drizzle.__drizzle_migrations')").fetchone()[0]:
            return None
        return conn.execute("SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()


@pytest.mark.parametrize(
    "task",
    [
        ["db.migrate"], ["db.migrate", "--dry-run"], ["db.status"], ["db.migrate-consolidated"], ["db.check"],
        ["db.upgrade-tracking"], ["env.check"],
    ],
)
def test_a_missing_migrations_folder_is_exit_2_before_connecting(tmp_path, task):
    make_drizzle_folder(tmp_path, [GOOD])
    result = run_in_process([*task, "--migrations-dir=migration", "--database-url", UNREACHABLE], cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert "migrations_dir migration/ does not exist" in out
    assert "set by --migrations-dir" in out and "meta/_journal.json" in out  # where it came from, what belongs there
    assert "correct --migrations-dir" in out
    assert "nothing to apply" not in out and "Traceback" not in out
    if task != ["env.check"]:  # env.check runs every check; the others stop before connecting
        assert "cannot connect" not in out and "unreachable" not in out


@pytest.mark.parametrize("task", [["db.upgrade-layout"], ["db.count-branch-migrations"], ["db.consolidate"]])
def test_tasks_without_a_database_check_the_folder_too(tmp_path, task):
    result = run_in_process([*task, "--migrations-dir=migration"], cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "migrations_dir migration/ does not exist" in result.stderr


def test_the_error_names_where_the_setting_came_from(tmp_path):
    make_drizzle_folder(tmp_path, [GOOD])
    (tmp_path / "pyproject.toml").write_text('[tool.migrakit]\nmigrations_dir = "db/migrations"\n')
    result = run_in_process(["db.migrate", "--database-url", UNREACHABLE], cwd=tmp_path)
    assert result.returncode == 2 and "set by pyproject.toml [tool.migrakit]" in result.stderr, result.stderr
    assert "correct migrations_dir in pyproject.toml [tool.migrakit]" in result.stderr
    result = run_in_process(
        ["db.migrate", "--database-url", UNREACHABLE], cwd=tmp_path, env={"MIGRAKIT_MIGRATIONS_DIR": "nope"}
    )
    assert result.returncode == 2 and "set by MIGRAKIT_MIGRATIONS_DIR" in result.stderr, result.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.migrakit]\n")
    (tmp_path / "migrations").rename(tmp_path / "elsewhere")
    result = run_in_process(["db.migrate", "--database-url", UNREACHABLE], cwd=tmp_path)
    assert result.returncode == 2 and "(the default)" in result.stderr, result.stderr
    assert "set migrations_dir in [tool.migrakit]" in result.stderr


def test_a_configured_consolidated_dir_must_exist_the_default_may_be_absent(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)  # no migrations-consolidated/: normal
    assert result.returncode == 0, result.stderr
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env={"MIGRAKIT_CONSOLIDATED_DIR": "consolidatd"})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "consolidated_dir consolidatd/ does not exist" in result.stderr
    assert "MIGRAKIT_CONSOLIDATED_DIR" in result.stderr


def test_a_migrations_path_that_is_a_file_is_exit_2(tmp_path):
    (tmp_path / "migrations").write_text("not a folder")
    result = run_in_process(["db.status", "--database-url", UNREACHABLE], cwd=tmp_path)
    assert result.returncode == 2 and "is a file, not a folder" in result.stderr, result.stderr


def test_an_empty_folder_while_the_table_has_rows_is_exit_2_unless_allowed(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    empty = tmp_path / "other"
    empty.mkdir()
    before = rows(db_url)
    for task in (["db.migrate"], ["db.migrate", "--dry-run"], ["db.status"], ["db.migrate-consolidated"]):
        result = run_in_process([*task, "--migrations-dir", str(empty), "--database-url", db_url], cwd=tmp_path)
        assert result.returncode == 2, (task, result.stdout + result.stderr)
        assert "holds no migration, but the tracking table" in result.stderr and "1 row(s)" in result.stderr
        assert "--allow-empty" in result.stderr and "nothing to apply" not in result.stdout
    assert rows(db_url) == before
    result = run_in_process(migrate_args(db_url, empty, "--allow-empty"), cwd=tmp_path)
    assert result.returncode in (0, 3), result.stderr  # accepted: the row is then reported as unknown, not hidden
    assert "holds no migration" not in result.stderr


def test_an_empty_folder_on_a_fresh_database_is_fine(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [])
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------------ item 6
def test_generate_custom_header_ends_with_a_newline_so_appended_sql_runs(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    result = run_in_process(["db.generate", "--custom", "seed", "--migrations-dir", str(folder)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sql = folder / "0001_seed.sql"
    assert sql.read_text().endswith("--\n")
    with sql.open("a") as f:  # echo "INSERT ...;" >> migrations/0001_seed.sql
        f.write("INSERT INTO good VALUES (7);\n")
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT id FROM good").fetchall() == [(7,)]


def test_a_pending_migration_without_sql_is_refused_before_anything_runs(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    add_migration(folder, "0001_custom", "-- Custom SQL migration file, put your code below! --SELECT 1;")
    add_migration(folder, "0002_more", "CREATE TABLE more (id int);")
    for extra in ([], ["--dry-run"]):
        result = run_in_process(migrate_args(db_url, folder, *extra), cwd=tmp_path)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "migration 0001_custom holds no SQL statement" in result.stderr
        assert "0001_custom.sql" in result.stderr and "--allow-empty" in result.stderr
        assert re.search(r"state:\s+nothing was run", result.stderr)
        assert rows(db_url) is None  # not even 0000_good ran: refused before anything
    result = run_in_process(migrate_args(db_url, folder, "--allow-empty"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    body = (folder / "0001_custom.sql").read_bytes()
    assert [r[0] for r in rows(db_url)][1] == hashlib.sha256(body).hexdigest()  # recorded, as Drizzle records it


NOOP = ("0001_noop", "-- no DDL needed: the change is in the JSONB payload\n")
TEMPLATE = "-- Custom SQL migration file, put your code below! --\n"


def test_a_comment_only_migration_is_recorded_as_applied_with_a_note_in_text_and_json(tmp_path, db_url):
    """Issue 23.5: Drizzle records a migration of comments only; so does db.migrate, without --allow-empty."""
    folder = make_drizzle_folder(tmp_path, [GOOD, NOOP, ("0002_more", "CREATE TABLE more (id int);")])
    planned = run_in_process(migrate_args(db_url, folder, "--dry-run", "--json"), cwd=tmp_path)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert json.loads(planned.stdout)["notes"] == [
        "0001_noop: no statement: comments only: would be recorded as applied without running anything, as Drizzle does"
    ]
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "applied 3 migration(s): 0000_good, 0001_noop, 0002_more" in result.stdout
    assert "note: 0001_noop: no statement: comments only: recorded as applied without running anything, as Drizzle " \
        "does" in result.stdout
    assert "warning" not in result.stdout  # a deliberate no-op, not a forgotten migration
    assert [r[0] for r in rows(db_url)][1] == hashlib.sha256(NOOP[1].encode()).hexdigest()
    add_migration(folder, "0003_noop_too", "/* the payload changed again */\n")
    doc = json.loads(run_in_process(migrate_args(db_url, folder, "--json"), cwd=tmp_path).stdout)
    assert doc["ok"] and doc["applied"] == ["0003_noop_too"]
    assert doc["notes"] == [
        "0003_noop_too: no statement: comments only: recorded as applied without running anything, as Drizzle does"
    ]


@pytest.mark.parametrize("body", [TEMPLATE, TEMPLATE.strip()])
def test_the_untouched_template_is_refused_unless_allowed_and_single_transaction_records_it_as_drizzle(
    tmp_path, db_url, body
):
    folder = make_drizzle_folder(tmp_path, [GOOD, ("0001_custom", body), NOOP])
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: migration 0001_custom holds no SQL statement: its SQL was never written below db.generate " \
        "--custom's header" in result.stderr
    assert rows(db_url) is None
    status = run_in_process(["db.status", "--migrations-dir", str(folder), "--database-url", db_url], cwd=tmp_path)
    assert re.search(r"note: \S*0001_custom.sql holds no SQL statement", status.stdout), status.stdout
    assert "0001_noop.sql holds no SQL" not in status.stdout
    result = run_in_process(migrate_args(db_url, folder, "--single-transaction"), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(rows(db_url)) == 3  # Drizzle records both (tests/interop/test_single_transaction.py compares)


def test_an_applied_empty_migration_does_not_block_later_runs(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD, ("0001_empty", "")])
    assert run_cli(migrate_args(db_url, folder, "--allow-empty"), cwd=tmp_path).returncode == 0
    add_migration(folder, "0002_next", "CREATE TABLE next (id int);")
    result = run_cli(migrate_args(db_url, folder), cwd=tmp_path)  # the console script, end to end
    assert result.returncode == 0, result.stderr
    assert "0002_next" in result.stdout


def test_check_and_baseline_refuse_an_empty_folder_with_rows_without_offering_a_flag_they_lack(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    empty = tmp_path / "other"
    empty.mkdir()
    for task in (["db.check"], ["db.baseline"]):
        result = run_in_process([*task, "--migrations-dir", str(empty), "--database-url", db_url], cwd=tmp_path)
        assert result.returncode == 2, (task, result.stdout + result.stderr)
        assert "holds no migration" in result.stderr and "--allow-empty" not in result.stderr


def test_generate_says_when_it_creates_the_migrations_folder(tmp_path):
    result = run_in_process(["db.generate", "--custom", "first", "--migrations-dir", "db/migrations"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "created the migrations folder db/migrations/ (migrations_dir from --migrations-dir)" in result.stdout
    assert (tmp_path / "db" / "migrations" / "0000_first.sql").is_file()
    again = run_in_process(["db.generate", "--custom", "second", "--migrations-dir", "db/migrations"], cwd=tmp_path)
    assert again.returncode == 0 and "created the migrations folder" not in again.stdout
