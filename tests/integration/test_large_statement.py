"""A statement over large_statement.STREAM_LIMIT travels as data (COPY into a temporary table, run by EXECUTE in
a DO block) so the client does not hold it three times (bench/ measures the memory). Here, on a real server,
with the limit lowered for the test: the server runs exactly the file's text (quotes, backslashes, tabs, CRLF,
non-ASCII), an error points at the same line and column with the same words as a statement sent directly,
nothing is left behind, and a session that may not create temporary tables sends it directly."""

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from migrakit.db.run import large_statement
from migrakit.db.run.strategies import pipelined
from tests.fixtures.cli import migrate_args, run_in_process
from tests.fixtures.folders import make_drizzle_folder
from tests.fixtures.inspect import query, tracked

LIMIT = 2_000
TABLE = 'CREATE TABLE "big" ("id" integer PRIMARY KEY, "v" text NOT NULL, "streamed" boolean NOT NULL);'
# current_query() is the client's top-level query: the DO block when streamed, the statement itself if not.
STREAMED = "current_query() LIKE 'DO $migrakit$%'"
ODD = "tab\there, back\\slash, CR LF\r\nline, 'quoted', é, 日本, 🐘"


def big_insert(rows: int, *, first: int = 0, bad_row: int | None = None) -> str:
    values = []
    for i in range(first, first + rows):
        v = "$odd$" + ODD + f" {i}$odd$" if i % 3 == 0 else f"E'esc\\\\aped\\t{i}'" if i % 3 == 1 else f"'plain ''{i}'''"
        values.append(f"({i}, {'nosuchfunction(1)' if i == bad_row else v}, {STREAMED})")
    return 'INSERT INTO "big" ("id", "v", "streamed") VALUES\n' + ",\r\n".join(values) + ";"


@pytest.fixture
def low_limit(monkeypatch):
    """Statements over LIMIT leave the pipeline and stream (the real limits: 1 MiB and 8 MiB)."""
    monkeypatch.setattr(pipelined, "PIPELINE_STATEMENT_LIMIT", LIMIT)
    monkeypatch.setattr(large_statement, "STREAM_LIMIT", LIMIT)


def _run(db_url, tmp_path, migrations, *, pipeline=True):
    folder = make_drizzle_folder(tmp_path, migrations)
    env = {"MIGRAKIT_PIPELINE": "true" if pipeline else "false"}
    return run_in_process(migrate_args(db_url, folder), cwd=tmp_path, env=env)


@pytest.mark.parametrize("pipeline", [True, False])
def test_a_streamed_statement_runs_the_files_exact_text(db_url, tmp_path, low_limit, pipeline):
    stmt = big_insert(60)
    assert len(stmt) > LIMIT
    result = _run(db_url, tmp_path, [("0000_table", TABLE), ("0001_big", stmt), ("0002_small", 'INSERT INTO "big" VALUES (1000, \'s\', ' + STREAMED + ");")], pipeline=pipeline)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(db_url) as conn:  # the same text sent directly gives the expected values
        conn.execute("CREATE TEMP TABLE expected (LIKE big)")
        conn.execute(stmt.replace('INTO "big"', "INTO expected"))
        got, want = "SELECT id, v FROM big", "SELECT id, v FROM expected"
        diff = conn.execute(f"({got} EXCEPT {want}) UNION ALL ({want} EXCEPT {got})").fetchall()
        assert diff == [(1000, "s")]  # only the small migration's row
        assert conn.execute("SELECT streamed FROM big WHERE id = 1000").fetchone() == (False,)  # sent directly
        assert conn.execute("SELECT count(*) FROM big WHERE streamed").fetchone() == (60,)
        assert conn.execute("SELECT v FROM big WHERE id = 3").fetchone() == (ODD + " 3",)
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = 'migrakit_large_statement'").fetchone() == (0,)
    assert len(tracked(db_url)) == 3


def test_statements_of_one_migration_stream_one_after_another(db_url, tmp_path, low_limit):
    stmts = [big_insert(60), 'CREATE INDEX "big_v" ON "big" ("v");', big_insert(60, first=1000)]
    result = _run(db_url, tmp_path, [("0000_table", TABLE), ("0001_two", "\n--> statement-breakpoint\n".join(stmts))])
    assert result.returncode == 0, result.stderr
    assert query(db_url, "SELECT count(*), count(*) FILTER (WHERE streamed), max(id) FROM big") == [(120, 120, 1059)]


def test_an_error_reads_as_if_the_statement_had_been_sent_directly(db_url, pg_server_url, tmp_path, low_limit, monkeypatch):
    """A function that does not exist on row 40 (line 41 of the file): the streamed run and a direct run (the
    limit raised again) print the same error, line and column included, and apply nothing of that migration."""
    stmt = big_insert(60, bad_row=40)
    migrations = [("0000_table", TABLE), ("0001_big", stmt)]
    streamed = _run(db_url, tmp_path, migrations, pipeline=False)
    assert streamed.returncode != 0
    line = stmt[: stmt.index("nosuchfunction")].count("\n") + 1
    col = len(stmt[: stmt.index("nosuchfunction")].rsplit("\n", 1)[-1]) + 1
    assert f"0001_big.sql:{line}:{col}" in streamed.stderr, streamed.stderr
    assert "function nosuchfunction(integer) does not exist" in streamed.stderr
    assert query(db_url, "SELECT count(*) FROM big") == [(0,)]
    assert len(tracked(db_url)) == 1

    monkeypatch.setattr(large_statement, "STREAM_LIMIT", 1 << 30)
    other = f"t_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {other}")
    try:
        direct = _run(_with_db(db_url, other), tmp_path / "direct", migrations, pipeline=False)
        assert direct.returncode == streamed.returncode
        def same(text: str) -> str:  # progress lines carry durations
            return re.sub(r"^(applied \S+) in \d+\.\d\d s$", r"\1", text, flags=re.MULTILINE)

        assert same(direct.stderr.replace(other, "DB")) == same(streamed.stderr.replace(urlsplit(db_url).path.lstrip("/"), "DB"))
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {other} WITH (FORCE)")


def test_a_unique_violation_keeps_its_detail(db_url, tmp_path, low_limit):
    stmt = big_insert(60).replace("(59, ", "(0, ")
    result = _run(db_url, tmp_path, [("0000_table", TABLE), ("0001_big", stmt)])
    assert result.returncode != 0
    assert "duplicate key value violates unique constraint" in result.stderr
    assert "Key (id)=(0) already exists." in result.stderr
    assert "0001_big.sql:1:1" in result.stderr  # no position from the server: the statement's start
    assert query(db_url, "SELECT count(*) FROM big") == [(0,)]


def test_without_temporary_tables_the_statement_is_sent_directly(db_url, pg_server_url, tmp_path, low_limit):
    role = f"mk_notemp_{uuid.uuid4().hex[:8]}"
    name = urlsplit(db_url).path.lstrip("/")
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT CREATE ON DATABASE {name} TO {role}")
        conn.execute(f"REVOKE TEMPORARY ON DATABASE {name} FROM PUBLIC")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {role}")
    try:
        result = _run(_with_user(db_url, role), tmp_path, [("0000_table", TABLE), ("0001_big", big_insert(60))])
        assert result.returncode == 0, result.stderr
        assert query(db_url, "SELECT count(*), count(*) FILTER (WHERE streamed) FROM big") == [(60, 0)]
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {role}")


def _with_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rsplit('@', 1)[-1]}"))


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))
