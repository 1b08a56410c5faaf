"""Cut migration text into statements: first at Drizzle's breakpoints, then by PostgreSQL's own grammar.

`split_breakpoints` is Drizzle's plain `content.split('--> statement-breakpoint')`, nothing more.
`split_statements` goes further for Mode 1: each piece is split into single statements with pglast
(libpg_query, PostgreSQL's real parser), so dollar quotes, nested comments, E'' strings, quoted
identifiers and `BEGIN ATOMIC ... END` bodies are handled by the rules the server itself uses.
Every `Statement.text` is a slice of the original text: nothing is ever regenerated.

When pglast's grammar rejects a piece (a typo the server will report, syntax newer than pglast's, a psql
meta-command), the piece is cut from pglast's token stream with psql's own rules instead: `;` ends a statement
outside parentheses and outside the `BEGIN ... END` of `CREATE [OR REPLACE] FUNCTION|PROCEDURE`. Either way a
coverage check proves that nothing but blanks, comments and `;` lies outside the statements. Those lexical
rules and psql's cut live in core/postgres/scan.py.

Pure: text in, data out. pglast is imported on first use (it is large, and `--help` should be fast).
"""

from __future__ import annotations

import bisect
import re
from array import array
from dataclasses import dataclass, field

from migrakit.core.classify import NO_TRANSACTION as NO_TRANSACTION  # the kinds, re-exported for the splitter's users
from migrakit.core.classify import PLAIN as PLAIN
from migrakit.core.classify import TRANSACTION_CONTROL as TRANSACTION_CONTROL
from migrakit.core.classify import transaction_kind
from migrakit.core.postgres import scan
from migrakit.errors import SplitError

BREAKPOINT = "--> statement-breakpoint"

BOM = "\ufeff"
_DESTRUCTIVE = re.compile(
    r"""\A(?:DROP\b|TRUNCATE\b|DELETE\b|ALTER\s+TYPE\b.*\bRENAME\b
      | ALTER\s+TABLE\b.*\bDROP\s+(?!(?:CONSTRAINT|DEFAULT|NOT\s+NULL|IDENTITY|EXPRESSION)\b))""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)


def keyword_head(text: str) -> str:
    """The statement with leading comments and blanks removed (for classifying it)."""
    return text[scan.skip_noise(text) :]


def classify(text: str, server_version: int = 160000) -> str:
    """Whether the statement can run in a transaction block: core/classify.py's judgement, past its comments."""
    return transaction_kind(keyword_head(text), server_version)


def is_destructive(text: str) -> bool:
    return bool(_DESTRUCTIVE.match(keyword_head(text)))


@dataclass(frozen=True, eq=False)
class Statement:
    """One SQL statement: the slice `text == source[start:end]` of its file, with where it sits.

    Holds a reference to the file's text, not a copy: `text` is sliced on each use, so a large file is not
    held twice (once whole, once cut into statements). Equal when text and position are."""

    source: str = field(repr=False)
    start: int
    end: int
    line: int
    col: int
    piece: int  # which breakpoint piece it came from (0-based)
    kind: str = PLAIN

    @property
    def text(self) -> str:
        return self.source[self.start : self.end]

    def _key(self) -> tuple[object, ...]:
        return (self.text, self.start, self.end, self.line, self.col, self.piece, self.kind)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Statement) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def destructive(self) -> bool:
        return is_destructive(self.text)


class LineIndex:
    """Offset -> (line, column), both 1-based characters, in O(log n) after one linear pass.

    A leading BOM takes no column: editors do not show it, so what follows it is column 1."""

    def __init__(self, text: str) -> None:
        self._starts = array("q", [0])  # 8 bytes a line, not a list of int objects: a large file has millions
        self._starts.extend(m.end() for m in re.finditer("\n", text))
        self._bom = text.startswith(BOM)

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset) - 1
        col = offset - self._starts[line] + 1
        if line == 0 and self._bom and offset > 0:
            col -= 1
        return line + 1, col


def split_breakpoints(text: str) -> list[tuple[int, str]]:
    """Drizzle's split: (offset of the piece in `text`, piece). Empty pieces are kept, as Drizzle keeps them."""
    pieces: list[tuple[int, str]] = []
    offset = 0
    for piece in text.split(BREAKPOINT):
        pieces.append((offset, piece))
        offset += len(piece) + len(BREAKPOINT)
    return pieces


def _piece_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) of each of `split_breakpoints`' pieces, without copying them out of `text`."""
    bounds: list[tuple[int, int]] = []
    start = 0
    while (stop := text.find(BREAKPOINT, start)) >= 0:
        bounds.append((start, stop))
        start = stop + len(BREAKPOINT)
    bounds.append((start, len(text)))
    return bounds


# A piece longer than this is split by `scan_spans` (psql's rules, in place) when it can be: pglast's parser
# and scanner need 3.5-5x the piece in memory (a 60 MB INSERT peaked at 290 MB more), the scan nothing.
_LARGE_PIECE = 1 << 20
_CLASSIFY_HEAD = 1 << 16  # how much of a statement `classify` looks at (its first words decide)


def _piece_spans(piece: str) -> list[tuple[int, int]]:
    """(start, end) of each statement of `piece`: PostgreSQL's grammar first, psql's rules when it refuses.
    A piece over _LARGE_PIECE is scanned in place (`scan_spans`) when it can be."""
    from pglast import parser

    if len(piece) > _LARGE_PIECE:
        scanned = scan.scan_spans(piece)
        if scanned is not None and scan.uncovered(piece, scanned) is None:
            return scanned
    try:
        spans = [(s.start, s.stop) for s in parser.split(piece, with_parser=True, only_slices=True)]
    except parser.ParseError:
        spans = None
    # pglast strips Python's blanks (NBSP, U+3000 ...) off a statement's ends, where PostgreSQL sees part of a
    # name: the coverage check sends such a piece to the tokens, which are exact.
    if spans is None or scan.uncovered(piece, spans) is not None:
        spans = scan.token_spans(piece)
        uncovered = scan.uncovered(piece, spans)
        if uncovered is not None:  # a guard: the token split covers every token by construction
            raise scan.Refused(
                "cannot split the SQL into statements: this text would be left out",
                uncovered,
                "add `--> statement-breakpoint` around this statement, and report the file to migrakit",
            )
    return spans


def split_statements(
    text: str,
    *,
    file: str | None = None,
    migration: str | None = None,
    server_version: int = 160000,
) -> list[Statement]:
    """All statements of a migration file, in order, each a slice of `text`.

    Raises SplitError (with line and column) for unterminated quotes/comments and psql meta-commands. A
    syntax error is not one: the piece is still cut (with psql's rules) and the server will report it.
    """
    index = LineIndex(text)
    pieces = _piece_bounds(text)  # one piece is sliced at a time: the file is not held twice
    out: list[Statement] = []
    for piece_no, (base, stop) in enumerate(pieces):
        piece = text[base:stop]
        if piece.startswith(BOM):  # hashed as part of the file, but not SQL; a blank keeps the offsets
            piece = " " + piece[1:]
        if scan.skip_noise(piece) == len(piece):
            continue
        try:
            spans = _piece_spans(piece)
        except scan.Refused as exc:
            fix = exc.fix
            if piece_no < len(pieces) - 1 and "unterminated" in exc.message:
                fix += "; if a `--> statement-breakpoint` sits inside it, move it out (Drizzle splits there too)"
            line, col = index.position(base + exc.offset)
            raise SplitError(exc.message, file=file, migration=migration, line=line, col=col,
                             state="nothing was run", fix=fix) from exc  # fmt: skip
        for start, end in spans:
            body = piece[start : min(end, start + _CLASSIFY_HEAD)]  # not a copy of a giant statement
            line, col = index.position(base + start)
            out.append(
                Statement(
                    source=text,
                    start=base + start,
                    end=base + end,
                    line=line,
                    col=col,
                    piece=piece_no,
                    kind=classify(body, server_version),
                )
            )
    return out
