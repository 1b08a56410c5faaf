"""`db.migrate --to TAG` applies pending migrations up to and including TAG, as Flyway's target and Alembic's
`upgrade <rev>` do; later ones stay pending (and are not even read for statements). Unknown TAG: exit 2."""

import json

import psycopg

from tests.fixtures.cli import migrate_args, run_in_process
from tests.fixtures.folders import make_drizzle_folder

MIGRATIONS = [
    ("0000_a", "CREATE TABLE a (id int);"),
    ("0001_b", "CREATE TABLE b (id int);"),
    ("0002_c", "CREATE TABLE c (id int);\n--> statement-breakpoint\nCREATE INDEX c_id ON c (id);"),
    ("0003_broken", "SELECT 'never closed;"),
]


def tracked(db_url):
    with psycopg.connect(db_url) as conn:
        if conn.execute("SELECT to_regclass('drizzle.__drizzle_migrations')").fetchone() == (None,):
            return 0
        return conn.execute("SELECT count(*) FROM drizzle.__drizzle_migrations").fetchone()[0]


def tables(db_url):
    with psycopg.connect(db_url) as conn:
        return sorted(r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))


def test_migrate_up_to_a_tag_then_to_the_next(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, MIGRATIONS)
    result = run_in_process(migrate_args(db_url, folder, "--to", "0001_b"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "applied 2 migration(s): 0000_a, 0001_b" in result.stdout
    assert "stopped at 0001_b (--to): 2 later migration(s) stay pending: 0002_c, 0003_broken" in result.stdout
    assert (tracked(db_url), tables(db_url)) == (2, ["a", "b"])

    again = run_in_process(migrate_args(db_url, folder, "-t", "0001"), cwd=tmp_path)  # a unique prefix, the short flag
    assert again.returncode == 0, again.stderr
    assert "nothing to do: 0001_b (--to) is already applied" in again.stdout
    assert tracked(db_url) == 2

    as_json = run_in_process(migrate_args(db_url, folder, "--to", "0002", "--json"), cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert (data["applied"], data["to"], data["held_back"]) == (["0002_c"], "0002_c", ["0003_broken"])
    assert (data["pending"], data["pending_count"]) == (["0003_broken"], 1)  # what --to held back is still pending
    assert (tracked(db_url), tables(db_url)) == (3, ["a", "b", "c"])


def test_dry_run_shows_only_what_runs_up_to_the_tag(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, MIGRATIONS)
    result = run_in_process(migrate_args(db_url, folder, "--dry-run", "--to", "0000_a"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "-- 0000_a (migrations/0000_a.sql, 1 statement(s)) would apply:" in result.stdout
    assert "0001_b (migrations" not in result.stdout
    assert "stopped at 0000_a (--to): 3 later migration(s) would stay pending: 0001_b, 0002_c, 0003_broken" in result.stdout
    assert "dry run: nothing was changed" in result.stdout
    assert tracked(db_url) == 0


def test_a_tag_that_names_no_migration_is_exit_2_and_changes_nothing(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, MIGRATIONS)
    for wanted, needle in (
        ("0002_see", "--to '0002_see' names no migration in the folder; did you mean 0002_c?"),
        ("000", "--to '000' matches 4 migrations: 0000_a, 0001_b, 0002_c, 0003_broken"),
        ("9999_later", "names no migration"),
    ):
        for extra in ((), ("--dry-run",)):
            result = run_in_process(migrate_args(db_url, folder, "--to", wanted, *extra), cwd=tmp_path)
            assert result.returncode == 2, result.stdout + result.stderr
            assert needle in result.stderr and "fix:" in result.stderr and "Traceback" not in result.stderr
    assert (tracked(db_url), tables(db_url)) == (0, [])


def test_without_to_the_broken_file_after_the_tag_still_stops_the_run(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, MIGRATIONS)
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 1 and "cannot split the SQL" in result.stderr
    assert tables(db_url) == []
