"""A migrator killed (SIGKILL) or cut off (pg_terminate_backend) halfway: nothing half-applied, the next run
applies the migration exactly once. Real `migrakit db.migrate` processes on a real server."""

import psycopg
import pytest

from tests.fixtures.cli import SLEEP, backend_running, migrate_args, migrator_sessions, run_cli, sleeping, start_cli, wait_for
from tests.fixtures.folders import make_drizzle_folder

TRANSACTIONAL = [
    ("0000_first", "CREATE TABLE first (id int);"),
    ("0001_slow", f"CREATE TABLE a (id int);\n--> statement-breakpoint\n{SLEEP}\n--> statement-breakpoint\nCREATE TABLE b (id int);"),
    ("0002_after", "CREATE TABLE after (id int);"),
]
# Runs outside a transaction (its own COMMIT): what completed before the interruption stays, and is resumed.
SELF_MANAGED = [
    ("0000_first", "CREATE TABLE first (id int);"),
    (
        "0001_slow",
        "CREATE TABLE a (id int);\n--> statement-breakpoint\nCOMMIT;\n--> statement-breakpoint\n"
        f"{SLEEP}\n--> statement-breakpoint\nCREATE TABLE b (id int);",
    ),
    ("0002_after", "CREATE TABLE after (id int);"),
]


def query(db_url, sql):
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql).fetchall()


def tables(db_url):
    return {r[0] for r in query(db_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def tracked(db_url):
    return [r[0] for r in query(db_url, "SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY id")]


def progress(db_url):
    if not query(db_url, "SELECT to_regclass('migrakit.statement_progress') IS NOT NULL")[0][0]:
        return []
    return query(db_url, "SELECT migration, statement_no FROM migrakit.statement_progress ORDER BY statement_no")


def interrupt(db_url, tmp_path, folder, how, env=None):
    """Start a migrator, wait until it sleeps inside 0001_slow, then kill it or end its backend."""
    proc = start_cli(migrate_args(db_url, folder), cwd=tmp_path, env={**sleeping(60), **(env or {})})
    try:
        wait_for(lambda: backend_running(db_url, "pg_sleep"), "the migrator to reach pg_sleep")
        if how == "sigkill":
            proc.kill()
        else:
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND strpos(query, 'pg_sleep') > 0 AND pid <> pg_backend_pid()"
                )
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # A dead client's backend notices within client_connection_check_interval (set by the migrator) and ends,
    # rolling its transaction back and releasing the migration lock.
    wait_for(lambda: migrator_sessions(db_url) == 0, "the migrator's backend to end")
    return proc.returncode, out, err


def rerun_applies_exactly_once(db_url, tmp_path, folder, expect_resume):
    result = run_cli(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "applied 2 migration(s): 0001_slow, 0002_after" in result.stdout
    assert ("resuming at statement 3 of 4" in result.stderr) == expect_resume
    assert tables(db_url) == {"first", "a", "b", "after"}
    assert tracked(db_url) == [1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_000]
    assert progress(db_url) == []


@pytest.mark.parametrize(
    "how, env",
    [("sigkill", {}), ("terminate-backend", {}), ("terminate-backend", {"MIGRAKIT_PIPELINE": "0"})],
    ids=["sigkill", "terminate-backend-pipelined", "terminate-backend"],
)
def test_interrupted_transactional_migration_is_not_applied_and_the_next_run_applies_it_once(tmp_path, db_url, how, env):
    folder = make_drizzle_folder(tmp_path, TRANSACTIONAL)
    code, out, err = interrupt(db_url, tmp_path, folder, how, env)
    if how == "sigkill":
        assert code == -9
    else:
        assert code == 6, err
        assert "error: lost the connection to the database while applying 0001_slow (statement 2 of 3)" in err
        assert "administrator command" in err or "server closed the connection unexpectedly" in err, err
        assert "error ignored" not in err  # no driver log noise around the report
        assert "the server rolls back the open transaction of a lost connection" in err
        assert "applied and tracked before it in this run: 0000_first" in err
        assert "fix:" in err
    assert tables(db_url) == {"first"}  # nothing of 0001_slow: its first statement was rolled back
    assert tracked(db_url) == [1_700_000_000_000]
    rerun_applies_exactly_once(db_url, tmp_path, folder, expect_resume=False)


@pytest.mark.parametrize("how", ["sigkill", "terminate-backend"])
def test_interrupted_migration_outside_a_transaction_resumes_after_what_completed(tmp_path, db_url, how):
    folder = make_drizzle_folder(tmp_path, SELF_MANAGED)
    code, out, err = interrupt(db_url, tmp_path, folder, how)
    if how == "terminate-backend":
        assert code == 6, err
        assert "lost the connection to the database while applying 0001_slow (statement 3 of 4)" in err
        assert "recorded in migrakit.statement_progress" in err
    assert tables(db_url) == {"first", "a"}  # statement 1 took effect (the file commits it itself)
    assert tracked(db_url) == [1_700_000_000_000]
    assert progress(db_url) == [("0001_slow", 1), ("0001_slow", 2)]
    rerun_applies_exactly_once(db_url, tmp_path, folder, expect_resume=True)
