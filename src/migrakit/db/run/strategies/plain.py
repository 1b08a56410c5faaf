"""Mode 1 without the pipeline (`pipeline = false`, or a statement too large to pipeline): one transaction per
migration, each statement alone over the extended query protocol, sent and answered one at a time; one over
8 MiB travels as COPY data and the server runs it (db/run/large_statement.py: libpq would hold it three times)."""

from __future__ import annotations

from migrakit.core.migration import Migration
from migrakit.db.run import large_statement
from migrakit.db.run.strategies.base import Run, Sent


class Plain(Run):
    def apply_one(self, m: Migration) -> None:
        def body(sent: list[Sent]) -> None:
            encoding = self.conn.info.encoding
            for i, st in enumerate(m.statements):
                cur = self.conn.cursor()
                sent.append(Sent(m, cur, st, i + 1))
                if large_statement.wanted(st) and large_statement.streamable(self.conn):
                    large_statement.execute(self.conn, st)  # as data, never 3 copies in libpq
                else:  # binary forces the extended protocol; bytes spare a copy of a giant statement
                    cur.execute(st.text.encode(encoding), binary=True)
                if self.fp is not None and self.fp.step():
                    self.fp.fire(self.conn)

        self.one_transaction(m, body)
