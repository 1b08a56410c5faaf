"""Through a real PgBouncer (transaction and session pooling): racing deploys apply each migration once, leave no
lock and no setting on the pool's server connections; the pooler is detected; steps that cannot run in a
transaction are refused behind a transaction pooler unless direct_url is set. Plus the per-transaction guards
that make exactly-once independent of the migration lock."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from migrakit.core.events import AppliedElsewhereSeen, Planned
from migrakit.db.connect import pooler, server
from migrakit.db.run.lock import apply_key
from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from tests.fixtures.cli import migrate_args, run_in_process, start_cli
from tests.fixtures.folders import make_drizzle_folder
from tests.fixtures.inspect import query, tables, tracked

RACERS = 8
TRIALS = 3
SETTINGS = ("lock_timeout", "statement_timeout", "client_connection_check_interval", "idle_in_transaction_session_timeout")
SLOW_THEN_INSERT = (
    "CREATE TABLE hits (tag text);\n--> statement-breakpoint\nSELECT pg_sleep(0.5);\n--> statement-breakpoint\n"
    "INSERT INTO hits VALUES ('0000');"
)


@pytest.fixture(params=["transaction", "session"])
def bouncer(request):
    return request.getfixturevalue(f"pgbouncer_{request.param}")


def fresh_database(pg_server_url: str) -> tuple[str, str]:
    name = f"pool_{uuid.uuid4().hex[:8]}"
    return name, server.create_database(pg_server_url, name)


def settings_seen(url: str, connections: int) -> set[tuple[str, ...]]:
    """The values of SETTINGS on `connections` server connections at once: each client holds an open transaction,
    which pins a server connection of its own, so every pooled server connection (and new ones) answers."""
    clients = [psycopg.connect(url, connect_timeout=10) for _ in range(connections)]
    try:
        return {tuple(c.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS) for c in clients}
    finally:
        for c in clients:
            c.rollback()  # hand the server connection back clean (a client gone mid-transaction costs the pool it)
            c.close()


def defaults(direct_url: str) -> tuple[str, ...]:
    with psycopg.connect(direct_url) as conn:
        return tuple(conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS)


def test_racing_deploys_through_pgbouncer_apply_each_migration_once(tmp_path, pg_server_url, bouncer):
    for trial in range(TRIALS):
        name, direct = fresh_database(pg_server_url)
        try:
            folder = make_drizzle_folder(
                tmp_path / f"trial{trial}",
                [("0000_slow", SLOW_THEN_INSERT), ("0001_more", "INSERT INTO hits VALUES ('0001');")],
            )
            url = bouncer.url(name)
            procs = [start_cli(migrate_args(url, folder), cwd=tmp_path) for _ in range(RACERS)]
            results = [(p.wait(timeout=180), *p.communicate()) for p in procs]
            assert [code for code, _, _ in results] == [0] * RACERS, ([err for code, _, err in results if code], bouncer.log())
            assert sum("applied 2 migration(s)" in out for _, out, _ in results) >= 1
            assert sorted(tracked(direct, "created_at")) == [1_700_000_000_000, 1_700_000_001_000]
            assert query(direct, "SELECT tag, count(*) FROM hits GROUP BY tag ORDER BY tag") == [("0000", 1), ("0001", 1)]
            # Nothing held: no advisory lock, no transaction left open; a later deploy is done at once.
            # (on this database: other xdist workers' migrators share the server and hold theirs)
            assert query(direct, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                                 "WHERE l.locktype = 'advisory' AND d.datname = current_database()") == [(0,)]
            later = run_in_process(migrate_args(url, folder), cwd=tmp_path, env={"MIGRAKIT_LOCK_WAIT_TIMEOUT": "2"})
            assert later.returncode == 0, later.stderr
            assert "nothing to apply (2 already applied)" in later.stdout
            assert "waiting for the migration lock" not in later.stderr
            # Every server connection of the pool carries the server's defaults, none of migrakit's settings.
            assert settings_seen(url, 20) == {defaults(direct)}, bouncer.log()
        finally:
            server.drop_database(pg_server_url, name)


def test_racing_deploys_through_a_session_pool_smaller_than_the_racers_all_wait_and_succeed(
    tmp_path, pg_server_url, pgbouncer_session_small
):
    """8 migrators, 4 server connections in session mode: a waiter holds no server connection between its polls
    (its lock connection is closed, its migrating connection has sent nothing yet), so the holder's second
    connection is served and every waiter then finds nothing to do: all exit 0, each migration applied once."""
    name, direct = fresh_database(pg_server_url)
    try:
        folder = make_drizzle_folder(
            tmp_path, [("0000_slow", SLOW_THEN_INSERT), ("0001_more", "INSERT INTO hits VALUES ('0001');")]
        )
        url = pgbouncer_session_small.url(name)
        env = {"MIGRAKIT_LOCK_WAIT_TIMEOUT": "60"}
        procs = [start_cli(migrate_args(url, folder), cwd=tmp_path, env=env) for _ in range(RACERS)]
        results = [(p.wait(timeout=180), *p.communicate()) for p in procs]
        failed = [err for code, _, err in results if code]
        assert [code for code, _, _ in results] == [0] * RACERS, (failed, pgbouncer_session_small.log())
        assert sum("applied 2 migration(s)" in out for _, out, _ in results) == 1
        assert sorted(tracked(direct, "created_at")) == [1_700_000_000_000, 1_700_000_001_000]
        assert query(direct, "SELECT tag, count(*) FROM hits GROUP BY tag ORDER BY tag") == [("0000", 1), ("0001", 1)]
    finally:
        server.drop_database(pg_server_url, name)


def test_pooler_detection(pg_server_url, pgbouncer_transaction, pgbouncer_session, db_url):
    name = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    with server.connect(db_url, autocommit=True) as conn:
        assert pooler.detect(conn, db_url) == pooler.DIRECT
    url = pgbouncer_transaction.url(name)
    with server.connect(url, autocommit=True) as conn:
        found = pooler.detect(conn, url)
    assert found.present and found.transaction, found
    assert "transaction pooler" in found.describe() and "direct_url" in found.describe()
    url = pgbouncer_session.url(name)
    with server.connect(url, autocommit=True) as conn:
        found = pooler.detect(conn, url)
    assert found.present and not found.transaction, found


def test_status_and_env_check_say_a_transaction_pooler_is_in_between(tmp_path, pgbouncer_transaction, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_t", "CREATE TABLE t (id int);")])
    url = pgbouncer_transaction.url(psycopg.conninfo.conninfo_to_dict(db_url)["dbname"])
    status = run_in_process(["db.status", "--migrations-dir", str(folder), "--database-url", url], cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "connection: through a transaction pooler (PgBouncer?)" in status.stdout
    assert "migrations are guarded per transaction" in status.stdout
    direct = run_in_process(["db.status", "--migrations-dir", str(folder), "--database-url", db_url], cwd=tmp_path)
    assert "connection:" not in direct.stdout
    check = run_in_process(["env.check", "--migrations-dir", str(folder)], cwd=tmp_path, env={"DATABASE_URL": db_url})
    assert check.stdout.splitlines()[5] == "ok   connection: direct to PostgreSQL (no pooler seen)", check.stdout
    check = run_in_process(["env.check", "--migrations-dir", str(folder)], cwd=tmp_path, env={"DATABASE_URL": url})
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines()[5].startswith("ok   connection: through a transaction pooler (PgBouncer?)")
    assert "another client got the same server connection" in check.stdout or "moved to another" in check.stdout
    assert "direct_url (MIGRAKIT_DIRECT_URL)" in check.stdout


def test_concurrent_index_behind_a_transaction_pooler_needs_direct_url(tmp_path, pgbouncer_transaction, db_url):
    folder = make_drizzle_folder(
        tmp_path, [("0000_t", "CREATE TABLE t (id int);"), ("0001_idx", "CREATE INDEX CONCURRENTLY t_idx ON t (id);")]
    )
    url = pgbouncer_transaction.url(psycopg.conninfo.conninfo_to_dict(db_url)["dbname"])
    refused = run_in_process(migrate_args(url, folder), cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "0001_idx must run outside a transaction" in refused.stderr
    assert "transaction pooler (PgBouncer?)" in refused.stderr
    assert "MIGRAKIT_DIRECT_URL" in refused.stderr
    assert "nothing was run" in refused.stderr
    assert tables(db_url) == set()  # refused before anything ran, 0000_t included
    ok = run_in_process(migrate_args(url, folder), cwd=tmp_path, env={"MIGRAKIT_DIRECT_URL": db_url})
    assert ok.returncode == 0, ok.stderr + pgbouncer_transaction.log()
    assert "applied 2 migration(s)" in ok.stdout
    assert len(tracked(db_url)) == 2
    assert query(db_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_idx'::regclass") == [(True,)]
    assert settings_seen(url, 20) == {defaults(db_url)}
    again = run_in_process(migrate_args(url, folder), cwd=tmp_path, env={"MIGRAKIT_DIRECT_URL": db_url})
    assert again.returncode == 0 and "nothing to apply (2 already applied)" in again.stdout, again.stderr


def test_direct_url_of_another_database_is_refused(tmp_path, pgbouncer_transaction, db_url, pg_server_url):
    folder = make_drizzle_folder(tmp_path, [("0000_idx", "CREATE TABLE t (id int);\n--> statement-breakpoint\nCOMMIT;")])
    url = pgbouncer_transaction.url(psycopg.conninfo.conninfo_to_dict(db_url)["dbname"])
    result = run_in_process(migrate_args(url, folder), cwd=tmp_path, env={"MIGRAKIT_DIRECT_URL": pg_server_url})
    assert result.returncode == 2, result.stderr
    assert "names another database" in result.stderr
    assert tables(db_url) == set()


# --------------------------------------------------------------- exactly-once without the migration lock
@pytest.mark.parametrize("pipeline", [True, False])
def test_a_migration_tracked_by_another_migrator_meanwhile_is_not_applied_again(tmp_path, db_url, pipeline):
    folder = make_drizzle_folder(
        tmp_path, [("0000_a", "CREATE TABLE a (id int);"), ("0001_b", "CREATE TABLE b (id int);")]
    )
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), pipeline=pipeline)
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, Planned):  # planned; before its transaction starts, "another migrator" applies 0000_a
            with psycopg.connect(db_url) as other:
                # ... creating the tracking table first, as Drizzle does (this run, which found none, creates it
                # at the head of its first batch: IF NOT EXISTS then leaves the other's alone)
                other.execute("CREATE SCHEMA IF NOT EXISTS drizzle")
                other.execute("CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations "
                              "(id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)")  # fmt: skip
                other.execute("CREATE TABLE a (id int)")
                other.execute("INSERT INTO drizzle.__drizzle_migrations (hash, created_at) "
                              "SELECT %s, 1700000000000", (hash_of(folder, "0000_a"),))  # fmt: skip

    report = migrate(settings, on_event=on_event)
    assert any(isinstance(e, AppliedElsewhereSeen) for e in events)
    assert report.applied == ["0001_b"]
    assert len(tracked(db_url)) == 2  # 0000_a once (the other migrator's row), 0001_b once
    assert tables(db_url) == {"a", "b"}


@pytest.mark.parametrize("pipeline", [True, False])
def test_a_migration_transaction_waits_for_another_migrators_open_one(tmp_path, db_url, pipeline):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);")])
    settings = load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), pipeline=pipeline)
    other = psycopg.connect(db_url)
    seen = []

    def on_event(event):
        if isinstance(event, Planned):  # another migrator's migration transaction is open (it holds the apply key)
            other.execute("SELECT pg_advisory_xact_lock(%s)", (apply_key("drizzle", "__drizzle_migrations"),))
        if isinstance(event, AppliedElsewhereSeen):
            seen.append(event.busy)
            other.rollback()  # ... and ends without applying anything

    try:
        report = migrate(settings, on_event=on_event)
    finally:
        other.close()
    assert seen == [True]
    assert report.applied == ["0000_a"]
    assert len(tracked(db_url)) == 1


def hash_of(folder, tag):
    import hashlib

    return hashlib.sha256((folder / f"{tag}.sql").read_bytes()).hexdigest()


def test_a_statement_pooler_is_refused_by_name_before_anything_runs(tmp_path, pgbouncer_statement, db_url):
    """PgBouncer in pool_mode=statement refuses every transaction block: db.migrate and db.status used to end in a
    psycopg traceback, env.check said "ok ... assumed transaction pooling". Now: exit 2 naming it and the fix;
    db.status, which only reads (one implicit transaction), works and says which pooler it sees."""
    from tests.fixtures.cli import run_in_process

    folder = make_drizzle_folder(tmp_path, [("0000_t", "CREATE TABLE t (id int);")])
    url = pgbouncer_statement.url(psycopg.conninfo.conninfo_to_dict(db_url)["dbname"])
    status = run_in_process(["db.status", "--migrations-dir", str(folder), "--database-url", url], cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "connection: through a statement pooler (PgBouncer?, pool_mode=statement)" in status.stdout
    for args in (migrate_args(url, folder), ["env.check", "--migrations-dir", str(folder), "--database-url", url]):
        result = run_in_process(args, cwd=tmp_path)
        assert result.returncode == 2, f"{args[0]}: {result.stdout}{result.stderr}"
        out = result.stdout + result.stderr
        assert "Traceback" not in out, out
        assert "pool_mode=statement" in out and "pool_mode=transaction or session" in out, out
    assert tables(db_url) == set()
    found = pooler.detect(psycopg.connect(url, autocommit=True), url)
    assert found.statement and "statement pooler" in found.describe()
