"""`db.lint`'s rules: what a statement will lock, rewrite or break, decided on pglast's parse tree plus what the
shadow database measured (db/inspect/lint_probe.py). Pure: statement text and measured facts in, findings out.

A rule fires on what the parse tree says the statement does, and stays quiet where the measurement proves
it harmless: an index on a table created earlier in the same migration (nobody else can see that table yet),
a default that rewrote nothing (PostgreSQL >= 11 stores a constant default in the catalog), a type change
that rewrote nothing (varchar(50) -> varchar(100)), SET NOT NULL that scanned nothing (a validated CHECK
proved it).

Suppression: `-- migrakit:allow RULE-ID reason` on a comment line right above a statement (a run of comment
lines is read as one block). A suppression without a reason suppresses nothing and is a finding itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from migrakit.core.lint_catalog import RULES, SEVERITIES, WARNING, WRITE_BLOCKING, Finding, severity_rank


@dataclass(frozen=True)
class Observed:
    """What running the statement on the shadow showed (db/inspect/lint_probe.py), plus what is known of the target.

    Relations are `schema.name`. `new` holds the relations created earlier in the same migration (or by this
    statement): locks on them block nobody. `rows`/`sizes`: the target's estimates (None: not known)."""

    locks: tuple[tuple[str, str], ...] = ()
    rewrites: tuple[str, ...] = ()
    scans: tuple[str, ...] = ()
    new: frozenset[str] = frozenset()
    error: str | None = None
    in_transaction: bool = True
    server_version: int = 0
    rows: Mapping[str, float] = field(default_factory=dict)
    lock_timeout_disabled: bool = False  # migrakit's lock_timeout is 0 and the migration sets none before this
    measured: bool = True  # False: the statement did not run on the shadow (an earlier one failed): static rules only

    def existing(self, rel: str | None) -> bool:
        return rel is not None and rel not in self.new

    def has_rows(self, rel: str | None) -> bool:
        """Rows on the target (reltuples > 0); a table never analyzed (-1) counts as having rows."""
        if rel is None:
            return False
        n = self.rows.get(rel)
        return n is None or n != 0


# ------------------------------------------------------------------------------------------ the parse tree
@dataclass(frozen=True)
class Action:
    """One thing a statement does, read from the parse tree."""

    kind: str
    relation: str | None = None
    column: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def qualify(schema: str | None, name: str) -> str:
    return f"{schema or 'public'}.{name}"


def _rangevar(rv: Any) -> str | None:
    return qualify(rv.schemaname, rv.relname) if rv is not None else None


def _names(items: Iterable[Any]) -> list[str]:
    return [getattr(i, "sval", str(i)) for i in items]


_SERIAL = {"serial", "serial4", "serial8", "bigserial", "smallserial", "serial2"}


@lru_cache(maxsize=1024)
def actions(text: str) -> tuple[Action, ...] | None:
    """What the statement does, or None when pglast cannot parse it (the measurement still applies)."""
    from pglast import ast, enums, parse_sql
    from pglast.parser import ParseError

    try:
        raws = parse_sql(text)
    except ParseError:
        return None
    found: list[Action] = []
    AT = enums.AlterTableType
    CT = enums.ConstrType
    OT = enums.ObjectType
    for raw in raws:
        s = raw.stmt
        if isinstance(s, ast.CreateStmt):
            found.append(Action("create_table", _rangevar(s.relation)))
        elif isinstance(s, ast.IndexStmt):
            found.append(
                Action(
                    "create_index",
                    _rangevar(s.relation),
                    detail={"concurrent": bool(s.concurrent), "unique": bool(s.unique)},
                )
            )
        elif isinstance(s, ast.DropStmt):
            objs = [_names(o) if isinstance(o, (tuple, list)) else [str(o)] for o in (s.objects or ())]
            names = [qualify(*o) if len(o) == 2 else qualify(None, o[-1]) for o in objs]
            if s.removeType == OT.OBJECT_TABLE:
                found += [Action("drop_table", n) for n in names]
            elif s.removeType == OT.OBJECT_INDEX:
                found += [Action("drop_index", n, detail={"concurrent": bool(s.concurrent)}) for n in names]
        elif isinstance(s, ast.AlterTableStmt) and s.objtype == OT.OBJECT_TABLE:
            rel = _rangevar(s.relation)
            for cmd in s.cmds or ():
                st = cmd.subtype
                if st == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                    found.append(_add_column(rel, cmd.def_, CT))
                elif st == AT.AT_AlterColumnType:
                    found.append(Action("alter_type", rel, cmd.name))
                elif st == AT.AT_SetNotNull:
                    found.append(Action("set_not_null", rel, cmd.name))
                elif st == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
                    c = cmd.def_
                    kind = (
                        {
                            CT.CONSTR_FOREIGN: "foreign key",
                            CT.CONSTR_CHECK: "check",
                            CT.CONSTR_UNIQUE: "unique",
                            CT.CONSTR_PRIMARY: "primary key",
                            CT.CONSTR_EXCLUSION: "exclude",
                        }.get(c.contype)
                        if c.contype is not None
                        else None
                    )
                    if kind:
                        found.append(
                            Action(
                                "add_constraint",
                                rel,
                                detail={
                                    "type": kind,
                                    "not_valid": bool(c.skip_validation),
                                    "using_index": bool(c.indexname),
                                    "name": c.conname,
                                    "references": _rangevar(c.pktable) if c.contype == CT.CONSTR_FOREIGN else None,
                                },
                            )
                        )
                elif st == AT.AT_DropColumn:
                    found.append(Action("drop_column", rel, cmd.name))
                elif st in (AT.AT_SetLogged, AT.AT_SetUnLogged, AT.AT_SetAccessMethod, AT.AT_SetTableSpace):
                    found.append(Action("alter_table_storage", rel))
        elif isinstance(s, ast.RenameStmt):
            if s.renameType == OT.OBJECT_COLUMN:
                found.append(Action("rename_column", _rangevar(s.relation), s.subname, {"to": s.newname}))
            elif s.renameType == OT.OBJECT_TABLE:
                found.append(Action("rename_table", _rangevar(s.relation), detail={"to": s.newname}))
        elif isinstance(s, ast.AlterEnumStmt):
            name = ".".join(_names(s.typeName or ()))
            found.append(Action("enum_rename_value" if s.oldVal else "enum_add_value", name))
        elif isinstance(s, ast.VariableSetStmt) and (s.name or "").lower() == "lock_timeout":
            found.append(Action("set_lock_timeout"))
    return tuple(found)


def _add_column(rel: str | None, col: Any, CT: Any) -> Action:
    cons = list(col.constraints or ())
    type_name = (_names(col.typeName.names)[-1] if col.typeName is not None else "").lower()
    default = next((c for c in cons if c.contype == CT.CONSTR_DEFAULT), None)
    return Action(
        "add_column",
        rel,
        col.colname,
        {
            "not_null": any(c.contype in (CT.CONSTR_NOTNULL, CT.CONSTR_PRIMARY) for c in cons),
            "default": default is not None,
            "generated": any(c.contype in (CT.CONSTR_IDENTITY, CT.CONSTR_GENERATED) for c in cons)
            or type_name in _SERIAL,
            "references": any(c.contype == CT.CONSTR_FOREIGN and not c.skip_validation for c in cons),
        },
    )


# ------------------------------------------------------------------------------------------ suppressions
ALLOW = re.compile(r"^\s*--\s*migrakit:allow\b[ \t]*(?P<rest>.*)$")


@dataclass(frozen=True)
class Suppression:
    rule: str
    reason: str
    line: int


def suppressions(source: str, keyword_offset: int) -> list[Suppression]:
    """The `-- migrakit:allow RULE reason` lines in the run of comment lines right above the line of the
    statement's first keyword (`keyword_offset` into `source`). Nothing when the keyword does not start its
    line (the statement shares a line with another)."""
    lines = source[:keyword_offset].split("\n")
    if lines[-1].strip():
        return []
    found: list[Suppression] = []
    i = len(lines) - 2  # the line above the keyword's (0-based)
    while i >= 0 and lines[i].lstrip().startswith("--") and "statement-breakpoint" not in lines[i]:
        m = ALLOW.match(lines[i])
        if m:
            rest = m.group("rest").strip().split(None, 1)
            if rest:
                found.append(Suppression(rest[0], rest[1].strip() if len(rest) > 1 else "", i + 1))
        i -= 1
    return found


# ------------------------------------------------------------------------------------------ the rules
def _size(obs: Observed, rel: str | None) -> str:
    n = obs.rows.get(rel or "")
    return f" (~{int(n)} rows on the target)" if n is not None and n >= 0 else ""


def _f(rule_id: str, message: str, fix: str | None = None, severity: str | None = None) -> Finding:
    r = RULES[rule_id]
    return Finding(rule_id, severity or r.severity, message, fix or r.fix)


def check(text: str, obs: Observed) -> list[Finding]:
    """Findings for one statement (before suppressions)."""
    acts = actions(text)
    found: list[Finding] = []
    if obs.error:
        found.append(_f("statement-failed", f"failed on the shadow database: {obs.error}"))
    fired_rewrite = False
    for a in acts or ():
        rel, ex = a.relation, obs.existing(a.relation)
        if a.kind == "create_index" and not a.detail["concurrent"] and ex:
            found.append(
                _f(
                    "index-not-concurrent",
                    f"CREATE INDEX on {rel}{_size(obs, rel)} holds ShareLock: writes wait for the whole build",
                )
            )
        elif a.kind == "drop_index" and not a.detail["concurrent"] and ex:
            tables = [r for r, mode in obs.locks if mode == "AccessExclusiveLock" and r != rel and obs.existing(r)]
            if tables:
                found.append(
                    _f(
                        "drop-index-not-concurrent",
                        f"DROP INDEX {rel} takes AccessExclusiveLock on {', '.join(tables)}",
                    )
                )
        elif a.kind == "add_constraint" and ex:
            t = a.detail["type"]
            if t in ("foreign key", "check") and not a.detail["not_valid"] and (obs.scans or not obs.measured):
                found.append(
                    _f(
                        "constraint-not-valid",
                        f"{t.upper()} on {rel}{_size(obs, rel)} is validated by a full scan under lock",
                    )
                )
            elif t in ("unique", "primary key", "exclude") and not a.detail["using_index"]:
                found.append(
                    _f(
                        "unique-under-lock",
                        f"{t.upper()} on {rel}{_size(obs, rel)} builds its index under AccessExclusiveLock",
                    )
                )
        elif a.kind == "set_not_null" and ex and (rel in obs.scans or not obs.measured):
            found.append(
                _f(
                    "set-not-null-scan",
                    f"SET NOT NULL on {rel}.{a.column} scans {rel}{_size(obs, rel)} under AccessExclusiveLock",
                )
            )
        elif a.kind == "add_column" and ex:
            d = a.detail
            if d["not_null"] and not d["default"] and not d["generated"] and obs.has_rows(rel):
                found.append(
                    _f(
                        "add-not-null-without-default",
                        f"NOT NULL column {a.column} without a default on {rel}{_size(obs, rel)}: "
                        "fails when the table has rows",
                    )
                )
            elif rel in obs.rewrites or (not obs.measured and d["generated"]):
                fired_rewrite = True
                found.append(
                    _f(
                        "volatile-default",
                        f"column {a.column} rewrites {rel}{_size(obs, rel)}: its default is computed per row",
                    )
                )
            if d["references"]:
                found.append(
                    _f(
                        "constraint-not-valid",
                        f"column {a.column} REFERENCES ...: "
                        "the foreign key is validated under ShareRowExclusiveLock on both tables",
                        severity=WARNING,
                    )
                )
        elif a.kind == "alter_type" and ex:
            if rel in obs.rewrites or rel in obs.scans or not obs.measured:
                fired_rewrite = True
                what = "rewrites" if rel in obs.rewrites else "scans"
                found.append(
                    _f(
                        "column-type-change",
                        f"changing the type of {rel}.{a.column} {what} {rel}{_size(obs, rel)} "
                        "under AccessExclusiveLock",
                    )
                )
        elif a.kind == "drop_column" and ex:
            found.append(
                _f(
                    "drop-column",
                    f"dropping {rel}.{a.column} breaks the application version still running during the deploy",
                )
            )
        elif a.kind == "drop_table" and ex:
            found.append(
                _f(
                    "drop-table",
                    f"dropping {rel}{_size(obs, rel)} breaks the application version still running during the deploy",
                )
            )
        elif a.kind == "rename_column" and ex:
            found.append(
                _f(
                    "rename-column",
                    f"renaming {rel}.{a.column} to {a.detail['to']} breaks the application version still running",
                )
            )
        elif a.kind == "rename_table" and ex:
            found.append(
                _f("rename-table", f"renaming {rel} to {a.detail['to']} breaks the application version still running")
            )
        elif a.kind == "enum_rename_value":
            found.append(
                _f("enum-value-renamed", f"renaming a value of enum {rel} breaks rows and code that use the old label")
            )
        elif a.kind == "enum_add_value" and obs.in_transaction and obs.server_version and obs.server_version < 120000:
            found.append(
                _f(
                    "enum-add-value-in-transaction",
                    f"ALTER TYPE {rel} ADD VALUE inside a transaction fails on "
                    f"PostgreSQL {obs.server_version // 10000}",
                )
            )
    existing_rewrites = [r for r in obs.rewrites if obs.existing(r)]
    if existing_rewrites and not fired_rewrite:
        found.append(
            _f(
                "table-rewrite",
                f"rewrites {', '.join(r + _size(obs, r) for r in existing_rewrites)} under AccessExclusiveLock",
            )
        )
    if obs.lock_timeout_disabled:
        blocking = sorted({r for r, mode in obs.locks if mode in WRITE_BLOCKING and obs.existing(r)})
        if blocking:
            found.append(
                _f(
                    "missing-lock-timeout",
                    f"takes a lock that blocks writes on {', '.join(blocking)} with no lock_timeout: "
                    "it may queue all traffic behind a long query",
                )
            )
    return found


def sets_lock_timeout(text: str) -> bool:
    return any(a.kind == "set_lock_timeout" for a in actions(text) or ())


def apply_suppressions(findings: list[Finding], allowed: list[Suppression]) -> tuple[list[Finding], list[Finding]]:
    """(findings kept, findings suppressed); a suppression without a reason or naming no rule adds a finding."""
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    good = {s.rule for s in allowed if s.reason and s.rule in RULES}
    for f in findings:
        (suppressed if f.rule in good else kept).append(f)
    for s in allowed:
        if s.rule not in RULES:
            kept.append(_f("unknown-rule", f"line {s.line}: `migrakit:allow {s.rule}` names no rule"))
        elif not s.reason:
            kept.append(
                _f(
                    "suppression-without-reason",
                    f"line {s.line}: `migrakit:allow {s.rule}` gives no reason, so it suppresses nothing",
                    fix=f"say why it is safe: `-- migrakit:allow {s.rule} <reason>`",
                )
            )
    return kept, suppressed


def worst(findings: Iterable[Finding]) -> str | None:
    ranks = [severity_rank(f.severity) for f in findings]
    return SEVERITIES[max(ranks)] if ranks else None
