"""Cut migration text into statements: first at Drizzle's breakpoints, then by PostgreSQL's own grammar.

`split_breakpoints` is Drizzle's plain `content.split('--> statement-breakpoint')`, nothing more.
`split_statements` goes further for Mode 1: each piece is split into single statements with pglast
(libpg_query, PostgreSQL's real parser), so dollar quotes, nested comments, E'' strings, quoted
identifiers and `BEGIN ATOMIC ... END` bodies are handled by the rules the server itself uses.
Every `Statement.text` is a slice of the original text: nothing is ever regenerated.

Pure: text in, data out. pglast is imported on first use (it is large, and `--help` should be fast).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from .errors import SplitError

BREAKPOINT = "--> statement-breakpoint"

PLAIN = "plain"
NO_TRANSACTION = "no-transaction"  # cannot run inside a transaction block (CREATE INDEX CONCURRENTLY, ...)
TRANSACTION_CONTROL = "transaction-control"  # BEGIN / COMMIT / ROLLBACK written in the file itself

_LEADING_NOISE = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*(?:[^*]|\*(?!/))*\*/)*")
_NO_TRANSACTION = re.compile(
    r"""\A(?:
        CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY
      | DROP\s+INDEX\s+CONCURRENTLY
      | REINDEX\b.*\bCONCURRENTLY
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
    r"\A(?:BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|PREPARE\s+TRANSACTION|"
    r"COMMIT\s+PREPARED|ROLLBACK\s+PREPARED)\b(?!\s+ATOMIC)",
    re.IGNORECASE,
)
_DESTRUCTIVE = re.compile(
    r"\A(?:DROP\b|TRUNCATE\b|DELETE\b|ALTER\s+TABLE\b.*\bDROP\b|ALTER\s+TYPE\b.*\bRENAME\b)",
    re.IGNORECASE | re.DOTALL,
)


def keyword_head(text: str) -> str:
    """The statement with leading comments and blanks removed (for classifying it)."""
    return text[_LEADING_NOISE.match(text).end():]  # type: ignore[union-attr]


def classify(text: str, server_version: int = 160000) -> str:
    head = keyword_head(text)
    if _TRANSACTION_CONTROL.match(head):
        return TRANSACTION_CONTROL
    if _NO_TRANSACTION.match(head):
        return NO_TRANSACTION
    if server_version < 120000 and _ADD_ENUM_VALUE.match(head):
        return NO_TRANSACTION
    return PLAIN


def is_destructive(text: str) -> bool:
    return bool(_DESTRUCTIVE.match(keyword_head(text)))


@dataclass(frozen=True)
class Statement:
    """One SQL statement: a slice `text == source[start:end]` of its file, with where it sits."""

    text: str
    start: int
    end: int
    line: int
    col: int
    piece: int  # which breakpoint piece it came from (0-based)
    kind: str = PLAIN

    @property
    def destructive(self) -> bool:
        return is_destructive(self.text)


class LineIndex:
    """Offset -> (line, column), both 1-based, in O(log n) after one linear pass."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1


def split_breakpoints(text: str) -> list[tuple[int, str]]:
    """Drizzle's split: (offset of the piece in `text`, piece). Empty pieces are kept, as Drizzle keeps them."""
    pieces: list[tuple[int, str]] = []
    offset = 0
    for piece in text.split(BREAKPOINT):
        pieces.append((offset, piece))
        offset += len(piece) + len(BREAKPOINT)
    return pieces


def _only_noise_between(text: str, spans: list[tuple[int, int]]) -> int | None:
    """Offset of the first character outside `spans` that is not blank, a comment or ';' (None if none)."""
    pos = 0
    for start, end in [*spans, (len(text), len(text))]:
        gap = text[pos:start]
        rest = re.sub(r";", " ", gap)
        head = _LEADING_NOISE.match(rest).end()  # type: ignore[union-attr]
        if head < len(rest):
            return pos + head
        pos = end
    return None


def _pglast_slices(piece: str, file: str | None, migration: str | None, base: int, index: LineIndex) -> list[tuple[int, int]]:
    from pglast import parser

    if piece.startswith("\ufeff"):  # a BOM: hashed as part of the file, but not SQL; same length keeps offsets
        piece = " " + piece[1:]
    try:
        return [(s.start, s.stop) for s in parser.split(piece, with_parser=True, only_slices=True)]
    except parser.ParseError as exc:
        parser_error = exc
    # The grammar rejected something (a typo the server will report, or syntax newer than pglast's):
    # fall back to the scanner, which still knows quotes, comments and dollar quotes.
    try:
        spans = [(s.start, s.stop) for s in parser.split(piece, with_parser=False, only_slices=True)]
    except parser.ParseError as exc:
        message, location = (exc.args + (0,))[:2]
        line, col = index.position(base + int(location or 0))
        raise SplitError(
            f"cannot split the SQL: {message}",
            file=file,
            migration=migration,
            line=line,
            col=col,
            state="nothing was run",
            fix="close the quote, dollar quote or comment that starts here",
        ) from exc
    uncovered = _only_noise_between(piece, spans)
    if uncovered is not None:
        line, col = index.position(base + uncovered)
        raise SplitError(
            f"cannot split the SQL into statements: {parser_error.args[0]}",
            file=file,
            migration=migration,
            line=line,
            col=col,
            state="nothing was run",
            fix="fix the syntax here, or add `--> statement-breakpoint` between statements",
        ) from parser_error
    return spans


def split_statements(
    text: str,
    *,
    file: str | None = None,
    migration: str | None = None,
    server_version: int = 160000,
) -> list[Statement]:
    """All statements of a migration file, in order, each a slice of `text`.

    Raises SplitError (with line and column) for unterminated quotes/comments and psql meta-commands.
    """
    index = LineIndex(text)
    out: list[Statement] = []
    for piece_no, (base, piece) in enumerate(split_breakpoints(text)):
        if not keyword_head(piece).strip():
            continue
        for start, end in _pglast_slices(piece, file, migration, base, index):
            body = piece[start:end]  # pglast never includes a leading BOM (replaced by a blank above)
            lead = len(body) - len(keyword_head(body))
            line, col = index.position(base + start + lead)
            if keyword_head(body).startswith("\\"):
                raise SplitError(
                    f"psql meta-command {keyword_head(body).split()[0]!r} in a migration file",
                    file=file,
                    migration=migration,
                    line=line,
                    col=col,
                    state="nothing was run",
                    fix="meta-commands only work in psql; inline the SQL they stand for",
                )
            out.append(
                Statement(
                    text=body,
                    start=base + start,
                    end=base + end,
                    line=line,
                    col=col,
                    piece=piece_no,
                    kind=classify(body, server_version),
                )
            )
    return out
