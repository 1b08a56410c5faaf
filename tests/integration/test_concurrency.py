"""One migrator at a time, and no migration queued behind a long transaction: real processes racing, real locks
(a single run against a lock the test holds runs in-process)."""

import psycopg
import pytest

from migrakit.core.events import LockRetry
from migrakit.db.run.lock import lock_key
from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from tests.fixtures.cli import SLEEP, migrate_args, run_in_process, sleeping, start_cli
from tests.fixtures.folders import add_migration, make_drizzle_folder
from tests.fixtures.inspect import tables, tracked

pytestmark = pytest.mark.concurrency

KEY = lock_key("drizzle", "__drizzle_migrations")


def three_migrations(tmp_path):
    return make_drizzle_folder(
        tmp_path,
        [
            ("0000_a", f"CREATE TABLE a (id int);\n--> statement-breakpoint\n{SLEEP}"),
            ("0001_b", "CREATE TABLE b (id int);"),
            ("0002_c", "CREATE TABLE c (id int);"),
        ],
    )


def read_stderr_until(proc, needle):
    """Lines of the process's stderr up to the first one containing `needle` (all of it if it never comes)."""
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if needle in line:
            break
    return "".join(seen)


def test_two_deploys_at_once_apply_each_migration_once_and_both_succeed(tmp_path, db_url):
    folder = three_migrations(tmp_path)
    procs = [start_cli(migrate_args(db_url, folder), cwd=tmp_path, env=sleeping(1)) for _ in range(2)]
    results = [(p.wait(), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0], results
    outputs = sorted(out for _, out, _ in results)
    assert "applied 3 migration(s): 0000_a, 0001_b, 0002_c" in outputs[0]
    assert "nothing to apply (3 already applied)" in outputs[1]  # re-planned under the lock
    assert tracked(db_url, "created_at") == [1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_000]
    assert tables(db_url) == {"a", "b", "c"}


def test_a_waiting_migrator_says_so_blocks_no_concurrent_index_and_goes_on_when_the_lock_is_free(tmp_path, db_url):
    folder = three_migrations(tmp_path)
    with psycopg.connect(db_url, autocommit=True) as holder, psycopg.connect(db_url, autocommit=True) as other:
        holder.execute("SELECT pg_advisory_lock(%s)", (KEY,))
        proc = start_cli(migrate_args(db_url, folder), cwd=tmp_path)
        head = read_stderr_until(proc, "waiting for the migration lock")
        assert f"waiting for the migration lock (held by pid {holder.info.backend_pid})" in head
        # The waiting migrator polls; it never sits in a long statement, so CREATE INDEX CONCURRENTLY (which waits
        # for every older snapshot) completes. A migrator blocked in pg_advisory_lock() would hang it.
        other.execute("SET statement_timeout = '30s'")
        other.execute("CREATE TABLE busy (id int)")
        other.execute("CREATE INDEX CONCURRENTLY busy_idx ON busy (id)")
        assert tables(db_url) == {"busy"}  # the migrator has not run anything yet
        holder.execute("SELECT pg_advisory_unlock(%s)", (KEY,))
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "got the migration lock" in err
    assert "applied 3 migration(s)" in out
    assert len(tracked(db_url)) == 3


def test_giving_up_on_the_migration_lock_exits_4_and_changes_nothing(tmp_path, db_url):
    folder = three_migrations(tmp_path)
    with psycopg.connect(db_url, autocommit=True, application_name="deploy-42") as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (KEY,))
        result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env={"MIGRAKIT_LOCK_WAIT_TIMEOUT": "1"})
        pid = holder.info.backend_pid
    assert result.returncode == 4, result.stderr
    assert "another migrator has held the migration lock for more than 1s" in result.stderr
    assert f"held by pid {pid} (deploy-42)" in result.stderr
    assert "nothing was applied by this run" in result.stderr
    assert "pg_terminate_backend" in result.stderr
    assert tables(db_url) == set()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regnamespace('drizzle')").fetchone() == (None,)


def test_lock_timeout_gives_up_naming_the_migration_and_the_blocking_session(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_t", "CREATE TABLE t (id int);")])
    migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    add_migration(folder, "0001_add_column", "ALTER TABLE t ADD COLUMN x int;")
    add_migration(folder, "0002_later", "CREATE TABLE later (id int);")
    before = (folder / "0001_add_column.sql").read_bytes()
    with psycopg.connect(db_url, application_name="nightly-report") as blocker:
        blocker.execute("SELECT count(*) FROM t")  # an open transaction holding ACCESS SHARE on t
        pid = blocker.info.backend_pid
        env = {"MIGRAKIT_LOCK_TIMEOUT": "500ms", "MIGRAKIT_LOCK_RETRIES": "2"}
        result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env=env)
        blocker.rollback()
    assert result.returncode == 4, result.stderr
    err = result.stderr
    assert "migration 0001_add_column could not get its locks within lock_timeout=500ms after 3 attempts" in err
    assert "0001_add_column: lock_timeout hit, retry 1 of 2" in err
    assert f"blocked by pid {pid} (nightly-report, idle in transaction" in err
    assert "SELECT count(*) FROM t" in err
    assert f"SELECT pg_terminate_backend({pid})" in err
    assert "nothing from 0001_add_column was applied" in err
    assert len(tracked(db_url)) == 1  # only 0000_t; 0002_later did not run either
    assert tables(db_url) == {"t"}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 't'").fetchone() == (1,)
    assert (folder / "0001_add_column.sql").read_bytes() == before


def test_a_lock_timeout_retry_succeeds_once_the_long_transaction_ends(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_t", "CREATE TABLE t (id int);")])
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), lock_timeout="300ms")
    migrate(settings)
    add_migration(folder, "0001_add_column", "ALTER TABLE t ADD COLUMN x int;")
    blocker = psycopg.connect(db_url)
    blocker.execute("SELECT count(*) FROM t")
    retries = []

    def on_event(event):
        if isinstance(event, LockRetry):
            retries.append(event.attempt)
            blocker.rollback()  # the long transaction ends before the retry

    try:
        report = migrate(settings, on_event=on_event)
    finally:
        blocker.close()
    assert retries == [1]
    assert report.applied == ["0001_add_column"]
    assert len(tracked(db_url)) == 2
