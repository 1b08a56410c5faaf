"""One judgement per statement, shared by db.migrate, db.lint, the lint probe and generate: whether it can run in a
transaction block, what it does to which relation (read on pglast's tree of a slice of the original text), the
lock each action takes by PostgreSQL's documented rules, and whether it may scan, rewrite or write rows. Pure.

- `transaction_kind`: `PLAIN`, `NO_TRANSACTION` (CREATE INDEX CONCURRENTLY, VACUUM, a DO block whose PL/pgSQL
  COMMITs or ROLLBACKs, ...: PostgreSQL refuses them in a transaction block) or `TRANSACTION_CONTROL` (the file's
  own BEGIN/COMMIT). The statement splitter sets it on every Statement; the executor, the lint probe and
  `refusal` read it.
- `classify`: the actions (`Action`), each with the lock it takes and whether it may scan, rewrite or write rows.
  What the tree says a statement may do; the lint probe measures what it did.
- `refusal`: why db.migrate refuses a migration as written (a statement that cannot run in a transaction mixed
  with others). db.migrate raises it; db.lint reports the same words as an error finding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from migrakit.core.postgres.actions import Action, actions_of, options

PLAIN = "plain"
NO_TRANSACTION = "no-transaction"  # cannot run inside a transaction block (CREATE INDEX CONCURRENTLY, ...)
TRANSACTION_CONTROL = "transaction-control"  # BEGIN / COMMIT / ROLLBACK written in the file itself

# A cheap first look at the statement's first words; the tree decides when the words point at a special kind.
_NO_TRANSACTION = re.compile(
    r"""\A(?:
        CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY
      | DROP\s+INDEX\s+CONCURRENTLY
      | REINDEX\b.*\bCONCURRENTLY
      | REINDEX\s+(?:\([^)]*\)\s*)?(?:SCHEMA|DATABASE|SYSTEM)\b
      | ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b
      | VACUUM\b
      | ALTER\s+SYSTEM\b
      | (?:CREATE|DROP)\s+(?:DATABASE|TABLESPACE)\b
      | ALTER\s+DATABASE\s+\S+\s+SET\s+TABLESPACE\b
      | CREATE\s+SUBSCRIPTION\b
      | DROP\s+SUBSCRIPTION\b
    )""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_ADD_ENUM_VALUE = re.compile(r"\AALTER\s+TYPE\b.*\bADD\s+VALUE\b", re.IGNORECASE | re.DOTALL)
_TRANSACTION_CONTROL = re.compile(
    r"\A(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|PREPARE\s+TRANSACTION)\b(?!\s+ATOMIC)"
    r"(?!(?:\s+(?:WORK|TRANSACTION))?\s+TO\b)",  # ROLLBACK TO SAVEPOINT works inside the run's transaction
    re.IGNORECASE,
)
# A DO block that may end transactions itself (a batched backfill commits each batch): PL/pgSQL's COMMIT and
# ROLLBACK run only when the block is not inside a transaction block ("invalid transaction termination", 2D000).
_DO = re.compile(r"\ADO\b", re.IGNORECASE)
_ENDS_TRANSACTION = re.compile(r"\b(?:COMMIT|ROLLBACK)\b", re.IGNORECASE)
_LEADING_NOISE = re.compile(r"\A(?:[ \t\n\r\f\v]+|--[^\n\r]*|/\*(?:[^*]|\*(?!/))*\*/)*")
_CONCURRENTLY = re.compile(r"\bCONCURRENTLY\b", re.IGNORECASE)


def transaction_kind(head: str, server_version: int = 160000) -> str:
    """PLAIN, NO_TRANSACTION or TRANSACTION_CONTROL for a statement (`head`: its text past leading comments).

    The first words pick the candidates; the tree confirms them (a CONCURRENTLY that is only a column's name, a
    comment between the keywords). Text pglast cannot parse (newer syntax, a statement cut short) keeps what the
    words say."""
    if _TRANSACTION_CONTROL.match(head):
        return _confirmed(head, TRANSACTION_CONTROL, server_version)
    if _NO_TRANSACTION.match(head) or _CONCURRENTLY.search(head, 0, 4096):
        return _confirmed(head, NO_TRANSACTION, server_version)
    if _DO.match(head) and _ENDS_TRANSACTION.search(head):
        return _confirmed(head, NO_TRANSACTION, server_version)
    if server_version < 120000 and _ADD_ENUM_VALUE.match(head):
        return NO_TRANSACTION
    return PLAIN


def _confirmed(head: str, guess: str, server_version: int) -> str:
    stmts = _parse(head)
    if stmts is None or len(stmts) != 1:
        return guess if guess == TRANSACTION_CONTROL or _NO_TRANSACTION.match(head) else PLAIN
    return _tree_kind(stmts[0], server_version)


def _tree_kind(s: Any, server_version: int) -> str:
    from pglast import ast, enums

    if isinstance(s, ast.TransactionStmt):
        TK = enums.TransactionStmtKind
        tx_ends = (TK.TRANS_STMT_SAVEPOINT, TK.TRANS_STMT_RELEASE, TK.TRANS_STMT_ROLLBACK_TO)
        return PLAIN if s.kind in tx_ends else TRANSACTION_CONTROL
    concurrent = bool(getattr(s, "concurrent", False))
    if isinstance(s, ast.IndexStmt | ast.DropStmt) and concurrent:
        return NO_TRANSACTION
    if isinstance(s, ast.ReindexStmt):
        RK = enums.ReindexObjectType
        wide = s.kind in (RK.REINDEX_OBJECT_SCHEMA, RK.REINDEX_OBJECT_DATABASE, RK.REINDEX_OBJECT_SYSTEM)
        if wide or "concurrently" in options(s.params):
            return NO_TRANSACTION
    detach = isinstance(s, ast.AlterTableStmt) and any(
        isinstance(c.def_, ast.PartitionCmd) and c.def_.concurrent for c in s.cmds or ()
    )
    if detach:
        return NO_TRANSACTION
    if isinstance(s, ast.VacuumStmt) and s.is_vacuumcmd:
        return NO_TRANSACTION
    no_tx = (ast.AlterSystemStmt, ast.CreatedbStmt, ast.DropdbStmt, ast.CreateTableSpaceStmt,
             ast.DropTableSpaceStmt, ast.CreateSubscriptionStmt, ast.DropSubscriptionStmt)  # fmt: skip
    if isinstance(s, no_tx):
        return NO_TRANSACTION
    if isinstance(s, ast.AlterDatabaseStmt) and "tablespace" in options(s.options):
        return NO_TRANSACTION
    if isinstance(s, ast.AlterEnumStmt) and s.newVal and not s.oldVal and server_version < 120000:
        return NO_TRANSACTION
    if isinstance(s, ast.DoStmt) and _do_ends_transactions(s):
        return NO_TRANSACTION
    return PLAIN


def commits_as_it_goes(text: str) -> bool:
    """A DO block that ends transactions itself (the fixer's batched backfill): what it committed before an error
    stays, so a failure's state must say so."""
    found = classify(text)
    return found.kind == NO_TRANSACTION and found.has("do")


def _do_ends_transactions(s: Any) -> bool:
    """Whether a DO block's PL/pgSQL holds a COMMIT or ROLLBACK statement (read by PL/pgSQL's own parser, so the
    word in a string or a comment does not count). Another language, or a body PL/pgSQL cannot parse (the server
    refuses it anyway), is judged as before: a statement that runs in a transaction."""
    from pglast import parser

    args = {str(d.defname).lower(): getattr(d.arg, "sval", None) for d in s.args or ()}
    body, language = args.get("as"), (args.get("language") or "plpgsql").lower()
    if language != "plpgsql" or not body or not _ENDS_TRANSACTION.search(body):
        return False
    tag = "$migrakit$"
    while tag in body:
        tag = tag[:-1] + "_$"
    try:
        tree = parser.parse_plpgsql_json(f"DO {tag}{body}{tag}")
    except parser.ParseError:
        return False
    return '"PLpgSQL_stmt_commit"' in tree or '"PLpgSQL_stmt_rollback"' in tree


def _parse(text: str) -> tuple[Any, ...] | None:
    from pglast import parse_sql
    from pglast.parser import ParseError

    try:
        return tuple(raw.stmt for raw in parse_sql(text))
    except ParseError:
        return None


@dataclass(frozen=True)
class Classification:
    kind: str  # PLAIN, NO_TRANSACTION or TRANSACTION_CONTROL
    actions: tuple[Action, ...] | None  # None: pglast cannot parse the text (the measurement still applies)

    @property
    def locks(self) -> tuple[tuple[str, str], ...]:
        """(relation, mode) the tree says the statement takes."""
        out: list[tuple[str, str]] = []
        for a in self.actions or ():
            pairs = ([(a.relation, a.lock)] if a.relation and a.lock else []) + list(a.others)
            out += [p for p in pairs if p not in out]
        return tuple(out)

    @property
    def scans(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.relation for a in self.actions or () if a.scans and a.relation))

    @property
    def rewrites(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.relation for a in self.actions or () if a.rewrites and a.relation))

    @property
    def writes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.relation for a in self.actions or () if a.writes and a.relation))

    def has(self, kind: str) -> bool:
        return any(a.kind == kind for a in self.actions or ())


@lru_cache(maxsize=4096)
def classify(text: str, server_version: int = 160000) -> Classification:
    """The judgement of one statement (`text`: a slice of the original file, comments included)."""
    stmts = _parse(text)
    if stmts is None:
        return Classification(_kind_of_unparsed(text, server_version), None)
    kind = _tree_kind(stmts[0], server_version) if len(stmts) == 1 else _kind_of_unparsed(text, server_version)
    return Classification(kind, tuple(a for s in stmts for a in actions_of(s)))


def _kind_of_unparsed(text: str, server_version: int) -> str:
    """What the first words say (the splitter's Statement.kind says the same, past nested comments too)."""
    return transaction_kind(text[_LEADING_NOISE.match(text).end() :], server_version)  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------ what migrate refuses
@dataclass(frozen=True)
class Refusal:
    """Why db.migrate will not run a migration as written; db.lint reports it with the same words."""

    message: str
    fix: str
    statement: int  # 0-based index of the statement it points at
    state: str = "nothing was run"


def refusal(tag: str, one_transaction: bool, kinds: Sequence[str]) -> Refusal | None:
    """The refusal for a migration whose statements have `kinds` (in order): `one_transaction` when the whole
    file runs as one transaction (Mode 2, legacy); else a Mode 1 migration, which runs a statement that cannot
    run in a transaction alone, or as the file's own BEGIN/COMMIT say."""
    if one_transaction:
        bad = next((i for i, k in enumerate(kinds) if k in (TRANSACTION_CONTROL, NO_TRANSACTION)), None)
        if bad is None:
            return None
        control = kinds[bad] == TRANSACTION_CONTROL
        return Refusal(
            f"{tag} runs as one transaction (Mode 2), but statement {bad + 1} "
            + ("ends or starts a transaction itself" if control else "cannot run inside a transaction"),
            "remove the file's own BEGIN/COMMIT (the whole file already runs in one transaction)"
            if control
            else "run that statement as a Mode 1 migration of its own (`inv db.generate --custom NAME`)",
            bad,
        )
    if TRANSACTION_CONTROL in kinds or NO_TRANSACTION not in kinds or len(kinds) < 2:
        return None
    return Refusal(
        f"migration {tag} mixes a statement that cannot run in a transaction with {len(kinds) - 1} other(s)",
        "move that statement into a migration of its own (`inv db.generate --custom NAME`)",
        list(kinds).index(NO_TRANSACTION),
    )
