"""db.migrate on a real PostgreSQL, in every executor mode."""

import psycopg
import pytest

from migrakit.core import events
from migrakit.db.run.strategies import pipelined
from migrakit.errors import DriftError, MigrakitError, MigrationFailed, SplitError
from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from migrakit.workflows.status import status as run_status
from tests.fixtures.folders import add_migration, make_drizzle_folder

MODES = {
    "mode1": {"pipeline": False},
    "mode1-pipelined": {"pipeline": True},
}


@pytest.fixture(params=sorted(MODES))
def mode(request):
    return MODES[request.param]


def settings_for(tmp_path, db_url, folder, **extra):
    return load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder), **extra)


def rows(db_url):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()


def tables(db_url):
    with psycopg.connect(db_url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_each_statement_runs_alone_even_without_breakpoints(tmp_path, db_url, mode):
    body = "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n-- trailing comment; with a semicolon\n"
    folder = make_drizzle_folder(tmp_path, [("0000_two_statements", body)])
    report = migrate(settings_for(tmp_path, db_url, folder, **mode))
    assert report.applied == ["0000_two_statements"]
    assert tables(db_url) == {"a", "b"}


def test_the_seeds_error_whole_piece_over_extended_protocol_fails(db_url):
    body = "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n"
    with psycopg.connect(db_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError, match="cannot insert multiple commands into a prepared statement"):
            conn.execute(body, prepare=True)


def test_failure_rolls_back_only_that_migration(tmp_path, db_url, mode):
    folder = make_drizzle_folder(
        tmp_path,
        [
            ("0000_ok", "CREATE TABLE ok (id int);"),
            ("0001_bad", "CREATE TABLE half (id int);\n--> statement-breakpoint\nINSERT INTO missing VALUES (1);"),
            ("0002_later", "CREATE TABLE later (id int);"),
        ],
    )
    with pytest.raises(MigrationFailed) as info:
        migrate(settings_for(tmp_path, db_url, folder, **mode))
    err = info.value
    assert err.migration == "0001_bad"
    assert err.statement_no == 2
    assert (err.line, err.col) == (3, 13)  # the position of "missing" in the file
    assert err.sqlstate == "42P01"
    assert "0000_ok" in (err.state or "")
    assert err.fix
    assert tables(db_url) == {"ok"}
    assert len(rows(db_url)) == 1


@pytest.mark.parametrize("window", [None, 1], ids=["one-sync", "window-of-one-command"])
def test_failure_in_the_middle_of_a_pipelined_batch_commits_exactly_the_migrations_before_it(
    tmp_path, db_url, monkeypatch, window
):
    """Five Mode 1 migrations go out as one pipelined batch; the 3rd fails at its 2nd statement. Also with a
    window of one command (as a large file gets one of 8 MB): the batch waits for each result before sending
    the next command, so the error arrives while it waits, before the batch's Sync."""
    if window:
        monkeypatch.setattr(pipelined, "_WINDOW_COMMANDS", window)
    bad = "CREATE TABLE c (id int);\n--> statement-breakpoint\nINSERT INTO c\n  SELECT nope FROM c;"
    good = bad.replace("nope", "id")
    migrations = [
        ("0000_a", "CREATE TABLE a (id int);"),
        ("0001_b", "CREATE TABLE b (id int);\n--> statement-breakpoint\nINSERT INTO b VALUES (1);"),
        ("0002_c", bad),
        ("0003_d", "CREATE TABLE d (id int);"),
        ("0004_e", "CREATE TABLE e (id int);"),
    ]
    folder = make_drizzle_folder(tmp_path, migrations)
    seen = []
    with pytest.raises(MigrationFailed) as info:
        migrate(settings_for(tmp_path, db_url, folder, pipeline=True), on_event=lambda e: seen.append(e))
    err = info.value
    assert (err.migration, err.statement_no, err.statement_count) == ("0002_c", 2, 2)
    assert (err.line, err.col) == (4, 10)  # "nope", on the statement's second line
    assert err.sqlstate == "42703"
    assert "applied and tracked before it in this run: 0000_a, 0001_b" in (err.state or "")
    assert tables(db_url) == {"a", "b"}
    assert len(rows(db_url)) == 2
    assert [e.migration.tag for e in seen if isinstance(e, events.Done)] == ["0000_a", "0001_b"]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM b").fetchone() == (1,)
        aborted = ("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction (aborted)' "
                   "AND datname = current_database()")  # other xdist workers may share the server
        assert conn.execute(aborted).fetchone() == (0,)

    (folder / "0002_c.sql").write_text(good)  # not applied yet: fixing it is allowed
    report = migrate(settings_for(tmp_path, db_url, folder, pipeline=True))
    assert report.applied == ["0002_c", "0003_d", "0004_e"]
    assert tables(db_url) == {"a", "b", "c", "d", "e"}
    assert len(rows(db_url)) == 5


def test_file_with_its_own_commit_runs_outside_a_transaction(tmp_path, db_url):
    body = (
        "CREATE TABLE t (id int);\n--> statement-breakpoint\nCOMMIT;\n--> statement-breakpoint\n"
        "CREATE INDEX CONCURRENTLY t_id_idx ON t (id);"
    )
    folder = make_drizzle_folder(tmp_path, [("0000_concurrently", body)])
    migrate(settings_for(tmp_path, db_url, folder))
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_id_idx'::regclass").fetchone() == (True,)
    assert len(rows(db_url)) == 1


def test_lone_concurrent_index_runs_in_autocommit(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path,
        [("0000_t", "CREATE TABLE t (id int);"), ("0001_idx", "CREATE INDEX CONCURRENTLY t_idx ON t (id);")],
    )
    assert migrate(settings_for(tmp_path, db_url, folder)).applied == ["0000_t", "0001_idx"]


def test_concurrent_index_mixed_with_other_statements_is_refused_before_running(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path, [("0000_mixed", "CREATE TABLE t (id int);\nCREATE INDEX CONCURRENTLY t_idx ON t (id);")]
    )
    with pytest.raises(MigrakitError, match="cannot run in a transaction") as info:
        migrate(settings_for(tmp_path, db_url, folder))
    assert "own" in info.value.fix
    assert tables(db_url) == set()


def test_single_transaction_rolls_back_everything(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path, [("0000_ok", "CREATE TABLE ok (id int);"), ("0001_bad", "SELECT * FROM nowhere;")]
    )
    with pytest.raises(MigrationFailed):
        migrate(settings_for(tmp_path, db_url, folder), single_transaction=True)
    assert tables(db_url) == set()
    assert rows(db_url) == []


def test_edited_applied_migration_is_reported_as_drift(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);")])
    migrate(settings_for(tmp_path, db_url, folder))
    (folder / "0000_a.sql").write_text("CREATE TABLE a (id bigint);")
    with pytest.raises(DriftError, match="has changed") as info:
        migrate(settings_for(tmp_path, db_url, folder))
    assert info.value.exit_code == 3
    status = run_status(settings_for(tmp_path, db_url, folder))
    assert [p.kind for p in status.plan.problems] == ["edited"]


def test_out_of_order_migration_needs_the_flag(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);")], whens=[2000])
    migrate(settings_for(tmp_path, db_url, folder))
    add_migration(folder, "0001_from_old_branch", "CREATE TABLE b (id int);", when=1000)
    with pytest.raises(DriftError, match="skip it forever"):
        migrate(settings_for(tmp_path, db_url, folder))
    assert tables(db_url) == {"a"}
    report = migrate(settings_for(tmp_path, db_url, folder), out_of_order=True)
    assert report.applied == ["0001_from_old_branch"]


def test_unterminated_dollar_quote_stops_before_anything_runs(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path,
        [("0000_ok", "CREATE TABLE ok (id int);"), ("0001_broken", "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1;")],
    )
    with pytest.raises(SplitError) as info:
        migrate(settings_for(tmp_path, db_url, folder))
    assert info.value.migration == "0001_broken"
    assert (info.value.line, info.value.col) == (1, 36)
    assert tables(db_url) == set()


def test_status_changes_nothing(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);")])
    report = run_status(settings_for(tmp_path, db_url, folder))
    assert [m.tag for m in report.plan.pending] == ["0000_a"]
    assert not report.table_exists
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regnamespace('drizzle')").fetchone() == (None,)


def test_dry_run_changes_nothing(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [("0000_a", "CREATE TABLE a (id int);")])
    report = migrate(settings_for(tmp_path, db_url, folder), dry_run=True)
    assert [m.tag for m in report.plan.pending] == ["0000_a"]
    assert tables(db_url) == set()
