"""A column added with a volatile default, made lock-safe: the column added without it, the default set (new rows
get it), the existing rows backfilled in batches that each commit, then NOT NULL through a validated check when
the column had it. Pure.

`ALTER TABLE t ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid()` computes a value per row, so PostgreSQL
rewrites the whole table under AccessExclusiveLock; one `UPDATE` instead would hold every row's lock and write
all the WAL in one transaction. The backfill is a `DO` block in a migration of its own whose loop commits after
each batch (`batch_rows` rows): the row locks last one batch, each batch's WAL is written and shipped before
the next, and a run that stops (lock_timeout, a cancel, a lost connection) keeps the batches that committed;
running it again goes on with the rows still NULL. PL/pgSQL's COMMIT runs only when the block is not inside a
transaction block, so core/classify.py judges the block NO_TRANSACTION: db.migrate runs it alone, outside a
transaction, recorded as it records CREATE INDEX CONCURRENTLY.

A migrator that wraps every pending migration in one transaction (Drizzle's own, `--single-transaction`) runs
the block inside it, where COMMIT fails (2D000). The block tells the two apart by what PostgreSQL knows when it
starts: run alone it is the first statement of its transaction, which has no transaction id yet; inside
Drizzle's transaction an earlier statement has written (the column's migration, a tracking row) and got one.
There it runs the same batches without committing: the folder stays one Drizzle can apply, with what Drizzle
gives every other step (one transaction). The block as the very first statement of Drizzle's transaction, on a
table with rows, still commits, and Drizzle's migrator fails with 2D000 and rolls back everything: a loud
failure, never a half-done one. On a table without rows no COMMIT runs at all.

Each batch takes the next rows still NULL by their physical position (`ctid`, a TID range scan on PostgreSQL
14+, so a batch reads only its pages), sets them to the column's default (`SET c = DEFAULT`: the expression
runs per row, as the rewrite would have), and moves on from the highest position it took; a last pass from the
start picks up the rows an update moved behind it, and the loop ends when a pass from the start finds no NULL.
A row the application writes NULL into explicitly while the backfill runs gets the default too, and the table's
row triggers fire for each row (the rewrite fired none).
"""

from __future__ import annotations

from typing import Any

from migrakit.core.fix.edit import Steps, expression_end, not_null_via_check, quote_ident, tokens, without_spans

# Functions PostgreSQL marks volatile that are common as column defaults: ADD COLUMN … DEFAULT f() rewrites.
VOLATILE_DEFAULTS = frozenset(
    {"random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4",
     "uuidv7", "clock_timestamp", "timeofday", "nextval", "txid_current", "statement_timestamp"}
)  # fmt: skip
BATCH_ROWS = 1000  # rows one backfill transaction writes


def volatile_default(text: str, rel: str, table: str, col: Any) -> Steps | None:
    """The lock-safe steps for `ALTER TABLE rel ADD COLUMN col … DEFAULT volatile()` (`text`), or None when the
    column's default is not volatile or it carries something that needs the rows at once (a key, a check, a
    reference, a named NOT NULL)."""
    constraints = list(col.constraints or ())
    default = next((c for c in constraints if c.contype.name == "CONSTR_DEFAULT"), None)
    if default is None or default.conname or not _volatile(default.raw_expr):
        return None
    not_null = [c for c in constraints if c.contype.name == "CONSTR_NOTNULL"]
    others = [c for c in constraints if c.contype.name not in ("CONSTR_DEFAULT", "CONSTR_NULL", "CONSTR_NOTNULL")]
    if others or any(c.conname for c in not_null) or len(not_null) > 1:
        return None  # a key, a check, a reference: the column cannot be added empty first
    toks = tokens(text)
    at = {t.start: i for i, t in enumerate(toks)}
    nn = at.get(not_null[0].location) if not_null else None
    if default.location not in at or (not_null and (nn is None or toks[nn].name != "NOT")):
        return None  # the tree's locations do not point at the words: leave the statement as written
    after_default = [t for t in toks if t.start > default.location]
    expr_start = after_default[0].start  # the expression's own location is its operator's (`::`)
    expr_end = expression_end(text, expr_start)
    spans = [(default.location, expr_end)]
    if nn is not None:
        spans.append((toks[nn].start, toks[nn + 1].end + 1))  # NOT NULL
    expression = text[expr_start:expr_end]
    return backfilled(
        f"column {col.colname} added without its volatile default, default set",
        rel, table, col.colname, [without_spans(text, spans)], expression, bool(not_null),
    )  # fmt: skip


def backfilled(
    summary: str, rel: str, table: str, column: str, now: list[str], default: str, not_null: bool
) -> Steps:
    """The `volatile-default` steps once the column is added empty (`now`): its default set (new rows get it),
    the existing rows backfilled in batches in a migration of their own, then NOT NULL through a validated
    check when the column has it."""
    steps = Steps(
        "volatile-default",
        f"{summary}, rows backfilled in batches of {BATCH_ROWS} (each committed) in a migration of their own"
        + (", then NOT NULL through a validated check" if not_null else ""),
        now=[*now, f"ALTER TABLE {rel} ALTER COLUMN {quote_ident(column)} SET DEFAULT {default}"],
        own=[backfill(rel, column)],
    )  # fmt: skip
    if not_null:
        check = not_null_via_check(rel, table, column)
        steps.after, steps.validate, steps.finish = check.now, check.validate, check.finish
    return steps


def _volatile(expr: Any) -> bool:
    if type(expr).__name__ == "TypeCast":
        return _volatile(expr.arg)
    if type(expr).__name__ != "FuncCall":
        return False
    return expr.funcname[-1].sval.lower() in VOLATILE_DEFAULTS


def backfill(rel: str, column: str, batch_rows: int = BATCH_ROWS) -> str:
    """The DO block that sets `column` of `rel` (quoted already) to its default where it is NULL, `batch_rows`
    rows a transaction (see the module's docstring)."""
    col = quote_ident(column)
    names = ("migrakit_batch", "migrakit_after", "migrakit_alone")
    batch, after, alone = (v if v != column else f"{v}_" for v in names)
    body = f"""
#variable_conflict use_variable
DECLARE
  {batch} tid[];
  {after} tid := '(0,0)';
  -- run alone (db.migrate: outside a transaction), nothing has written yet: each batch commits; inside a
  -- migrator's transaction that already wrote (Drizzle's), the same batches in that one transaction
  {alone} boolean := pg_catalog.pg_current_xact_id_if_assigned() IS NULL;
BEGIN
  -- migrakit: {rel}.{col} backfilled {batch_rows} rows a transaction; a stopped run keeps the batches that
  -- committed, and running this again goes on with the rows still NULL
  LOOP
    {batch} := ARRAY(SELECT ctid FROM {rel} WHERE ctid > {after} AND {col} IS NULL LIMIT {batch_rows});
    IF cardinality({batch}) = 0 THEN
      EXIT WHEN {after} = '(0,0)';
      {after} := '(0,0)';  -- once more from the start: an update may have moved a row behind {after}
      CONTINUE;
    END IF;
    UPDATE {rel} SET {col} = DEFAULT WHERE ctid = ANY ({batch}) AND {col} IS NULL;
    {after} := (SELECT max(t) FROM unnest({batch}) AS t);
    IF {alone} THEN
      COMMIT;
    END IF;
  END LOOP;
END
"""
    tag = "$migrakit$"
    while tag in body:
        tag = tag[:-1] + "_$"
    return f"DO {tag}{body}{tag}"
