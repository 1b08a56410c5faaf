"""The lock-safe sequence of a migration: the fixer `db.lint --fix`, `db.generate`, `db.baseline` and `db.check`'s
suggested fix share.

`safe_sequence(texts)` takes a migration's statements (slices of the original text) and returns the migrations
that do the same work without holding a lock that blocks writes while PostgreSQL scans or rewrites a table:

- `CREATE INDEX` -> `CREATE INDEX CONCURRENTLY`, in a migration of its own (it cannot run in a transaction);
  `DROP INDEX` -> `DROP INDEX CONCURRENTLY` (own migration); an index the author already wrote `CONCURRENTLY`
  also moves into a migration of its own (db.migrate refuses to mix it with other statements);
- a foreign key or `CHECK` added -> `NOT VALID`, and its `VALIDATE CONSTRAINT` in the next migration (a
  `VALIDATE` the migration itself holds moves there too);
- `SET NOT NULL` -> a `CHECK (col IS NOT NULL) NOT VALID`, validated in the next migration, then `SET NOT NULL`
  (PostgreSQL 12+ skips its scan when a valid check proves it) and the check dropped;
- a `UNIQUE` constraint -> `CREATE UNIQUE INDEX CONCURRENTLY` (own migration), then `ADD CONSTRAINT … UNIQUE
  USING INDEX`;
- `REFRESH MATERIALIZED VIEW` -> `CONCURRENTLY` when the view has a unique index (a catalog fact: `Facts`);
- a column added with a volatile default (`random()`, `gen_random_uuid()`, `clock_timestamp()`, …: PostgreSQL
  rewrites the table for it) -> the column without default, the default set (new rows get it), then the
  existing rows backfilled in batches that each commit, in a migration of their own (a DO block db.migrate runs
  outside a transaction: backfill.py), then, for a NOT NULL column, NOT NULL through a validated check.
  `now()` is stable, not volatile: PostgreSQL 11+ stores it once without a rewrite, so it is left alone.
- a `serial` (`bigserial`, `smallserial`) column added -> what the shorthand stands for, with PostgreSQL's names:
  `CREATE SEQUENCE <table>_<col>_seq AS integer`, the column as the plain integer type, `OWNED BY` it, then the
  volatile default's steps with `nextval(…)` (serial.py); an identity column (without sequence options) -> the
  column added plain with a default from a sequence of its own, the same steps, then the default dropped,
  `ADD GENERATED … AS IDENTITY`, its sequence set where the first one stopped, and the first one dropped.

Edits are textual: `CONCURRENTLY` inserted after `INDEX`/`VIEW`, ` NOT VALID` appended, so the author's
formatting stays; only the statements the sequence adds (validate, the check, the index of a constraint, the
backfill) are written new. Statements on a table created earlier in the same migration need no fix (the table
is empty). A statement the fixer does not understand is kept as it is. Pure: text in, data out.

Modules: sequence.py (`safe_sequence` and the rewrites), backfill.py (the volatile default and its batched
backfill), serial.py (a serial or identity column backfilled from a sequence), edit.py (the textual edits),
pairs.py (the no-op drop/re-add pairs a diff leaves out, comments kept).
"""

from migrakit.core.fix.backfill import BATCH_ROWS as BATCH_ROWS
from migrakit.core.fix.backfill import VOLATILE_DEFAULTS as VOLATILE_DEFAULTS
from migrakit.core.fix.edit import quote_ident as quote_ident
from migrakit.core.fix.edit import render_migration as render_migration
from migrakit.core.fix.pairs import with_leading_comments as with_leading_comments
from migrakit.core.fix.pairs import without_noop_pairs as without_noop_pairs
from migrakit.core.fix.sequence import Change as Change
from migrakit.core.fix.sequence import Facts as Facts
from migrakit.core.fix.sequence import SafeSequence as SafeSequence
from migrakit.core.fix.sequence import safe_sequence as safe_sequence
