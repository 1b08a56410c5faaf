"""The fixer's textual edits, and what one statement becomes (`Steps`): keywords inserted, words appended, spans
removed, names quoted as PostgreSQL quotes them. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from migrakit.core.postgres.statements import BREAKPOINT

_PLAIN_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")
_NAMEDATALEN = 63


@dataclass
class Steps:
    """What one statement becomes: statements kept in the running migration (`now`), migrations of their own
    (`own`), statements after those (`after`), and the validation and finishing phases that follow the
    migration."""

    rule: str
    summary: str
    now: list[str] = field(default_factory=list)
    own: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    validate: list[str] = field(default_factory=list)
    finish: list[str] = field(default_factory=list)


def quote_ident(name: str) -> str:
    """An identifier as PostgreSQL's quote_ident writes it: bare when it can be, else double-quoted."""
    from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

    reserved = RESERVED_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS | COL_NAME_KEYWORDS
    if _PLAIN_IDENT.match(name) and name not in reserved:
        return name
    return '"' + name.replace('"', '""') + '"'


def render_migration(texts: Sequence[str]) -> str:
    """A migration file's body: the statements, each ending with `;`, separated by Drizzle's breakpoints."""
    return f"\n{BREAKPOINT}\n".join(terminated(t) for t in texts) + "\n"


def terminated(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith(";") else text + ";"


def parse(text: str) -> Any:
    """The statement's tree (pglast), or None when the text is not exactly one statement pglast parses."""
    from pglast import parse_sql
    from pglast.parser import ParseError

    try:
        stmts = parse_sql(text)
    except ParseError:
        return None
    return stmts[0].stmt if len(stmts) == 1 else None


def name(rv: Any) -> tuple[str, str]:
    return (rv.schemaname or "public", rv.relname)


def rel_sql(rv: Any) -> str:
    return ".".join(quote_ident(p) for p in (rv.schemaname, rv.relname) if p)


def tokens(text: str) -> list[Any]:
    from pglast.parser import scan

    return [t for t in scan(text) if t.name not in ("SQL_COMMENT", "C_COMMENT")]


def insert_after(text: str, keyword: str, words: str) -> str | None:
    """`text` with ` words` inserted after its first `keyword` token (None when it has none)."""
    for tok in tokens(text)[:6]:
        if tok.name == keyword:
            return text[: tok.end + 1] + " " + words + text[tok.end + 1 :]
    return None


def append(text: str, words: str) -> str:
    """`text` with ` words` after its last token (before a final `;`)."""
    toks = tokens(text)
    last = toks[-2] if len(toks) > 1 and toks[-1].name == "ASCII_59" else toks[-1]
    return text[: last.end + 1] + " " + words + text[last.end + 1 :]


def without_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`text` without the `(start, end)` spans, each taken out with the blanks before it."""
    for start, end in sorted(spans, reverse=True):
        text = text[:start].rstrip() + text[end:]
    return text.rstrip()


def constraint_name(table: str, col: str, suffix: str) -> str:
    """`<table>_<col>_<suffix>` as PostgreSQL's makeObjectName builds it (a serial's sequence, a check's name):
    within 63 bytes, taking a byte from the longer of the two names until it fits, never splitting a character."""
    names = [table.encode(), col.encode()]
    room = _NAMEDATALEN - 2 - len(suffix.encode())
    lengths = [len(n) for n in names]
    while sum(lengths) > room:
        lengths[0 if lengths[0] > lengths[1] else 1] -= 1
    table, col = (n[:k].decode(errors="ignore") for n, k in zip(names, lengths, strict=True))
    return f"{table}_{col}_{suffix}"


def expression_end(text: str, start: int) -> int:
    """Where the expression starting at `start` ends: before the next top-level `,`, `;` or constraint keyword."""
    depth, end = 0, start
    for tok in tokens(text):
        if tok.start < start:
            continue
        if tok.name in ("ASCII_40", "ASCII_91"):
            depth += 1
        elif tok.name in ("ASCII_41", "ASCII_93"):
            depth -= 1
        elif depth == 0 and (
            tok.name in ("ASCII_44", "ASCII_59")
            or tok.name in ("NOT", "NULL_P", "CONSTRAINT", "CHECK", "REFERENCES", "UNIQUE", "PRIMARY", "COLLATE")
        ):
            break
        end = tok.end + 1
    return end


def not_null_via_check(rel: str, table: str, col: str) -> Steps:
    """SET NOT NULL on `col` without its scan under AccessExclusiveLock: a CHECK (col IS NOT NULL) NOT VALID now,
    validated in the next migration, then SET NOT NULL (PostgreSQL 12+ skips the scan a valid check proves) and
    the check dropped. The caller places `now` (the check) and, for an existing statement, keeps its own text."""
    check = quote_ident(constraint_name(table, col, "not_null_check"))
    return Steps(
        "not-null-via-check",
        f"SET NOT NULL on {col} -> CHECK NOT VALID, VALIDATE, then SET NOT NULL without a scan",
        now=[f"ALTER TABLE {rel} ADD CONSTRAINT {check} CHECK ({quote_ident(col)} IS NOT NULL) NOT VALID"],
        validate=[f"ALTER TABLE {rel} VALIDATE CONSTRAINT {check}"],
        finish=[f"ALTER TABLE {rel} ALTER COLUMN {quote_ident(col)} SET NOT NULL",
                f"ALTER TABLE {rel} DROP CONSTRAINT {check}"],
    )  # fmt: skip
