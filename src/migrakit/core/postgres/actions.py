"""What a statement does, read on pglast's tree: one `Action` per thing it does to a relation, with the lock
PostgreSQL takes for it (the documentation's "Explicit Locking" and each command's page) and whether it may
read every row, rewrite the table or write rows. Pure. `core/classify.py` is the front; this is its reading.

"May": the tree cannot see data or catalogs (a constant default rewrites nothing since PostgreSQL 11, a
validated CHECK spares SET NOT NULL its scan); the lint probe measures what really happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

ACCESS_EXCLUSIVE = "AccessExclusiveLock"
EXCLUSIVE = "ExclusiveLock"
SHARE_ROW_EXCLUSIVE = "ShareRowExclusiveLock"
SHARE = "ShareLock"
SHARE_UPDATE_EXCLUSIVE = "ShareUpdateExclusiveLock"
ROW_EXCLUSIVE = "RowExclusiveLock"
# pg_locks' names, in rising strength (LOCK TABLE's mode is the 1-based position)
LOCK_MODES = ("AccessShareLock", "RowShareLock", ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE, SHARE_ROW_EXCLUSIVE,
              EXCLUSIVE, ACCESS_EXCLUSIVE)  # fmt: skip
# Locks that block writes (INSERT/UPDATE/DELETE take RowExclusiveLock): what makes a statement an outage.
WRITE_BLOCKING = frozenset(LOCK_MODES[4:])


@dataclass(frozen=True)
class Action:
    """One thing a statement does: `kind` on `relation` (`schema.name`), the lock it takes there (`lock`, as
    pg_locks names it) and on other relations (`others`), and whether it may read every row (`scans`), copy the
    table to a new file (`rewrites`) or write rows (`writes`). `relation` says public when the statement names no
    schema; the actions that destroy data (drop_table, drop_column, truncate, delete) say in `detail["qualified"]`
    whether it named one (else the search_path decides: a fleet's schema target)."""

    kind: str
    relation: str | None = None
    column: str | None = None
    detail: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    lock: str | None = None
    others: tuple[tuple[str, str], ...] = ()
    scans: bool = False
    rewrites: bool = False
    writes: bool = False


def qualify(schema: str | None, name: str) -> str:
    return f"{schema or 'public'}.{name}"


def rangevar(rv: Any) -> str | None:
    return qualify(rv.schemaname, rv.relname) if rv is not None else None


def _names(items: Iterable[Any]) -> list[str]:
    return [getattr(i, "sval", str(i)) for i in items]


def options(items: Any) -> set[str]:
    return {str(getattr(d, "defname", "")).lower() for d in items or ()}


_SERIAL = {"serial", "serial4", "serial8", "bigserial", "smallserial", "serial2"}
_READERS: dict[type, Callable[[Any], Iterator[Action]]] = {}


def actions_of(stmt: Any) -> list[Action]:
    """The actions of one parsed statement (`RawStmt.stmt`); [] for one that touches no relation's data."""
    if not _READERS:
        _register()
    reader = _READERS.get(type(stmt))
    return list(reader(stmt)) if reader else []


def _register() -> None:
    from pglast import ast

    _READERS.update({
        ast.CreateStmt: _create_table, ast.CreateTableAsStmt: _create_table_as, ast.IndexStmt: _create_index,
        ast.DropStmt: _drop, ast.AlterTableStmt: _alter_table, ast.RenameStmt: _rename,
        ast.AlterEnumStmt: _alter_enum, ast.VariableSetStmt: _set, ast.CreateTrigStmt: _create_trigger,
        ast.LockStmt: _lock, ast.UpdateStmt: _write, ast.DeleteStmt: _write, ast.InsertStmt: _write,
        ast.MergeStmt: _write, ast.RefreshMatViewStmt: _refresh, ast.VacuumStmt: _vacuum,
        ast.ClusterStmt: _cluster, ast.TruncateStmt: _truncate, ast.ReindexStmt: _reindex, ast.DoStmt: _do,
        ast.CreateExtensionStmt: _extension,
    })  # fmt: skip


def _create_table(s: Any) -> Iterator[Action]:
    from pglast import ast, enums

    rel = rangevar(s.relation)
    refs = []
    for elt in s.tableElts or ():
        cons = elt.constraints if isinstance(elt, ast.ColumnDef) else [elt]
        for c in cons or ():
            if isinstance(c, ast.Constraint) and c.contype == enums.ConstrType.CONSTR_FOREIGN:
                refs.append((rangevar(c.pktable), SHARE_ROW_EXCLUSIVE))
    parents = [(rangevar(p), ACCESS_EXCLUSIVE) for p in s.inhRelations or ()] if s.partbound else []
    yield Action("create_table", rel, others=tuple((r, m) for r, m in refs + parents if r and r != rel))


def _create_table_as(s: Any) -> Iterator[Action]:
    into = s.into.rel if s.into is not None else None
    yield Action("create_table", rangevar(into))


def _create_index(s: Any) -> Iterator[Action]:
    detail = {"concurrent": bool(s.concurrent), "unique": bool(s.unique), "name": s.idxname}
    lock = SHARE_UPDATE_EXCLUSIVE if s.concurrent else SHARE
    yield Action("create_index", rangevar(s.relation), detail=detail, lock=lock, scans=True)


def _drop(s: Any) -> Iterator[Action]:
    from pglast import enums

    OT = enums.ObjectType
    objs = [_names(o) if isinstance(o, (tuple, list)) else [str(o)] for o in (s.objects or ())]
    names = [qualify(*o[-2:]) if len(o) >= 2 else qualify(None, o[-1]) for o in objs]
    kind = {OT.OBJECT_TABLE: "drop_table", OT.OBJECT_INDEX: "drop_index", OT.OBJECT_MATVIEW: "drop_view",
            OT.OBJECT_VIEW: "drop_view"}.get(s.removeType)  # fmt: skip
    if kind is None:
        return
    lock = SHARE_UPDATE_EXCLUSIVE if s.concurrent else ACCESS_EXCLUSIVE
    for o, n in zip(objs, names, strict=True):  # qualified: the statement names the schema (else the search_path)
        yield Action(kind, n, detail={"concurrent": bool(s.concurrent), "qualified": len(o) >= 2}, lock=lock)


def _alter_table(s: Any) -> Iterator[Action]:
    from pglast import ast, enums

    OT = enums.ObjectType
    if s.objtype not in (OT.OBJECT_TABLE, OT.OBJECT_MATVIEW):
        return
    rel = rangevar(s.relation)
    AT = enums.AlterTableType
    light = (AT.AT_SetRelOptions, AT.AT_ResetRelOptions, AT.AT_SetStatistics, AT.AT_ClusterOn, AT.AT_DropCluster,
             AT.AT_SetOptions, AT.AT_ResetOptions)  # fmt: skip
    storage = (AT.AT_SetLogged, AT.AT_SetUnLogged, AT.AT_SetAccessMethod)
    for cmd in s.cmds or ():
        st = cmd.subtype
        if st == AT.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
            yield _add_column(rel, cmd.def_)
        elif st == AT.AT_AlterColumnType:
            yield Action("alter_type", rel, cmd.name, lock=ACCESS_EXCLUSIVE, scans=True, rewrites=True)
        elif st == AT.AT_SetNotNull:
            yield Action("set_not_null", rel, cmd.name, lock=ACCESS_EXCLUSIVE, scans=True)
        elif st == AT.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
            action = _add_constraint(rel, cmd.def_)
            if action is not None:
                yield action
        elif st == AT.AT_ValidateConstraint:
            yield Action("validate_constraint", rel, detail={"name": cmd.name}, lock=SHARE_UPDATE_EXCLUSIVE,
                         scans=True)  # fmt: skip
        elif st == AT.AT_DropColumn:
            yield Action("drop_column", rel, cmd.name, {"qualified": s.relation.schemaname is not None},
                         lock=ACCESS_EXCLUSIVE)  # fmt: skip
        elif st == AT.AT_SetTableSpace:
            yield Action("set_tablespace", rel, detail={"tablespace": cmd.name}, lock=ACCESS_EXCLUSIVE,
                         rewrites=True)  # fmt: skip
        elif st in storage:
            yield Action("alter_table_storage", rel, lock=ACCESS_EXCLUSIVE, rewrites=True)
        elif st in (AT.AT_AttachPartition, AT.AT_DetachPartition) and isinstance(cmd.def_, ast.PartitionCmd):
            part = rangevar(cmd.def_.name)
            if st == AT.AT_AttachPartition:
                yield Action("attach_partition", part, detail={"parent": rel}, lock=ACCESS_EXCLUSIVE,
                             others=((rel, SHARE_UPDATE_EXCLUSIVE),) if rel else (), scans=True)  # fmt: skip
            else:
                mode = SHARE_UPDATE_EXCLUSIVE if cmd.def_.concurrent else ACCESS_EXCLUSIVE
                yield Action("detach_partition", part, detail={"parent": rel}, lock=mode,
                             others=((rel, mode),) if rel else ())  # fmt: skip
        elif st in light:
            yield Action("set_options", rel, lock=SHARE_UPDATE_EXCLUSIVE)
        elif "Trig" in st.name:
            yield Action("enable_trigger", rel, lock=SHARE_ROW_EXCLUSIVE)
        else:
            yield Action("alter_table", rel, cmd.name, detail={"subtype": st.name}, lock=ACCESS_EXCLUSIVE)


def _add_column(rel: str | None, col: Any) -> Action:
    from pglast import enums

    CT = enums.ConstrType
    cons = list(col.constraints or ())
    type_name = (_names(col.typeName.names)[-1] if col.typeName is not None else "").lower()
    generated = any(c.contype in (CT.CONSTR_IDENTITY, CT.CONSTR_GENERATED) for c in cons) or type_name in _SERIAL
    references = [c for c in cons if c.contype == CT.CONSTR_FOREIGN]
    detail = {
        "not_null": any(c.contype in (CT.CONSTR_NOTNULL, CT.CONSTR_PRIMARY) for c in cons),
        "default": any(c.contype == CT.CONSTR_DEFAULT for c in cons),
        "generated": generated,
        "references": any(not c.skip_validation for c in references),
        "unique": any(c.contype in (CT.CONSTR_UNIQUE, CT.CONSTR_PRIMARY) for c in cons),
    }
    others = tuple((r, SHARE_ROW_EXCLUSIVE) for r in (rangevar(c.pktable) for c in references) if r)
    may_rewrite = detail["default"] or generated
    return Action("add_column", rel, col.colname, detail, lock=ACCESS_EXCLUSIVE, others=others,
                  scans=bool(references) or detail["unique"], rewrites=may_rewrite)  # fmt: skip


def _add_constraint(rel: str | None, c: Any) -> Action | None:
    from pglast import enums

    CT = enums.ConstrType
    kind = {CT.CONSTR_FOREIGN: "foreign key", CT.CONSTR_CHECK: "check", CT.CONSTR_UNIQUE: "unique",
            CT.CONSTR_PRIMARY: "primary key", CT.CONSTR_EXCLUSION: "exclude"}.get(c.contype)  # fmt: skip
    if kind is None:
        return None
    ref = rangevar(c.pktable) if c.contype == CT.CONSTR_FOREIGN else None
    detail = {"type": kind, "not_valid": bool(c.skip_validation), "using_index": bool(c.indexname),
              "name": c.conname, "references": ref}  # fmt: skip
    lock = SHARE_ROW_EXCLUSIVE if ref else ACCESS_EXCLUSIVE
    scans = not detail["not_valid"] and not detail["using_index"]
    return Action("add_constraint", rel, detail=detail, lock=lock,
                  others=((ref, SHARE_ROW_EXCLUSIVE),) if ref and ref != rel else (), scans=scans)  # fmt: skip


def _rename(s: Any) -> Iterator[Action]:
    from pglast import enums

    OT = enums.ObjectType
    if s.renameType == OT.OBJECT_COLUMN:
        yield Action("rename_column", rangevar(s.relation), s.subname, {"to": s.newname}, lock=ACCESS_EXCLUSIVE)
    elif s.renameType == OT.OBJECT_TABLE:
        yield Action("rename_table", rangevar(s.relation), detail={"to": s.newname}, lock=ACCESS_EXCLUSIVE)


def _alter_enum(s: Any) -> Iterator[Action]:
    name = ".".join(_names(s.typeName or ()))
    if s.oldVal:
        yield Action("enum_rename_value", name, detail={"value": s.oldVal, "to": s.newVal})
    elif s.newVal:
        yield Action("enum_add_value", name, detail={"value": s.newVal})


def _set(s: Any) -> Iterator[Action]:
    if (s.name or "").lower() in ("lock_timeout", "statement_timeout"):
        yield Action(f"set_{s.name.lower()}")


def _create_trigger(s: Any) -> Iterator[Action]:
    yield Action("create_trigger", rangevar(s.relation), detail={"name": s.trigname}, lock=SHARE_ROW_EXCLUSIVE)


def _lock(s: Any) -> Iterator[Action]:
    mode = LOCK_MODES[(s.mode or 8) - 1]
    for rv in s.relations or ():
        yield Action("lock_table", rangevar(rv), detail={"mode": mode}, lock=mode)


def _write(s: Any) -> Iterator[Action]:
    from pglast import ast

    kind = {ast.UpdateStmt: "update", ast.DeleteStmt: "delete", ast.InsertStmt: "insert"}.get(type(s), "merge")
    where = getattr(s, "whereClause", None) is not None
    select = getattr(s, "selectStmt", None)
    values = kind == "insert" and (select is None or getattr(select, "valuesLists", None) is not None)
    detail = {"where": where, "values": values, "qualified": s.relation.schemaname is not None}
    yield Action(kind, rangevar(s.relation), detail=detail, lock=ROW_EXCLUSIVE, writes=True,
                 scans=kind in ("update", "delete"))  # fmt: skip


def _refresh(s: Any) -> Iterator[Action]:
    lock = EXCLUSIVE if s.concurrent else ACCESS_EXCLUSIVE
    yield Action("refresh_matview", rangevar(s.relation), detail={"concurrent": bool(s.concurrent)}, lock=lock,
                 rewrites=not s.concurrent, writes=bool(s.concurrent))  # fmt: skip


def _vacuum(s: Any) -> Iterator[Action]:
    full = s.is_vacuumcmd and "full" in options(s.options)
    if not s.is_vacuumcmd:
        return
    for vr in s.rels or ():
        rel = rangevar(vr.relation)
        if full:
            yield Action("vacuum_full", rel, lock=ACCESS_EXCLUSIVE, rewrites=True)
        else:
            yield Action("vacuum", rel, lock=SHARE_UPDATE_EXCLUSIVE)


def _cluster(s: Any) -> Iterator[Action]:
    yield Action("cluster", rangevar(s.relation), lock=ACCESS_EXCLUSIVE, rewrites=True)


def _truncate(s: Any) -> Iterator[Action]:
    for rv in s.relations or ():
        yield Action("truncate", rangevar(rv), detail={"qualified": rv.schemaname is not None}, lock=ACCESS_EXCLUSIVE)


def _reindex(s: Any) -> Iterator[Action]:
    from pglast import enums

    concurrent = "concurrently" in options(s.params)
    if s.relation is None:
        return
    kind = "reindex_index" if s.kind == enums.ReindexObjectType.REINDEX_OBJECT_INDEX else "reindex"
    yield Action(kind, rangevar(s.relation), detail={"concurrent": concurrent},
                 lock=SHARE_UPDATE_EXCLUSIVE if concurrent else SHARE)  # fmt: skip


def _do(s: Any) -> Iterator[Action]:
    yield Action("do")  # its body is another language: only the measurement knows what it did


def _extension(s: Any) -> Iterator[Action]:
    yield Action("create_extension", detail={"name": s.extname})
