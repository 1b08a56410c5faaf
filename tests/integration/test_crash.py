"""A migrator killed (SIGKILL) or cut off (pg_terminate_backend) halfway: nothing half-applied, the next run
applies the migration exactly once. The run that is killed is a real `migrakit db.migrate` process on a real
server; the reruns after it run in-process (the console script's entry point)."""

import psycopg
import pytest

from tests.fixtures.cli import (
    SLEEP,
    backend_running,
    migrate_args,
    migrator_sessions,
    run_in_process,
    sleeping,
    start_cli,
    wait_for,
)
from tests.fixtures.folders import add_migration, make_consolidation, make_drizzle_folder
from tests.fixtures.inspect import progress_rows, query, tables, tracked

pytestmark = pytest.mark.crash

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


def interrupt(db_url, tmp_path, folder, how, env=None, running="pg_sleep"):
    """Start a migrator, wait until it runs a statement containing `running` (sleeps inside 0001_slow), then
    kill it or end its backend."""
    proc = start_cli(migrate_args(db_url, folder), cwd=tmp_path, env={**sleeping(60), **(env or {})})
    try:
        wait_for(lambda: backend_running(db_url, running), f"the migrator to run {running}")
        if how == "sigkill":
            proc.kill()
        else:
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND strpos(query, %s) > 0 AND pid <> pg_backend_pid()",
                    (running,),
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
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "applied 2 migration(s): 0001_slow, 0002_after" in result.stdout
    assert ("resuming at statement 3 of 4" in result.stderr) == expect_resume
    assert tables(db_url) == {"first", "a", "b", "after"}
    assert tracked(db_url, "created_at") == [1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_000]
    assert progress_rows(db_url) == []


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
    assert tracked(db_url, "created_at") == [1_700_000_000_000]
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
    assert tracked(db_url, "created_at") == [1_700_000_000_000]
    assert progress_rows(db_url) == [("0001_slow", 1), ("0001_slow", 2)]
    rerun_applies_exactly_once(db_url, tmp_path, folder, expect_resume=True)


def test_an_interrupted_concurrent_index_is_rebuilt_by_the_next_run(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_t", "CREATE TABLE t (id int);")])
    assert run_in_process(migrate_args(db_url, folder), cwd=tmp_path).returncode == 0
    add_migration(folder, "0001_idx", "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);")

    # An old snapshot makes the index build wait (after it has created the index, still INVALID), and ending
    # the migrator's backend then leaves that INVALID index behind.
    with psycopg.connect(db_url) as old:
        old.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        old.execute("SELECT count(*) FROM t")
        code, _, err = interrupt(
            db_url, tmp_path, folder, "terminate-backend", {"MIGRAKIT_LOCK_TIMEOUT": "60s"}, "CREATE INDEX CONCURRENTLY"
        )
    assert code == 6, err
    assert "lost the connection to the database while applying 0001_idx (statement 1 of 1)" in err
    assert query(db_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_idx'::regclass") == [(False,)]
    assert tracked(db_url, "created_at") == [1_700_000_000_000]

    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'dropped the INVALID index "public"."t_id_idx" an earlier failed or interrupted run left' in result.stderr
    assert query(db_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_idx'::regclass") == [(True,)]
    assert tracked(db_url, "created_at") == [1_700_000_000_000, 1_700_000_001_000]
    assert progress_rows(db_url) == []


def test_a_mode2_file_cut_off_halfway_is_rolled_back_whole_and_applied_by_the_next_run(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_first", "CREATE TABLE first (id int);")])
    make_consolidation(
        tmp_path / "migrations-consolidated", "20240101000000_all",
        f"CREATE TABLE a (id int);\n{SLEEP}\nCREATE TABLE b (id int);\n", 1_700_000_005_000, [("0000_old", 1, "0" * 64)],
    )
    code, _, err = interrupt(db_url, tmp_path, folder, "terminate-backend")
    assert code == 6, err
    assert "lost the connection to the database while applying 20240101000000_all (while its file ran, in one transaction)" in err
    assert tables(db_url) == {"first"}
    assert tracked(db_url, "created_at") == [1_700_000_000_000]
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert tables(db_url) == {"first", "a", "b"}
    assert tracked(db_url, "created_at") == [1_700_000_000_000, 1_700_000_005_000]
