"""db/run/pipeline.Commands on a real server: Mode 1's pipeline, one libpq call per command, results counted."""

import psycopg
import pytest

from migrakit.db.run import pipeline


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


def test_commands_and_parameters_complete_and_the_connection_is_usable_after(conn):
    with pipeline.Commands(conn) as cmds:
        assert cmds.send(b"BEGIN") == 0
        cmds.send(b"CREATE TABLE t (id int, note text, flag bool)")
        cmds.send(b"INSERT INTO t VALUES ($1, $2, $3)", (7, "it's", True))
        cmds.send(b"COMMIT")
        cmds.sync()
    assert (cmds.done, cmds.failed, cmds.error) == (4, None, None)
    assert conn.execute("SELECT id, note, flag FROM t").fetchall() == [(7, "it's", True)]


def test_the_first_error_names_its_command_and_the_rest_is_skipped(conn):
    conn.execute("CREATE TABLE t (id int primary key)")
    with pytest.raises(psycopg.errors.UniqueViolation), pipeline.Commands(conn) as cmds:
        cmds.send(b"BEGIN")
        cmds.send(b"INSERT INTO t VALUES (1)")
        cmds.send(b"INSERT INTO t VALUES (1)")
        cmds.send(b"INSERT INTO t VALUES (2)")
        cmds.send(b"COMMIT")
        cmds.sync()
    assert (cmds.done, cmds.failed) == (2, 2)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR  # out of pipeline mode, aborted
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_copy_to_stdout_is_read_and_dropped(conn):
    with pipeline.Commands(conn) as cmds:
        cmds.send(b"COPY (SELECT generate_series(1, 1000)) TO STDOUT")
        cmds.send(b"SELECT 2")
        cmds.sync()
    assert (cmds.done, cmds.error) == (2, None)
    assert conn.execute("SELECT 3").fetchone() == (3,)


def test_copy_from_stdin_fails_instead_of_waiting_for_data(conn):
    """The commands queued after it reach a server reading COPY data: it ends the session (protocol), and the
    error says so; nothing waits."""
    conn.execute("CREATE TABLE t (id int)")
    with pytest.raises(psycopg.OperationalError), pipeline.Commands(conn) as cmds:
        cmds.send(b"BEGIN")
        cmds.send(b"COPY t FROM STDIN")
        cmds.send(b"COMMIT")
        cmds.sync()
    assert cmds.done == 1 and conn.closed
