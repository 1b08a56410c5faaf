"""db/run/strategies/simple_query.py on a real server: one multi-statement query read result by result through psycopg.pq."""

import psycopg
import pytest

from migrakit.db.run.strategies import simple_query


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def test_every_statement_completes_with_its_command_tag(conn):
    out = simple_query.run(conn, b"CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2); SELECT * FROM t;")
    assert out.error is None and out.tags == ("CREATE TABLE", "INSERT 0 2", "SELECT 2")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)  # the connection is usable after it


def test_an_error_comes_back_with_the_statements_completed_before_it(conn):
    out = simple_query.run(conn, b"CREATE TABLE t (id int primary key); INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); SELECT 1;")
    assert out.tags == ("CREATE TABLE", "INSERT 0 1")
    assert isinstance(out.error, psycopg.errors.UniqueViolation) and out.error.diag.statement_position is None
    assert conn.execute("SELECT to_regclass('t')").fetchone() == (None,)  # one implicit transaction: all undone


def test_copy_from_stdin_fails_instead_of_waiting_for_data(conn):
    out = simple_query.run(conn, b"CREATE TABLE t (id int); COPY t FROM STDIN; SELECT 1;")
    assert out.tags == ("CREATE TABLE",) and out.error is not None
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_copy_to_stdout_is_read_and_dropped(conn):
    out = simple_query.run(conn, b"CREATE TABLE t AS SELECT generate_series(1, 1000) AS n; COPY t TO STDOUT; SELECT 2;")
    assert out.error is None and out.tags == ("SELECT 1000", "COPY 1000", "SELECT 1")
    assert conn.execute("SELECT 3").fetchone() == (3,)


def test_a_terminated_session_returns_the_servers_error(conn):
    out = simple_query.run(conn, b"SELECT 1; SELECT pg_terminate_backend(pg_backend_pid());")
    assert out.tags == ("SELECT 1",) and out.error is not None and out.error.sqlstate == "57P01"
    assert conn.closed
