"""One very large Mode 1 statement, sent as data and run by the server, so the client never holds it 3 times.

libpq keeps two copies of every query it sends: the message in its output buffer (grown to the next power of
two) and a copy kept for error reports (`strdup` in PQsendQueryGuts, PQsendQuery and PQsendPrepare), on top
of the caller's bytes. Through any query call a 60 MB statement costs about 3x its size in the client, plus
the file's text (the issue 12 figure: 4.8x). Instead, a statement over STREAM_LIMIT characters is copied,
1 MiB at a time, into a temporary table with `COPY ... (FORMAT BINARY)` (the encoded bytes of the file's
slice reach the server as written: no escaping, no reformatting) and a DO block runs it with PL/pgSQL's
EXECUTE, inside the migration's own transaction. The SQL the server runs is the slice of the original text,
byte for byte; only the way it travels changes. The temporary table is dropped before the statement runs
(the statement cannot see it) and at the latest at COMMIT/ROLLBACK (`ON COMMIT DROP`): nothing outlives the
transaction, also on a transaction pooler's connection.

Not streamed (sent as before, costing the memory above): when the session cannot create temporary tables or
use PL/pgSQL, in a read-only transaction (the statement then fails with the server's own message), and
statements PL/pgSQL's EXECUTE refuses or runs differently: COPY, and `SELECT ... INTO` anywhere in the statement
(after a WITH, in parentheses), found by the parser (`core/postgres/plpgsql.runs_in_execute`).
"""

from __future__ import annotations

import struct
from typing import Any

import psycopg

from migrakit.core.postgres.plpgsql import runs_in_execute
from migrakit.core.postgres.statements import Statement

STREAM_LIMIT = 8 << 20  # characters; under it the copies libpq makes are a few tens of MB at most
CHUNK = 1 << 20  # characters encoded and sent at a time

_PROBE = (
    "SELECT has_database_privilege(current_database(), 'TEMPORARY')"
    " AND current_setting('transaction_read_only') = 'off'"
    " AND EXISTS (SELECT FROM pg_language WHERE lanname = 'plpgsql' AND has_language_privilege(oid, 'USAGE'))"
)
_TABLE = "pg_temp.migrakit_large_statement"
_CREATE = f"CREATE TEMPORARY TABLE {_TABLE.split('.')[1]} (sql text NOT NULL) ON COMMIT DROP"
_UNCOMPRESSED = f"ALTER TABLE {_TABLE} ALTER sql SET STORAGE EXTERNAL"  # compressing 60 MB took 4x the COPY
_COPY = f"COPY {_TABLE} (sql) FROM STDIN (FORMAT BINARY)"
# The table is dropped before EXECUTE, so a statement naming a table of the same name finds its own; `|| ''`
# makes the text a value of its own (not a pointer into the table's TOAST storage, gone with the table).
_RUN = (
    "DO $migrakit$ DECLARE q text; BEGIN "
    f"SELECT sql || '' INTO STRICT q FROM {_TABLE}; DROP TABLE {_TABLE}; EXECUTE q; "
    "END $migrakit$"
)
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)  # signature, flags, header extension length
_TRAILER = struct.pack("!h", -1)


def _length(st: Statement) -> int:
    return st.end - st.start


def wanted(st: Statement) -> bool:
    """A statement to stream, if the session allows it (`streamable`)."""
    if _length(st) <= STREAM_LIMIT:
        return False
    return runs_in_execute(st.source, st.start, st.end)


def streamable(conn: psycopg.Connection[Any]) -> bool:
    """The open transaction may create a temporary table and run a DO block."""
    row = conn.execute(_PROBE).fetchone()
    return bool(row and row[0])


def _chunks(st: Statement, encoding: str) -> Any:
    for i in range(st.start, st.end, CHUNK):
        yield st.source[i : min(i + CHUNK, st.end)].encode(encoding)


def execute(conn: psycopg.Connection[Any], st: Statement) -> None:
    """Run `st` in the connection's open transaction through a temporary table (see the module's docstring).
    A failure raises the server's error, as sending the statement itself would; `error_position` maps its
    position back into the statement."""
    encoding = conn.info.encoding
    size = sum(len(chunk) for chunk in _chunks(st, encoding))  # binary COPY states the field's length first
    conn.execute(_CREATE)
    conn.execute(_UNCOMPRESSED)
    with conn.cursor() as cur:
        with cur.copy(_COPY) as copy:
            copy.write(_HEADER + struct.pack("!hi", 1, size))  # one row of one field, `size` bytes
            for chunk in _chunks(st, encoding):
                copy.write(chunk)
            copy.write(_TRAILER)
    conn.execute(_RUN)


def error_position(exc: psycopg.Error, st: Statement) -> int | None:
    """The 1-based character position into `st` of a streamed statement's error: EXECUTE reports it as the
    internal position into its query, which is the statement (a query of another length is not it, e.g. a
    function the statement called)."""
    diag = exc.diag
    if _length(st) <= STREAM_LIMIT or not diag.internal_position:
        return None
    query = diag.internal_query
    if query is None or len(query) != _length(st) or query[:200] != st.source[st.start : st.start + 200]:
        return None
    return int(diag.internal_position)
