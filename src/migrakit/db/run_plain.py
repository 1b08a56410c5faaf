"""Mode 1 without the pipeline (`pipeline = false`, or a statement too large to pipeline): one transaction per
migration, each statement alone over the extended query protocol, sent and answered one at a time."""

from __future__ import annotations

from .run_base import Run, Sent
from ..core.migration import Migration


class Plain(Run):
    def apply_one(self, m: Migration) -> None:
        def body(sent: list[Sent]) -> None:
            encoding = self.conn.info.encoding
            for i, st in enumerate(m.statements):
                cur = self.conn.cursor()
                sent.append(Sent(m, cur, st, i + 1))
                # binary forces the extended protocol; bytes spare a copy of a giant statement
                cur.execute(st.text.encode(encoding), binary=True)
                if self.fp is not None and self.fp.step():
                    self.fp.fire(self.conn)

        self.one_transaction(m, body)
