"""Migrations that run outside a transaction: detected before running, resumable after a failure halfway."""

import psycopg
import pytest

from migrakit.core.events import DroppedInvalidIndex, IndexAlreadyBuilt, Resumed
from migrakit.db.run import progress
from migrakit.errors import DriftError, LockTimeout, MigrakitError, MigrationFailed
from migrakit.sources.config import load_settings
from migrakit.sources.load import load_sources
from migrakit.workflows.migrate import migrate
from tests.fixtures.folders import add_migration, make_drizzle_folder
from tests.fixtures.inspect import progress_rows, query, tables, tracked


def settings_for(tmp_path, db_url, folder, **extra):
    return load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), **extra)


def has_migrakit_schema(db_url):
    return query(db_url, "SELECT to_regnamespace('migrakit') IS NOT NULL")[0][0]


SELF_MANAGED = (
    "CREATE TABLE a (id int);\n--> statement-breakpoint\nCOMMIT;\n--> statement-breakpoint\n"
    "INSERT INTO missing VALUES (1);\n--> statement-breakpoint\nCREATE TABLE b (id int);\n"
)


def test_plain_transactional_migrations_create_no_migrakit_schema(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);"), ("0001_b", "CREATE TABLE b (id int);")])
    migrate(settings_for(tmp_path, db_url, folder))
    assert tables(db_url) == {"a", "b"}
    assert not has_migrakit_schema(db_url)


def test_lone_concurrent_index_is_tracked_after_it_succeeded_and_leaves_no_progress(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path, [("0000_t", "CREATE TABLE t (id int);"), ("0001_idx", "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);")]
    )
    events = []
    report = migrate(settings_for(tmp_path, db_url, folder), on_event=events.append)
    assert report.applied == ["0000_t", "0001_idx"]
    assert query(db_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_idx'::regclass") == [(True,)]
    assert len(tracked(db_url)) == 2
    assert has_migrakit_schema(db_url)  # created lazily, for the migration that needed it
    assert progress_rows(db_url) == []  # deleted with the tracking row


def test_a_failed_concurrent_index_is_reported_and_its_invalid_index_dropped_by_the_next_run(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path,
        [
            ("0000_t", "CREATE TABLE t (email text);\n--> statement-breakpoint\nINSERT INTO t VALUES ('x'), ('x');"),
            ("0001_unique", 'CREATE UNIQUE INDEX CONCURRENTLY "T_email_key" ON t (email);'),
        ],
    )
    settings = settings_for(tmp_path, db_url, folder)
    with pytest.raises(MigrationFailed) as info:
        migrate(settings)
    err = info.value
    assert err.migration == "0001_unique" and err.sqlstate == "23505"
    assert 'left the INVALID index "public"."T_email_key" behind' in err.state
    assert "duplicate values" in err.fix and 'DROP INDEX CONCURRENTLY "public"."T_email_key";' in err.fix
    assert len(tracked(db_url)) == 1  # 0001 is not tracked
    assert query(db_url, """SELECT indisvalid FROM pg_index WHERE indexrelid = '"T_email_key"'::regclass""") == [(False,)]

    with psycopg.connect(db_url, autocommit=True) as conn:  # the data fix; the INVALID index is left as it is
        conn.execute("DELETE FROM t WHERE ctid <> (SELECT min(ctid) FROM t)")
    events = []
    report = migrate(settings, on_event=events.append)
    assert report.applied == ["0001_unique"]
    assert [(e.migration.tag, e.index) for e in events if isinstance(e, DroppedInvalidIndex)] == [("0001_unique", '"public"."T_email_key"')]
    assert query(db_url, """SELECT indisvalid FROM pg_index WHERE indexrelid = '"T_email_key"'::regclass""") == [(True,)]


def test_a_concurrent_index_that_timed_out_names_its_invalid_index_and_its_drop(tmp_path, db_url):
    """CREATE INDEX CONCURRENTLY records its index (INVALID) before it waits for the transactions writing the
    table; a lock_timeout there (retries exhausted, exit 4) leaves it: the error names it and its DROP, and keeps
    the timeout's own fix."""
    folder = make_drizzle_folder(
        tmp_path, [("0000_t", "CREATE TABLE t (id int);"), ("0001_idx", "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);")]
    )
    settings = settings_for(tmp_path, db_url, folder, lock_timeout="200ms", lock_retries=0)
    migrate(settings_for(tmp_path, db_url, folder), to="0000_t")
    with psycopg.connect(db_url) as writer:  # an open transaction that wrote to t: CIC waits for it
        writer.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(LockTimeout) as info:
            migrate(settings)
        writer.rollback()
    err = info.value
    assert err.migration == "0001_idx"
    assert 'left the INVALID index "public"."t_id_idx" behind' in err.state, err.state
    assert 'DROP INDEX CONCURRENTLY "public"."t_id_idx";' in err.fix, err.fix
    assert "raise lock_timeout" in err.fix  # the timeout's own fix stays first
    assert query(db_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_idx'::regclass") == [(False,)]
    assert len(tracked(db_url)) == 1


def test_a_valid_index_of_the_same_name_is_never_dropped(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path, [("0000_t", "CREATE TABLE t (id int);"), ("0001_idx", "CREATE INDEX CONCURRENTLY t_idx ON t (id);")]
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t0 (id int)")
        conn.execute("CREATE INDEX t_idx ON t0 (id)")  # someone else's index, valid
    with pytest.raises(MigrationFailed) as info:
        migrate(settings_for(tmp_path, db_url, folder))
    assert info.value.sqlstate == "42P07"
    assert 'index "public"."t_idx" already exists and is valid' in info.value.state
    assert "IF NOT EXISTS" in info.value.fix
    assert query(db_url, "SELECT indrelid::regclass::text FROM pg_index WHERE indexrelid = 't_idx'::regclass") == [("t0",)]


def test_a_self_managed_migration_that_failed_halfway_resumes_after_the_fix(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_halfway", SELF_MANAGED)])
    settings = settings_for(tmp_path, db_url, folder)
    with pytest.raises(MigrationFailed) as info:
        migrate(settings)
    err = info.value
    assert err.statement_no == 3
    assert "statements 1-2 of 4 took effect" in err.state and "resumes at statement 3" in err.state
    assert "edit only statement 3 or later" in err.fix
    assert tables(db_url) == {"a"}
    assert tracked(db_url) == []
    assert progress_rows(db_url) == [("0000_halfway", 1), ("0000_halfway", 2)]

    # The fix touches only the statement that failed; statements 1-2 must not run again ("a" exists).
    (folder / "0000_halfway.sql").write_text(SELF_MANAGED.replace("INSERT INTO missing VALUES (1);", "CREATE TABLE c (id int);"))
    events = []
    report = migrate(settings, on_event=events.append)
    assert report.applied == ["0000_halfway"]
    assert [e.done for e in events if isinstance(e, Resumed)] == [2]
    assert tables(db_url) == {"a", "b", "c"}
    assert tracked(db_url) == [load_sources(settings).migrations[0].hash]  # the fixed file's hash
    assert progress_rows(db_url) == []


def test_changing_a_statement_that_already_took_effect_is_refused(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_halfway", SELF_MANAGED)])
    settings = settings_for(tmp_path, db_url, folder)
    with pytest.raises(MigrationFailed):
        migrate(settings)
    add_migration(folder, "0001_later", "CREATE TABLE later (id int);")
    edited = SELF_MANAGED.replace("CREATE TABLE a (id int);", "CREATE TABLE a (id bigint);")
    (folder / "0000_halfway.sql").write_text(edited.replace("INSERT INTO missing VALUES (1);", "SELECT 1;"))
    with pytest.raises(DriftError) as info:
        migrate(settings)
    err = info.value
    assert err.exit_code == 3 and err.statement_no == 1 and err.migration == "0000_halfway"
    assert progress.forget_sql("drizzle.__drizzle_migrations", "0000_halfway") in err.fix
    assert "statements 1-2 of 0000_halfway are in the database" in err.state
    assert tables(db_url) == {"a"}  # nothing ran, not even the later migration
    assert tracked(db_url) == []
    assert progress_rows(db_url) == [("0000_halfway", 1), ("0000_halfway", 2)]

    # The documented way out: undo by hand, forget the progress, run from the first statement.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE a")
        conn.execute(progress.forget_sql("drizzle.__drizzle_migrations", "0000_halfway"))
    assert migrate(settings).applied == ["0000_halfway", "0001_later"]
    assert query(db_url, "SELECT data_type FROM information_schema.columns WHERE table_name = 'a'") == [("bigint",)]


def test_statements_inside_the_files_own_transaction_roll_back_together(tmp_path, db_url):
    body = "BEGIN;\nCREATE TABLE a (id int);\nINSERT INTO missing VALUES (1);\nCOMMIT;\n"
    folder = make_drizzle_folder(tmp_path, [("0000_own_tx", body)])
    settings = settings_for(tmp_path, db_url, folder)
    with pytest.raises(MigrationFailed) as info:
        migrate(settings)
    assert info.value.statement_no == 3
    assert "nothing from 0000_own_tx was applied" in info.value.state
    assert tables(db_url) == set() and progress_rows(db_url) == []
    (folder / "0000_own_tx.sql").write_text(body.replace("INSERT INTO missing VALUES (1);", "CREATE TABLE b (id int);"))
    assert migrate(settings).applied == ["0000_own_tx"]
    assert tables(db_url) == {"a", "b"}


def test_a_no_transaction_statement_mixed_with_others_is_refused_before_anything_runs(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path,
        [("0000_ok", "CREATE TABLE ok (id int);"), ("0001_mixed", "CREATE TABLE t (id int);\n--> statement-breakpoint\nVACUUM t;")],
    )
    with pytest.raises(MigrakitError, match="cannot run in a transaction") as info:
        migrate(settings_for(tmp_path, db_url, folder))
    assert info.value.migration == "0001_mixed" and (info.value.line, info.value.col) == (3, 1)
    assert "migration of its own" in info.value.fix
    assert tables(db_url) == set()  # not even 0000_ok ran


def test_single_transaction_fails_as_drizzle_on_a_statement_that_must_run_outside_one(tmp_path, db_url):
    """Drizzle's single transaction cannot hold CREATE INDEX CONCURRENTLY: the server refuses it (25001), all is
    rolled back, and the error says how to end the transaction before it (tests/interop compares with Drizzle)."""
    folder = make_drizzle_folder(
        tmp_path, [("0000_t", "CREATE TABLE t (id int);"), ("0001_idx", "CREATE INDEX CONCURRENTLY t_idx ON t (id);")]
    )
    with pytest.raises(MigrationFailed) as info:
        migrate(settings_for(tmp_path, db_url, folder), single_transaction=True)
    assert (info.value.migration, info.value.statement_no, info.value.sqlstate) == ("0001_idx", 1, "25001")
    assert "COMMIT;" in info.value.fix and info.value.state.startswith("nothing from this run was applied")
    assert tables(db_url) == set()


def test_an_index_built_by_a_run_that_died_before_recording_it_is_not_built_twice(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path, [("0000_t", "CREATE TABLE t (id int);"), ("0001_idx", "CREATE INDEX CONCURRENTLY t_idx ON t (id);")]
    )
    settings = settings_for(tmp_path, db_url, folder)
    cic = load_sources(settings).migrations[1]
    # The state a run leaves when it dies right after the index was built: a started row, a valid index.
    migrate(settings_for(tmp_path, db_url, make_drizzle_folder(tmp_path / "first", [("0000_t", "CREATE TABLE t (id int);")])))
    with psycopg.connect(db_url, autocommit=True) as conn:
        progress.ensure_table(conn)
        progress.record(conn, "drizzle.__drizzle_migrations", cic, 1, started=True)
        conn.execute("CREATE INDEX CONCURRENTLY t_idx ON t (id)")
    events = []
    report = migrate(settings, on_event=events.append)
    assert report.applied == ["0001_idx"]
    assert [e.index for e in events if isinstance(e, IndexAlreadyBuilt)] == ['"public"."t_idx"']
    assert len(tracked(db_url)) == 2 and progress_rows(db_url) == []


def test_an_index_of_the_same_name_in_another_schema_is_never_taken_for_this_ones(db_url):
    """Tenants in one database build `accounts_id` side by side: the leftover check looks only in the schema of
    the statement's table (as its search_path resolves it), so one tenant never drops or skips on another's
    index, valid or still building (INVALID)."""
    from migrakit.core.postgres.statements import split_statements
    from migrakit.db.run.translate import existing_index

    stmt = split_statements("CREATE INDEX CONCURRENTLY accounts_id ON accounts (id);")[0]
    with psycopg.connect(db_url, autocommit=True) as conn:
        for schema in ("tenant_a", "tenant_b"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; CREATE TABLE {schema}.accounts (id int)")
        conn.execute("CREATE INDEX accounts_id ON tenant_a.accounts (id)")
        conn.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'tenant_a.accounts_id'::regclass")
        try:
            conn.execute("SET search_path = tenant_b")
            assert existing_index(conn, stmt) is None
            conn.execute("SET search_path = tenant_a")
            assert existing_index(conn, stmt) == ("tenant_a", "accounts_id", False)
            qualified = split_statements("CREATE INDEX CONCURRENTLY accounts_id ON tenant_a.accounts (id);")[0]
            conn.execute("SET search_path = tenant_b")
            assert existing_index(conn, qualified) == ("tenant_a", "accounts_id", False)
        finally:
            conn.execute("RESET search_path; DROP SCHEMA tenant_a CASCADE; DROP SCHEMA tenant_b CASCADE")
