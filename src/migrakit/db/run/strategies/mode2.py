"""Mode 2 (consolidated files, legacy files run by db.bootstrap): the whole file as ONE simple-protocol query in
one transaction with its tracking row.

The file is sent as written (one message; the simple protocol allows many statements) through
simple_query.py (beside this module), which returns the statements the server completed with the error. A failure then
names the statement and its line:col: by the server's position, an offset into the whole file, when the error has one;
else as the first statement the server did not complete (translate.whole_file_failure).
"""

from __future__ import annotations

from migrakit.core.migration import Migration
from migrakit.db.run.strategies import simple_query
from migrakit.db.run.strategies.base import Run, Sent


class Mode2(Run):
    def apply_one(self, m: Migration) -> None:
        def body(sent: list[Sent]) -> None:
            whole = Sent(m, None, None, None, whole_file=True)
            sent.append(whole)
            outcome = simple_query.run(self.conn, m.text.encode("utf-8"))
            whole.done = len(outcome.tags)
            if outcome.error is not None:
                raise outcome.error
            if self.fp is not None and self.fp.step():  # a Mode 2 file counts as one statement
                self.fp.fire(self.conn)

        self.one_transaction(m, body)
