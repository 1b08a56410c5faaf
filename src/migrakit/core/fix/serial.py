"""A `serial` or identity column added to an existing table, made lock-safe. Pure.

`ALTER TABLE t ADD COLUMN c serial` is shorthand: PostgreSQL creates the sequence `t_c_seq` (`AS integer`),
adds `c integer NOT NULL DEFAULT nextval('t_c_seq'::regclass)` and makes the column own the sequence. The
default is volatile, so the table is rewritten under AccessExclusiveLock. The fixer writes the shorthand out
with the same names and types, the column added empty: `CREATE SEQUENCE t_c_seq AS integer`, the column as the
plain integer type, `ALTER SEQUENCE … OWNED BY t.c`, then backfill.py's steps (the default set, the rows
backfilled in batches from the sequence, NOT NULL through a validated check). The schema is the one the
shorthand gives; the sequence goes on after the highest value the backfill took.

An identity column (`GENERATED ALWAYS|BY DEFAULT AS IDENTITY`, without sequence options) is added plain, with a
default from a sequence of its own (`<table>_<col>_migrakit_seq`), and gets the same steps; its last migration
drops that default, adds the identity (PostgreSQL creates `<table>_<col>_seq`), sets the identity's sequence
where the first one stopped (`setval` from the sequence, not a scan of the table) and drops the first one.

The sequence's name is PostgreSQL's own (`<table>_<col>_seq`, shortened as it shortens it); a sequence of that
name already there would make PostgreSQL pick another one, and the fixer's proof on a shadow then refuses.
"""

from __future__ import annotations

from typing import Any

from migrakit.core.fix.backfill import backfilled
from migrakit.core.fix.edit import Steps, constraint_name, quote_ident, rel_sql, tokens, without_spans

# the integer type behind each serial spelling (PostgreSQL's transformColumnDefinition)
SERIAL_TYPES = {
    "serial": "integer", "serial4": "integer", "bigserial": "bigint", "serial8": "bigint",
    "smallserial": "smallint", "serial2": "smallint",
}  # fmt: skip


def serial_column(text: str, relation: Any, cmd: Any) -> Steps | None:
    """The lock-safe steps for `ALTER TABLE relation ADD COLUMN c serial` (`text`), or None when the column is
    not a serial or carries something the fixer leaves as written (a key, a check, a reference, a named
    NOT NULL, IF NOT EXISTS)."""
    col = cmd.def_
    kind = _serial(col.typeName)
    if kind is None or cmd.missing_ok:
        return None
    constraints = list(col.constraints or ())
    not_null = [c for c in constraints if c.contype.name == "CONSTR_NOTNULL"]
    if len(not_null) != len(constraints) or len(not_null) > 1 or any(c.conname for c in not_null):
        return None  # a key, a check, a reference, a default: not the plain shorthand
    toks = tokens(text)
    at = {t.start: i for i, t in enumerate(toks)}
    where = at.get(col.typeName.location)
    nn = at.get(not_null[0].location) if not_null else None
    if where is None or (not_null and (nn is None or toks[nn].name != "NOT")):
        return None  # the tree's locations do not point at the words: leave the statement as written
    added = without_spans(text, [(toks[nn].start, toks[nn + 1].end + 1)] if nn is not None else [])
    added = added[: toks[where].start] + SERIAL_TYPES[kind] + added[toks[where].end + 1 :]
    schema, table, column = relation.schemaname, relation.relname, col.colname
    rel = rel_sql(relation)
    seq = ".".join(quote_ident(p) for p in (schema, constraint_name(table, column, "seq")) if p)
    literal = seq.replace("'", "''")
    return backfilled(
        f"{kind} column {column} written out: its sequence created, the column added as {SERIAL_TYPES[kind]} "
        "and owning it, default set",
        rel, table, column,
        [f"CREATE SEQUENCE {seq} AS {SERIAL_TYPES[kind]}", added,
         f"ALTER SEQUENCE {seq} OWNED BY {rel}.{quote_ident(column)}"],
        f"nextval('{literal}'::regclass)", True,
    )  # fmt: skip


def _serial(type_name: Any) -> str | None:
    if type_name is None or len(type_name.names) != 1 or type_name.pct_type or type_name.arrayBounds:
        return None
    kind = type_name.names[0].sval
    return kind if kind in SERIAL_TYPES else None


def identity_column(text: str, relation: Any, cmd: Any) -> Steps | None:
    """The lock-safe steps for `ALTER TABLE relation ADD COLUMN c <int type> GENERATED … AS IDENTITY` without
    sequence options: the column added plain with a default from a sequence of its own, backfilled, NOT NULL
    through a validated check, then (one migration) the default dropped, `ADD GENERATED … AS IDENTITY` (its
    sequence `<table>_<col>_seq`, as PostgreSQL names it), that sequence set where the first one stopped, and the
    first one dropped. None for anything else."""
    col = cmd.def_
    constraints = list(col.constraints or ())
    identity = [c for c in constraints if c.contype.name == "CONSTR_IDENTITY"]
    not_null = [c for c in constraints if c.contype.name == "CONSTR_NOTNULL"]
    if len(identity) != 1 or identity[0].options or cmd.missing_ok or any(c.conname for c in constraints):
        return None
    if len(identity) + len(not_null) != len(constraints) or len(not_null) > 1:
        return None
    toks = tokens(text)
    at = {t.start: i for i, t in enumerate(toks)}
    first = at.get(identity[0].location)
    after = range(first, len(toks)) if first is not None else range(0)
    last = next((i for i in after if toks[i].name == "IDENTITY_P"), None)
    nn = at.get(not_null[0].location) if not_null else None
    if first is None or last is None or (not_null and (nn is None or toks[nn].name != "NOT")):
        return None
    spans = [(toks[first].start, toks[last].end + 1)]
    spans += [(toks[nn].start, toks[nn + 1].end + 1)] if nn is not None else []
    schema, table, column = relation.schemaname, relation.relname, col.colname
    rel, name = rel_sql(relation), quote_ident(column)
    seq = ".".join(quote_ident(p) for p in (schema, constraint_name(table, column, "migrakit_seq")) if p)
    when = "ALWAYS" if identity[0].generated_when == "a" else "BY DEFAULT"
    seq_lit, rel_lit, col_lit = (v.replace("'", "''") for v in (seq, rel, column))
    steps = backfilled(
        f"identity column {column} added plain with a default from a sequence of its own",
        rel, table, column, [f"CREATE SEQUENCE {seq}", without_spans(text, spans)],
        f"nextval('{seq_lit}'::regclass)", True,
    )  # fmt: skip
    steps.summary += f", then GENERATED {when} AS IDENTITY going on from that sequence"
    steps.finish += [
        f"ALTER TABLE {rel} ALTER COLUMN {name} DROP DEFAULT",
        f"ALTER TABLE {rel} ALTER COLUMN {name} ADD GENERATED {when} AS IDENTITY",
        f"SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('{rel_lit}', '{col_lit}'), last_value, "
        f"is_called) FROM {seq}",
        f"DROP SEQUENCE {seq}",
    ]
    return steps
