"""`db.migrate --single-transaction` leaves exactly what Drizzle's own migrator leaves (exit zero or not, tracking
rows, normalized schema, row counts): on every corpus folder and on small folders that manage transactions
themselves, run by both on twin fresh databases."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from migrakit.core.events import LockRetry
from migrakit.sources.config import load_settings
from migrakit.sources.load import load_sources
from migrakit.workflows.migrate import migrate
from tests.fixtures.cli import migrate_args, run_in_process
from tests.fixtures.folders import make_drizzle_folder
from tests.fixtures.inspect import query, tracked
from tests.interop.drizzle import drizzle_migrate_many
from tests.interop.twins import Outcome, fresh_databases, migrakit_run, outcome

pytestmark = pytest.mark.interop

BP = "\n--> statement-breakpoint\n"
CORPUS_CASES = ["vercel-ai-chatbot", "mail0-zero", "kan", "legacy-two-systems", "reactive-resume-v1"]


def major_of(folder: Path) -> int:
    return 0 if (folder / "meta" / "_journal.json").is_file() else 1


def both(folder: Path, pg_server_url: str, pg_template: str, pg_bin: Path, root: Path) -> tuple[Outcome, Outcome]:
    """(migrakit --single-transaction, Drizzle) on twin fresh databases."""
    with fresh_databases(pg_server_url, pg_template) as fresh:
        ours_url, theirs_url = fresh(), fresh()
        [theirs] = drizzle_migrate_many([(folder, theirs_url, major_of(folder))])
        ok, err = migrakit_run(folder, ours_url, root, single_transaction=True)
        return outcome(ours_url, ok, err, pg_bin), outcome(theirs_url, theirs["ok"], theirs, pg_bin)


def v1_folder(root: Path, migrations: list[tuple[str, str]]) -> Path:
    """A Drizzle 1.0 folder: <YYYYMMDDHHMMSS>_<name>/migration.sql."""
    folder = root / "migrations"
    for i, (name, body) in enumerate(migrations):
        (folder / f"2025010100{i:04d}_{name}").mkdir(parents=True)
        (folder / f"2025010100{i:04d}_{name}" / "migration.sql").write_text(body, encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------------------ corpus
def test_every_corpus_case_is_listed(corpus_dir):
    assert sorted(p.name for p in corpus_dir.iterdir() if (p / "migrations").is_dir()) == sorted(CORPUS_CASES)


@pytest.mark.corpus
@pytest.mark.parametrize("case", CORPUS_CASES)
def test_corpus_folder_equals_drizzle(case, corpus_dir, pg_server_url, pg_template, pg_bin, tmp_path):
    ours, theirs = both(corpus_dir / case / "migrations", pg_server_url, pg_template, pg_bin, tmp_path)
    assert ours.same_as(theirs), ours.diff(theirs)
    assert ours.rows or not ours.ok  # a run that applied nothing and succeeded would prove nothing


# ----------------------------------------------------------------------------------------- small folders
SMALL = {
    # a file's own BEGIN inside Drizzle's transaction only warns; it fails before its COMMIT: all rolled back
    "own-begin-fails-before-commit": [
        ("0000_a", "CREATE TABLE a (id int);"),
        ("0001_b", "BEGIN;\nCREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\nSELECT 1/0;\nCOMMIT;\n"),
    ],
    # 0000 commits (and with it Drizzle's transaction); 0001's first piece runs in autocommit, its second fails
    "commits-then-later-fails-in-second-piece": [
        ("0000_a", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;"),
        ("0001_b", "CREATE TABLE b (id int);" + BP + "INSERT INTO nowhere VALUES (1);"),
    ],
    # after its own COMMIT a file fails: what ran alone stayed, the tracking row was never written
    "fails-after-own-commit-pieces": [
        ("0000_a", "CREATE TABLE a (id int);" + BP + "COMMIT;" + BP + "CREATE TABLE b (id int);" + BP + "SELECT 1/0;"),
    ],
    # the same without breakpoints: one query; after its COMMIT the rest is one implicit transaction, undone
    "fails-after-own-commit-one-chunk": [
        ("0000_a", "CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\nSELECT 1/0;\n"),
    ],
    # CREATE INDEX CONCURRENTLY in its own piece after the file's COMMIT: runs in autocommit, succeeds
    "concurrently-after-own-commit": [
        ("0000_t", "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (2);"),
        ("0001_idx", "COMMIT;" + BP + "CREATE INDEX CONCURRENTLY t_idx ON t (id);" + BP + "CREATE TABLE after_idx (id int);"),
        ("0002_more", "CREATE INDEX CONCURRENTLY t_idx2 ON t (id);"),
    ],
    # ... in the same query as the COMMIT: an implicit transaction block, where it fails (25001)
    "concurrently-after-commit-same-chunk": [
        ("0000_t", "CREATE TABLE t (id int);"),
        ("0001_idx", "COMMIT;\nCREATE INDEX CONCURRENTLY t_idx ON t (id);"),
    ],
    # a lone CREATE INDEX CONCURRENTLY with no COMMIT before it fails inside Drizzle's transaction
    "concurrently-without-commit": [
        ("0000_t", "CREATE TABLE t (id int);"),
        ("0001_idx", "CREATE INDEX CONCURRENTLY t_idx ON t (id);"),
    ],
    # giselle's shape: breakpoint-less BEGIN ... COMMIT files, one after the other, all succeed
    "breakpointless-begin-commit-files": [
        ("0000_a", "BEGIN;\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nCOMMIT;\n"),
        ("0001_b", "BEGIN;\nALTER TABLE a ADD COLUMN n text;\nUPDATE a SET n = 'x';\nCOMMIT;\n"),
        ("0002_c", "CREATE TABLE c (id int);"),
    ],
    # a file opens a transaction and leaves it open: later rows join it, Drizzle's final commit commits it
    "begin-left-open": [
        ("0000_a", "CREATE TABLE a (id int);\nCOMMIT;"),
        ("0001_b", "CREATE TABLE b (id int); BEGIN; INSERT INTO b VALUES (1);"),
        ("0002_c", "CREATE TABLE c (id int);"),
    ],
    # ... and then fails: Drizzle's rollback undoes that open transaction only
    "begin-left-open-then-fails": [
        ("0000_a", "CREATE TABLE a (id int);\nCOMMIT;"),
        ("0001_b", "CREATE TABLE b (id int); BEGIN; INSERT INTO b VALUES (1);"),
        ("0002_c", "CREATE TABLE c (id int);" + BP + "SELECT 1/0;"),
    ],
    # a file's ROLLBACK discards Drizzle's transaction (0000 and its row); what follows autocommits
    "file-rollback": [
        ("0000_a", "CREATE TABLE a (id int);"),
        ("0001_r", "ROLLBACK;"),
        ("0002_c", "CREATE TABLE c (id int);"),
    ],
    # a byte-order mark reaches the server as it does from node (Drizzle does not strip it)
    "byte-order-mark": [
        ("0000_a", "CREATE TABLE a (id int);"),
        ("0001_bom", "\ufeffCREATE TABLE bom (id int);"),
    ],
    # a UNIQUE index built concurrently after a COMMIT fails on duplicates and leaves an INVALID index behind
    "unique-concurrently-fails-after-commit": [
        ("0000_t", "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1), (1);"),
        ("0001_uq", "COMMIT;" + BP + "CREATE UNIQUE INDEX CONCURRENTLY t_uq ON t (id);"),
    ],
    # the connection dies after a file's COMMIT (the migration kills its own backend)
    "connection-killed-after-commit": [
        ("0000_a", "CREATE TABLE a (id int);\nCOMMIT;"),
        ("0001_kill", "CREATE TABLE b (id int);" + BP + "SELECT pg_terminate_backend(pg_backend_pid());"),
    ],
    # empty chunks and a comment-only chunk are sent too (empty queries)
    "empty-chunks": [
        ("0000_a", "CREATE TABLE a (id int);" + BP + BP + "-- nothing\n" + BP),
    ],
    # deliberate no-ops (comments only, an empty file) and the untouched --custom template: Drizzle records each
    # (issue 23.5: the default mode refuses only the template, --single-transaction refuses none)
    "comment-only-and-template": [
        ("0000_a", "CREATE TABLE a (id int);"),
        ("0001_noop", "-- no DDL needed: the change is in the JSONB payload\n"),
        ("0002_empty", ""),
        ("0003_custom", "-- Custom SQL migration file, put your code below! --"),
        ("0004_b", "CREATE TABLE b (id int);"),
    ],
}


# what Drizzle leaves (exit zero, tracking rows, rows per table), as the comments above say: pinned, so that a
# Drizzle release that behaves otherwise is noticed, not silently matched
EXPECTED = {
    "own-begin-fails-before-commit": (False, 0, {}),
    "commits-then-later-fails-in-second-piece": (False, 1, {"public.a": 0, "public.b": 0}),
    "fails-after-own-commit-pieces": (False, 0, {"public.a": 0, "public.b": 0}),
    "fails-after-own-commit-one-chunk": (False, 0, {"public.a": 0}),
    "concurrently-after-own-commit": (True, 3, {"public.after_idx": 0, "public.t": 2}),
    "concurrently-after-commit-same-chunk": (False, 1, {"public.t": 0}),
    "concurrently-without-commit": (False, 0, {}),
    "breakpointless-begin-commit-files": (True, 3, {"public.a": 1, "public.c": 0}),
    "begin-left-open": (True, 3, {"public.a": 0, "public.b": 1, "public.c": 0}),
    "begin-left-open-then-fails": (False, 1, {"public.a": 0}),
    "file-rollback": (True, 2, {"public.c": 0}),
    "byte-order-mark": (False, 0, {}),
    "empty-chunks": (True, 1, {"public.a": 0}),
    "comment-only-and-template": (True, 5, {"public.a": 0, "public.b": 0}),
    "connection-killed-after-commit": (False, 1, {"public.a": 0, "public.b": 0}),
    "unique-concurrently-fails-after-commit": (False, 1, {"public.t": 2}),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_folder_equals_drizzle(name, pg_server_url, pg_template, pg_bin, tmp_path):
    folder = make_drizzle_folder(tmp_path, SMALL[name])
    ours, theirs = both(folder, pg_server_url, pg_template, pg_bin, tmp_path)
    assert (theirs.ok, len(theirs.rows), theirs.counts) == EXPECTED[name], theirs.error
    assert ours.same_as(theirs), ours.diff(theirs)


def test_small_folder_in_drizzle1_layout_equals_drizzle1(pg_server_url, pg_template, pg_bin, tmp_path):
    folder = v1_folder(
        tmp_path,
        [
            ("a", "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;"),
            ("idx", "COMMIT;" + BP + "CREATE INDEX CONCURRENTLY a_idx ON a (id);"),
            ("bad", "CREATE TABLE b (id int);" + BP + "SELECT 1/0;"),
        ],
    )
    ours, theirs = both(folder, pg_server_url, pg_template, pg_bin, tmp_path)
    assert ours.same_as(theirs), ours.diff(theirs)
    assert not ours.ok and [r["name"] for r in ours.rows] == ["20250101000000_a", "20250101000001_idx"]


# ------------------------------------------------------------------------------------- what errors say
def test_error_after_a_commit_names_what_stayed_committed(pg_server_url, pg_template, pg_bin, tmp_path):
    folder = make_drizzle_folder(tmp_path, SMALL["commits-then-later-fails-in-second-piece"])
    ours, theirs = both(folder, pg_server_url, pg_template, pg_bin, tmp_path)
    assert ours.same_as(theirs), ours.diff(theirs)
    err = ours.error
    assert (err.migration, err.statement_no, err.statement_count, err.line) == ("0001_b", 2, 2, 3)
    assert err.file.endswith("0001_b.sql")
    assert "relation \"nowhere\" does not exist" in err.cause
    assert "stayed committed: 0000_a; 0001_b statement(s) 1 of 2" in err.state
    assert "tracked by this run: 0000_a" in err.state
    assert "not tracked although partly applied: 0001_b" in err.state
    assert "0001_b is not tracked although statement(s) 1 of 2 took effect" in err.fix
    assert [r["hash"] for r in ours.rows] == [r["hash"] for r in theirs.rows] and len(ours.rows) == 1


def test_error_before_any_commit_says_nothing_was_applied(pg_server_url, pg_template, pg_bin, tmp_path):
    folder = make_drizzle_folder(tmp_path, SMALL["own-begin-fails-before-commit"])
    ours, theirs = both(folder, pg_server_url, pg_template, pg_bin, tmp_path)
    assert ours.same_as(theirs), ours.diff(theirs)
    err = ours.error
    assert (err.migration, err.statement_no, err.line) == ("0001_b", 4, 4)
    assert err.state.startswith("nothing from this run was applied")
    assert ours.rows == [] and ours.counts == {}


def test_a_failing_statement_inside_a_multi_statement_chunk_is_located(pg_server_url, pg_template, pg_bin, tmp_path):
    body = "CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\nSELECT * FROM  nowhere;\n"
    folder = make_drizzle_folder(tmp_path, [("0000_a", body)])
    ours, theirs = both(folder, pg_server_url, pg_template, pg_bin, tmp_path)
    assert ours.same_as(theirs), ours.diff(theirs)
    err = ours.error
    assert (err.statement_no, err.statement_count, err.line, err.col) == (4, 4, 4, 16)  # the server's position
    assert "0000_a statement(s) 1-2 of 4" in err.state and "tracked by this run: none" in err.state
    assert list(ours.counts) == ['public.a']  # b was in the implicit transaction the error undid


def test_a_lost_connection_says_what_stayed_committed(pg_server_url, pg_template, pg_bin, tmp_path):
    folder = make_drizzle_folder(tmp_path, SMALL["connection-killed-after-commit"])
    ours, theirs = both(folder, pg_server_url, pg_template, pg_bin, tmp_path)
    assert ours.same_as(theirs), ours.diff(theirs)
    err = ours.error
    assert err.exit_code == 6 and err.migration == "0001_kill" and "statement 2 of 2" in err.message
    assert err.state.startswith("stayed committed: 0000_a; 0001_kill statement(s) 1 of 2; tracked by this run: 0000_a")


def test_an_invalid_index_left_behind_is_named_with_its_drop(pg_server_url, pg_template, pg_bin, tmp_path):
    folder = make_drizzle_folder(tmp_path, SMALL["unique-concurrently-fails-after-commit"])
    ours, theirs = both(folder, pg_server_url, pg_template, pg_bin, tmp_path)
    assert ours.same_as(theirs), ours.diff(theirs)
    err = ours.error
    assert err.sqlstate == "23505" and (err.migration, err.statement_no) == ("0001_uq", 2)
    assert 'left the INVALID index "public"."t_uq" behind' in err.state
    assert 'DROP INDEX CONCURRENTLY "public"."t_uq";' in err.fix and "does not drop it" in err.fix


def test_concurrently_inside_the_transaction_explains_the_fix(pg_server_url, pg_template, pg_bin, tmp_path):
    folder = make_drizzle_folder(tmp_path, SMALL["concurrently-without-commit"])
    ours, theirs = both(folder, pg_server_url, pg_template, pg_bin, tmp_path)
    assert ours.same_as(theirs), ours.diff(theirs)
    assert ours.error.sqlstate == theirs.error["sqlstate"] == "25001"
    assert "COMMIT;" in ours.error.fix and "without --single-transaction" in ours.error.fix


def test_cli_exits_1_and_prints_the_state(db_url, tmp_path):
    folder = make_drizzle_folder(tmp_path, SMALL["commits-then-later-fails-in-second-piece"])
    proc = run_in_process(migrate_args(db_url, folder, "--single-transaction"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout + proc.stderr
    assert "0001_b" in out and "statement 2 of 2" in out
    assert "stayed committed: 0000_a" in out and "Traceback" not in out


def test_a_lock_timeout_is_retried_from_begin_while_nothing_is_committed(db_url, tmp_path):
    """Another session holds a lock 0001 needs for a moment: the run hits lock_timeout, rolls back and starts
    again from BEGIN (nothing was committed yet); it then succeeds, each migration applied once."""
    migrations = [("0000_a", "CREATE TABLE a (id int);"), ("0001_b", "ALTER TABLE a ADD COLUMN n int;")]
    assert migrakit_run(make_drizzle_folder(tmp_path / "first", migrations[:1]), db_url, tmp_path, single_transaction=True) == (True, None)
    folder = make_drizzle_folder(tmp_path / "both", migrations)
    events: list[str] = []
    held = psycopg.connect(db_url)
    held.execute("LOCK TABLE a IN ACCESS EXCLUSIVE MODE")
    timer = threading.Timer(1.5, held.rollback)
    timer.start()
    try:
        settings = load_settings(
            tmp_path, env={"MIGRAKIT_LOCK_TIMEOUT": "300ms", "MIGRAKIT_LOCK_RETRIES": "5"}, database_url=db_url,
            migrations_dir=str(folder),
        )  # fmt: skip
        report = migrate(settings, single_transaction=True, on_event=events.append)
    finally:
        timer.join()
        held.close()
    assert report.applied == ["0001_b"] and any(isinstance(e, LockRetry) for e in events)
    assert tracked(db_url) == [m.hash for m in load_sources(settings).migrations]
    assert query(db_url, "SELECT attname FROM pg_attribute WHERE attrelid = 'a'::regclass AND attnum > 0 ORDER BY attnum") == [("id",), ("n",)]


# ------------------------------------------------------------------------------ the guide's example, checked
GUIDE = [
    ("0000_accounts", "BEGIN;\nCREATE TABLE accounts (id int PRIMARY KEY);\nINSERT INTO accounts VALUES (1);\nCOMMIT;\n"),
    ("0001_orders", "CREATE TABLE orders (id int, account_id int);" + BP + "CREATE INDEX orders_account_idx ON orders (acount_id);\n"),
]


def test_the_guides_example_leaves_what_the_guide_says(pg_server_url, pg_template, pg_bin, tmp_path):
    """docs/MIGRATION_GUIDE.md, `--single-transaction`: 0000 commits by itself, 0001 fails in its second piece."""
    folder = make_drizzle_folder(tmp_path, GUIDE)
    with fresh_databases(pg_server_url, pg_template) as fresh:
        single, default, theirs_url = fresh(), fresh(), fresh()
        [theirs] = drizzle_migrate_many([(folder, theirs_url, 0)])
        ours = outcome(single, *migrakit_run(folder, single, tmp_path, single_transaction=True), pg_bin)
        assert ours.same_as(outcome(theirs_url, theirs["ok"], theirs, pg_bin))
        assert not ours.ok and len(ours.rows) == 1 and ours.counts == {"public.accounts": 1, "public.orders": 0}
        assert ours.error.state.startswith(
            "stayed committed: 0000_accounts; 0001_orders statement(s) 1 of 2; tracked by this run: 0000_accounts; "
            "not tracked although partly applied: 0001_orders"
        )
        ok, err = migrakit_run(folder, default, tmp_path, single_transaction=False)
        kept = outcome(default, ok, err, pg_bin, drop_own=True)
        assert not ok and len(kept.rows) == 1 and kept.counts == {"public.accounts": 1}
        assert err.state.startswith("nothing from 0001_orders was applied")
        assert err.state.endswith("applied and tracked before it in this run: 0000_accounts")

        # the typo fixed: the default applies 0001; a Drizzle-style run starts 0001 again and fails, like Drizzle
        (folder / "0001_orders.sql").write_text(GUIDE[1][1].replace("acount_id", "account_id"))
        assert migrakit_run(folder, default, tmp_path, single_transaction=False) == (True, None)
        ok, err = migrakit_run(folder, single, tmp_path, single_transaction=True)
        [again] = drizzle_migrate_many([(folder, theirs_url, 0)])
        assert not ok and not again["ok"] and err.sqlstate == again["sqlstate"] == "42P07"
        assert 'relation "orders" already exists' in err.cause and (err.migration, err.statement_no) == ("0001_orders", 1)
