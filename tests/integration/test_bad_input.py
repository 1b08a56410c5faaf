"""Every bad input through the real CLI (non-TTY): a clear error naming file, migration and fix, the documented
exit code, and nothing changed (database, tracking table, files). Warnings where Drizzle accepts the input."""

import hashlib
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from tests.fixtures.cli import migrate_args, run_in_process, wait_for
from tests.fixtures.folders import make_consolidation, make_drizzle_folder

GOOD = ("0000_good", "CREATE TABLE good (id int);")


# --------------------------------------------------------------------------------------------- helpers
def snapshot(db_url, root: Path):
    """Everything a failed run must leave alone: schemas, tables, tracking rows and every file's bytes."""
    with psycopg.connect(db_url) as conn:
        schemas = sorted(r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%%'"))
        tables = sorted(r[0] for r in conn.execute("SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"))
        rows = (
            conn.execute("SELECT id, hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id").fetchall()
            if "drizzle.__drizzle_migrations" in tables
            else None
        )
    files = {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}
    return schemas, tables, rows, files


def refused(tmp_path, db_url, folder, code, *needles, env=None):
    """Run db.migrate; assert the exit code, the message parts and that nothing changed. Returns stderr."""
    before = snapshot(db_url, tmp_path)
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env=env)
    assert result.returncode == code, result.stdout + result.stderr
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in:\n{result.stderr}"
    assert "fix:" in result.stderr and "state:" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(db_url, tmp_path) == before
    return result.stderr


def journal_path(folder):
    return folder / "meta" / "_journal.json"


def edit_journal(folder, change):
    data = json.loads(journal_path(folder).read_text())
    change(data)
    journal_path(folder).write_text(json.dumps(data, indent=2))


# ------------------------------------------------------------------------------------- journal and files
def test_truncated_journal(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    journal_path(folder).write_text(journal_path(folder).read_text()[:90])
    refused(tmp_path, db_url, folder, 1, "error: journal is not valid JSON", "file:   migrations/meta/_journal.json:", "nothing was run")


def test_journal_that_is_not_a_journal(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    journal_path(folder).write_text('{"version": "7", "dialect": "postgresql"}')
    refused(tmp_path, db_url, folder, 1, "journal has no `entries` list", "migrations/meta/_journal.json")


def test_entry_without_its_file(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD, ("0001_gone", "CREATE TABLE gone (id int);")])
    (folder / "0001_gone.sql").unlink()
    refused(
        tmp_path, db_url, folder, 1,
        "journal entry '0001_gone' has no file 0001_gone.sql", "file:   migrations/meta/_journal.json",
        "restore migrations/0001_gone.sql",
    )


def test_duplicate_tag(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD, ("0001_b", "CREATE TABLE b (id int);")])
    edit_journal(folder, lambda j: j["entries"].append({**j["entries"][1], "idx": 2, "when": j["entries"][1]["when"] + 1}))
    refused(tmp_path, db_url, folder, 1, "tag '0001_b' appears twice in the journal (entries #1 and #2)", "remove the duplicate entry")


def test_file_that_is_not_utf8(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD, ("0001_latin1", "-- caf\xe9\nCREATE TABLE b (id int);".encode("latin-1"))])
    refused(
        tmp_path, db_url, folder, 1,
        "file is not valid UTF-8 (byte 0xe9 at offset 6)", "migrations/0001_latin1.sql:1", "migration: 0001_latin1", "iconv",
    )


@pytest.mark.parametrize(
    "body, needles",
    [
        ("CREATE TABLE b (id int);\n\\i other.sql\n", ["psql meta-command `\\i`", "migrations/0001_bad.sql:2:1"]),
        ("\\connect other\nCREATE TABLE b (id int);\n", ["psql meta-command `\\connect`", "migrations/0001_bad.sql:1:1"]),
        ("\\set ON_ERROR_STOP on\nCREATE TABLE b (id int);\n", ["psql meta-command `\\set`", "migrations/0001_bad.sql:1:1"]),
        (
            "CREATE TABLE b (id int);\n--> statement-breakpoint\nCREATE FUNCTION f() RETURNS int AS $body$ SELECT 1;\n",
            ["cannot split the SQL", "migrations/0001_bad.sql:3:", "close the quote, dollar quote or comment"],
        ),
        ("CREATE TABLE b (id int);\n/* a comment that never /* ends */\n", ["cannot split the SQL", "migrations/0001_bad.sql:2:1"]),
    ],
    ids=["include", "connect", "set", "dollar-quote", "nested-comment"],
)
def test_sql_that_cannot_be_run_statement_by_statement(tmp_path, db_url, body, needles):
    folder = make_drizzle_folder(tmp_path, [GOOD, ("0001_bad", body)])
    stderr = refused(tmp_path, db_url, folder, 1, *needles, "migration: 0001_bad")
    assert "nothing was run" in stderr  # not even 0000_good: every pending file is split before any SQL runs


def test_consolidated_file_that_does_not_match_its_manifest(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    consolidated = tmp_path / "migrations-consolidated"
    make_consolidation(consolidated, "20240101000000_all", "CREATE TABLE t (id int);\n", 1_600_000_000_000, [("0000_old", 1, "0" * 64)])
    (consolidated / "20240101000000_all.sql").write_text("CREATE TABLE t (id bigint);\n")
    refused(
        tmp_path, db_url, folder, 1,
        "migrations-consolidated/20240101000000_all.sql does not match its manifest",
        "migrations-consolidated/20240101000000_all.toml",
        "git checkout -- migrations-consolidated/20240101000000_all.sql",
    )


# ---------------------------------------------------------------------- accepted as Drizzle accepts them
def test_what_drizzle_accepts_runs_with_warnings(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path,
        [GOOD, ("0002_b", "CREATE TABLE b (id int);"), ("0003_c", "CREATE TABLE c (id int);")],
        whens=[1_700_000_000_000, 1_700_000_009_000, 1_700_000_005_000],  # `when` goes back at 0003_c
    )
    edit_journal(folder, lambda j: [e.update(idx=i * 2) for i, e in enumerate(j["entries"])])  # idx 0, 2, 4
    (folder / "0001_orphan.sql").write_text("DROP TABLE good;")  # in no journal entry: ignored
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "applied 3 migration(s): 0000_good, 0002_b, 0003_c" in out
    assert "warning: idx jumps from 0 to 2 at 0002_b" in out
    assert "warning: `when` of 0003_c (1700000005000) is not after 0002_b's (1700000009000)" in out
    assert "warning: 0001_orphan.sql is not in the journal: Drizzle and migrakit ignore it" in out
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('good') IS NOT NULL").fetchone() == (True,)


def test_the_untouched_template_is_refused_and_with_allow_empty_recorded_as_drizzle_records_it(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path,
        [
            GOOD,
            ("0001_custom", "-- Custom SQL migration file, put your code below! --"),
            ("0002_empty", ""),
            ("0003_chunks", "CREATE TABLE a ();\n--> statement-breakpoint\n--> statement-breakpoint\n\nCREATE TABLE b ();\n--> statement-breakpoint\n"),
        ],
    )
    err = refused(tmp_path, db_url, folder, 1, "migration 0001_custom holds no SQL statement: its SQL was never written")
    assert "also forgotten" not in err  # an empty file is no forgotten --custom migration
    result = run_in_process(migrate_args(db_url, folder, "--allow-empty"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "applied 4 migration(s)" in result.stdout
    assert "warning: migrations/0001_custom.sql holds no SQL statement: still db.generate --custom's header and nothing else: db.migrate refuses it" in result.stdout
    assert "note: 0001_custom: no statement: still db.generate --custom's header and nothing else: recorded as applied" in result.stdout
    assert "note: 0002_empty: no statement: empty file: recorded as applied without running anything, as Drizzle does" in result.stdout
    assert "0002_empty.sql holds no SQL" not in result.stdout and "0003_chunks" not in result.stdout.split("applied 4")[1].split("\n", 1)[1]
    with psycopg.connect(db_url) as conn:
        hashes = [r[0] for r in conn.execute("SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id")]
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (3,)
    assert hashes[2] == hashlib.sha256(b"").hexdigest()


def test_bom_and_crlf_run_and_keep_the_hash_of_the_bytes(tmp_path, db_url):
    bom_crlf = b"\xef\xbb\xbfCREATE TABLE a (id int);\r\n--> statement-breakpoint\r\nCREATE TABLE b (id int);\r\n"
    crlf = b"CREATE TABLE c (\r\n  id int\r\n);\r\n"
    folder = make_drizzle_folder(tmp_path, [("0000_bom", bom_crlf), ("0001_crlf", crlf)])
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: migrations/0000_bom.sql starts with a UTF-8 byte order mark" in result.stdout
    assert "0001_crlf" not in result.stdout.split("applied", 1)[1].split("\n", 1)[1]  # no warning for CRLF
    with psycopg.connect(db_url) as conn:
        hashes = [r[0] for r in conn.execute("SELECT hash FROM drizzle.__drizzle_migrations ORDER BY id")]
    assert hashes == [hashlib.sha256(bom_crlf).hexdigest(), hashlib.sha256(crlf).hexdigest()]


# ------------------------------------------------------------------------------------------- database
def with_user(url: str, user: str, password: str | None) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    auth = f"{user}:{password}" if password is not None else user
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}"))


def test_unreachable_database(tmp_path):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    before = snapshot_files(tmp_path)
    url = "postgresql://app:Unreachable-S3cret@127.0.0.1:1/app"
    result = run_in_process(migrate_args(None, folder), cwd=tmp_path, env={"DATABASE_URL": url})
    assert result.returncode == 6
    assert "error: cannot connect to postgresql://app:***@127.0.0.1:1/app: the server is unreachable" in result.stderr
    assert "fix:" in result.stderr
    assert "Unreachable-S3cret" not in result.stdout + result.stderr
    assert snapshot_files(tmp_path) == before


def snapshot_files(root):
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


PASSWORD_GROUP = "mk_password_required"  # scripts/test-server.sh asks members of this role for their password


@pytest.fixture
def password_role_url(pg_server, db_url):
    """(role, URL of db_url's database for it) for a role that must give its password (scram-sha-256). On the
    session's own embedded server (trust for everyone) a rule for it goes into pg_hba.conf for the test; on an external
    server it joins PASSWORD_GROUP (scripts/test-server.sh requires a password from its members)."""
    role, correct = f"mk_pw_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex[:10]}"
    hba = pg_server.pgdata / "pg_hba.conf" if pg_server.pgdata is not None else None
    original = hba.read_text() if hba else None
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{correct}'")
        if hba:
            hba.write_text(f"local all {role} scram-sha-256\nhost all {role} all scram-sha-256\n" + original)
            conn.execute("SELECT pg_reload_conf()")
        elif conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (PASSWORD_GROUP,)).fetchone():
            conn.execute(f"GRANT {PASSWORD_GROUP} TO {role}")

    def rejected() -> bool:
        try:
            psycopg.connect(with_user(db_url, role, "not-it"), connect_timeout=5).close()
            return False
        except psycopg.OperationalError:
            return True

    try:
        try:
            wait_for(rejected, "the server to ask for passwords", timeout=10)
        except AssertionError:
            pytest.skip(f"the test server trusts every role (scripts/test-server.sh makes members of {PASSWORD_GROUP} give a password)")
        yield role, db_url
    finally:
        with psycopg.connect(pg_server.url, autocommit=True) as conn:
            if hba:
                hba.write_text(original)
                conn.execute("SELECT pg_reload_conf()")
            conn.execute(f"DROP ROLE IF EXISTS {role}")


def test_wrong_password_is_never_printed(tmp_path, password_role_url):
    role, db_url = password_role_url
    folder = make_drizzle_folder(tmp_path, [GOOD])
    secret = "Wr0ng-Pa55word-xyzzy"
    url = with_user(db_url, role, secret)
    for args, env in ((migrate_args(None, folder), {"DATABASE_URL": url}), (migrate_args(url, folder), {})):
        result = run_in_process(args, cwd=tmp_path, env=env)
        assert result.returncode == 6, result.stderr
        assert "authentication failed" in result.stderr
        assert f"{role}:***@" in result.stderr
        assert secret not in result.stdout + result.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regnamespace('drizzle')").fetchone() == (None,)


@pytest.fixture
def low_role(pg_server_url, db_url):
    """A login role with no privileges beyond CONNECT; returns (name, its URL for db_url's database)."""
    name = f"mk_low_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
    yield name, with_user(db_url, name, None)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {name}")
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {name}")


def test_no_permission_to_create_the_tracking_schema(tmp_path, db_url, low_role):
    _, low_url = low_role
    folder = make_drizzle_folder(tmp_path, [("0000_select", "SELECT 1;")])
    before = snapshot(db_url, tmp_path)
    result = run_in_process(migrate_args(low_url, folder), cwd=tmp_path)
    assert result.returncode == 6, result.stderr
    assert 'error: the database role may not create the tracking table "drizzle"."__drizzle_migrations"' in result.stderr
    assert "permission denied for database" in result.stderr
    assert "nothing was run" in result.stderr and "GRANT USAGE ON SCHEMA" in result.stderr
    assert snapshot(db_url, tmp_path) == before


def test_no_permission_on_the_tracking_schema(tmp_path, db_url, low_role):
    name, low_url = low_role
    folder = make_drizzle_folder(tmp_path, [GOOD])
    migrate(load_settings(tmp_path, env={}, database_url=db_url, migrations_dir=str(folder)))
    (folder.parent / "more").mkdir()
    more = make_drizzle_folder(tmp_path / "more", [GOOD, ("0001_insert", "INSERT INTO good VALUES (1);")])
    before = snapshot(db_url, tmp_path)
    result = run_in_process(migrate_args(low_url, more), cwd=tmp_path)
    assert result.returncode == 6, result.stderr
    assert 'error: the database role may not read the tracking table "drizzle"."__drizzle_migrations"' in result.stderr
    assert "permission denied for schema drizzle" in result.stderr
    assert snapshot(db_url, tmp_path) == before

    # With exactly the grants the fix names, the role migrates, though it may not CREATE anything.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"GRANT USAGE ON SCHEMA drizzle TO {name}")
        conn.execute(f"GRANT SELECT, INSERT ON drizzle.__drizzle_migrations TO {name}")
        conn.execute(f"GRANT USAGE ON SEQUENCE drizzle.__drizzle_migrations_id_seq TO {name}")
        conn.execute(f"GRANT INSERT ON good TO {name}")
    result = run_in_process(migrate_args(low_url, more), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "applied 1 migration(s): 0001_insert" in result.stdout


# ------------------------------------------------------------------------- errors are never swallowed
def test_a_failing_run_in_ci_prints_the_whole_error(tmp_path, db_url):
    folder = make_drizzle_folder(
        tmp_path, [GOOD, ("0001_bad", "CREATE TABLE half (id int);\n--> statement-breakpoint\nINSERT INTO missing VALUES (1);")]
    )
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env={"CI": "true", "TERM": "dumb"})
    assert result.returncode == 1
    err = result.stderr
    assert "error: migration 0001_bad failed at statement 2 of 2" in err
    assert "file:   migrations/0001_bad.sql:3:13" in err
    assert 'cause:  relation "missing" does not exist (42P01 UndefinedTable)' in err
    assert "state:  nothing from 0001_bad was applied (its transaction was rolled back); tracking table unchanged; " \
        "applied and tracked before it in this run: 0000_good" in err
    assert "fix:    create the table in an earlier migration" in err

    as_json = run_in_process(migrate_args(db_url, folder, "--json"), cwd=tmp_path)
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["kind"] == "migration-failed" and error["exit_code"] == 1
    assert (error["file"], error["migration"], error["line"], error["col"]) == ("migrations/0001_bad.sql", "0001_bad", 3, 13)
    assert all(error[k] for k in ("cause", "state", "fix"))


def test_a_timeout_setting_the_server_would_refuse_is_a_configuration_error(tmp_path, db_url):
    folder = make_drizzle_folder(tmp_path, [GOOD])
    result = run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env={"MIGRAKIT_LOCK_TIMEOUT": "5 parsecs"})
    assert result.returncode == 2, result.stderr
    # refused when the settings load, before connecting (tests/integration/test_settings_match_server.py proves
    # the check reads durations exactly as the server does)
    assert "error: lock_timeout = '5 parsecs' (environment variable MIGRAKIT_LOCK_TIMEOUT) is not a duration PostgreSQL accepts" in result.stderr
    assert "'parsecs' is not a unit PostgreSQL knows" in result.stderr
    assert "'500ms'" in result.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT to_regclass('drizzle.__drizzle_migrations')").fetchone() == (None,)
        assert conn.execute("SELECT to_regclass('good')").fetchone() == (None,)
