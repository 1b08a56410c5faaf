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


@pytest.mark.parametrize("window", [(3, 1 << 30), (1 << 30, 40)], ids=["commands", "bytes"])
def test_a_full_window_waits_for_results_without_a_sync(conn, window):
    """Past the window (commands, or bytes of SQL, sent and not answered yet) `send` waits for results: a
    Flush, not a Sync, so the commands are answered while no Sync has been sent."""
    with pipeline.Commands(conn, window=window) as cmds:
        for i in range(50):
            cmds.send(f"SELECT {i} AS number_of_this_command".encode())  # 37-38 bytes
            assert cmds.sent - cmds.done <= 3
        assert cmds._syncs == 0 and cmds.done >= 47
        cmds.sync()
    assert (cmds.done, cmds.error) == (50, None)


def test_an_error_while_the_window_waits_is_raised_and_the_rest_skipped(conn):
    conn.execute("CREATE TABLE t (id int primary key)")
    with pytest.raises(psycopg.errors.UniqueViolation), pipeline.Commands(conn, window=(1, 1 << 30)) as cmds:
        cmds.send(b"BEGIN")
        cmds.send(b"INSERT INTO t VALUES (1)")
        cmds.send(b"INSERT INTO t VALUES (1)")
        cmds.send(b"INSERT INTO t VALUES (2)")  # raises: the error came while the window waited
        cmds.send(b"COMMIT")
    assert (cmds.done, cmds.failed, cmds.sent) == (2, 2, 4)
    # every command was answered before the error was raised: a Sync was still sent on leaving, so the server
    # stopped skipping and answers the next query (it waited forever before)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
