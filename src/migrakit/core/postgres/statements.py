"""Cut migration text into statements: first at Drizzle's breakpoints, then by PostgreSQL's own grammar.

`split_breakpoints` is Drizzle's plain `content.split('--> statement-breakpoint')`, nothing more.
`split_statements` goes further for Mode 1: each piece is split into single statements with pglast
(libpg_query, PostgreSQL's real parser), so dollar quotes, nested comments, E'' strings, quoted
identifiers and `BEGIN ATOMIC ... END` bodies are handled by the rules the server itself uses.
Every `Statement.text` is a slice of the original text: nothing is ever regenerated.

When pglast's grammar rejects a piece (a typo the server will report, syntax newer than pglast's, a psql
meta-command), the piece is cut from pglast's token stream with psql's own rules instead: `;` ends a statement
outside parentheses and outside the `BEGIN ... END` of `CREATE [OR REPLACE] FUNCTION|PROCEDURE`. Either way a
coverage check proves that nothing but blanks, comments and `;` lies outside the statements.

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
from migrakit.errors import SplitError

BREAKPOINT = "--> statement-breakpoint"

BOM = "\ufeff"
WHITESPACE = " \t\n\r\f\v"  # PostgreSQL's blanks (scan.l `space`): not Python's wider str.isspace()
_BLANKS = re.compile(r"[ \t\n\r\f\v]*")
_LINE_END = re.compile(r"[\n\r]")  # a `--` comment ends at either (scan.l `non_newline`)
_COMMENT_EDGE = re.compile(r"/\*|\*/")
_DESTRUCTIVE = re.compile(
    r"""\A(?:DROP\b|TRUNCATE\b|DELETE\b|ALTER\s+TYPE\b.*\bRENAME\b
      | ALTER\s+TABLE\b.*\bDROP\s+(?!(?:CONSTRAINT|DEFAULT|NOT\s+NULL|IDENTITY|EXPRESSION)\b))""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)


def _skip_noise(text: str, pos: int = 0, stop: int | None = None) -> int:
    """The first offset at or after `pos` (before `stop`) that is not a blank or inside a comment.

    Block comments nest, as in PostgreSQL; an unterminated one is not noise (its `/*` is returned)."""
    stop = len(text) if stop is None else stop
    while pos < stop:
        pos = _BLANKS.match(text, pos, stop).end()  # type: ignore[union-attr]
        if text.startswith("--", pos, stop):
            m = _LINE_END.search(text, pos, stop)
            pos = m.end() if m else stop
        elif text.startswith("/*", pos, stop):
            depth, end = 1, pos + 2
            while depth:
                m = _COMMENT_EDGE.search(text, end, stop)
                if m is None:
                    return pos
                depth += 1 if m.group() == "/*" else -1
                end = m.end()
            pos = end
        else:
            break
    return min(pos, stop)


def keyword_head(text: str) -> str:
    """The statement with leading comments and blanks removed (for classifying it)."""
    return text[_skip_noise(text) :]


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


def _uncovered(text: str, spans: list[tuple[int, int]]) -> int | None:
    """Offset of the first character outside `spans` that is not blank, a comment or ';' (None if none)."""
    pos = 0
    for start, end in [*spans, (len(text), len(text))]:
        if start < pos:  # overlapping or out of order: not a split of `text`
            return start
        if not text[pos:start].strip(WHITESPACE + ";"):  # the usual gap: blanks and `;` only
            pos = end
            continue
        while (pos := _skip_noise(text, pos, start)) < start:
            if text[pos] != ";":
                return pos
            pos += 1
        pos = end
    return None


_COMMENT_TOKENS = frozenset({"SQL_COMMENT", "C_COMMENT"})
_ROUTINE_WORDS = ("function", "procedure")


def _defines_routine(words: list[str]) -> bool:
    """psql's test (psqlscan.l): the statement starts CREATE [OR REPLACE] FUNCTION|PROCEDURE."""
    kind = words[3:4] if words[1:3] == ["or", "replace"] else words[1:2]
    return words[:1] == ["create"] and bool(kind) and kind[0] in _ROUTINE_WORDS


class _Refused(Exception):
    """A piece that cannot be split, at `offset` in the piece; `split_statements` makes it a SplitError."""

    def __init__(self, message: str, offset: int, fix: str) -> None:
        super().__init__(message)
        self.message, self.offset, self.fix = message, offset, fix


def _shorten(message: str) -> str:
    """pglast's `... at or near "<the whole rest of the file>"`, cut to its first line and 40 characters."""
    m = re.search(r' at or near "(.*)"\Z', message, re.DOTALL)
    if not m:
        return message
    near = m.group(1).splitlines()[0] if m.group(1) else ""
    if len(near) > 40 or near != m.group(1):
        near = near[:40] + "..."
    return f'{message[: m.start()]} at or near "{near}"'


def _token_spans(piece: str) -> list[tuple[int, int]]:
    """Statements of `piece` from pglast's scanner tokens, cut with psql's rules; no token is left out."""
    from pglast import parser

    try:
        tokens = parser.scan(piece)
    except parser.ParseError as exc:
        message, location = (exc.args + (None,))[:2]
        fix = "close the quote, dollar quote or comment that starts here"
        raise _Refused(f"cannot split the SQL: {_shorten(str(message))}", int(location or 0), fix) from exc
    spans: list[tuple[int, int]] = []
    start = end = -1
    parens = begins = 0
    words: list[str] = []
    for tok in tokens:
        name = tok.name
        if name in _COMMENT_TOKENS:
            continue
        if name == "ASCII_92":  # a backslash outside quotes: only psql knows what to do with it
            command = re.match(r"\\[^\s\\]*", piece[tok.start :])[0]  # type: ignore[index]
            raise _Refused(
                f"psql meta-command `{command}` in a migration file",
                tok.start,
                "meta-commands only work in psql; inline the SQL they stand for",
            )
        if name == "ASCII_59" and parens == 0 and begins == 0:
            if start >= 0:
                spans.append((start, end))
            start, words = -1, []
            continue
        if start < 0:
            start = tok.start
        end = tok.end + 1
        if name == "ASCII_40":
            parens += 1
        elif name == "ASCII_41":
            parens = max(parens - 1, 0)
        elif (tok.kind != "NO_KEYWORD" or name == "IDENT") and piece[tok.start] != '"':
            word = piece[tok.start : end].lower()
            if len(words) < 4:
                words.append(word)
            if parens == 0 and _defines_routine(words):
                if word == "begin" or (word == "case" and begins):
                    begins += 1
                elif word == "end" and begins:
                    begins -= 1
    if start >= 0:
        spans.append((start, end))
    return spans


# A piece longer than this is split by `_scan_spans` (psql's rules, in place) when it can be: pglast's parser
# and scanner need 3.5-5x the piece in memory (a 60 MB INSERT peaked at 290 MB more), the scan nothing.
_LARGE_PIECE = 1 << 20
_CLASSIFY_HEAD = 1 << 16  # how much of a statement `classify` looks at (its first words decide)
_ATOMIC = re.compile(r"\batomic\b", re.IGNORECASE)
_LEX = re.compile(
    r"""(?:[^;()'"$/\-\\eE]|[eE](?!'))+           # words, numbers, operators, blanks
      | (?<![\w$])[eE]'[^'\\]*(?:(?:\\.|'')[^'\\]*)*'  # E'...' (backslash escapes)
      | '[^']*(?:''[^']*)*'                         # '...'
      | "[^"]*(?:""[^"]*)*"                         # "identifier"
      | (?<![\w$])\$(?:[^\W\d]\w*)?\$              # a dollar quote's opening tag
      | --[^\n\r]*                                  # a line comment
      | /\*                                         # a block comment's start (nesting handled below)
      | .                                           # ; ( ) - / $ or a quote that never closes
    """,
    re.VERBOSE | re.DOTALL,
)


def _scan_spans(piece: str) -> list[tuple[int, int]] | None:
    """psql's split of a large piece without copying it: top-level `;` outside quotes, dollar quotes,
    comments and parentheses, each statement cut as PostgreSQL's grammar cuts it (up to its `;`, comments
    before it included). None when the piece needs the exact path: an unterminated quote or comment (to
    report it precisely), a backslash outside quotes (a psql meta-command), a `BEGIN ATOMIC` body."""
    if _ATOMIC.search(piece):
        return None
    spans: list[tuple[int, int]] = []
    start = -1
    parens = pos = 0
    size = len(piece)
    while pos < size:
        m = _LEX.match(piece, pos)
        assert m is not None  # `.` matches any character
        nxt = m.end()  # never m.group(): a token may be a 60 MB string literal
        first = piece[pos]
        if first in "'\"" and (nxt - pos == 1 or piece[nxt - 1] != first) or first == "\\":
            return None
        if piece.startswith("--", pos):
            pos = nxt
            continue
        if piece.startswith("/*", pos):
            depth = 1
            while depth:
                edge = _COMMENT_EDGE.search(piece, nxt)
                if edge is None:
                    return None
                depth += 1 if edge.group() == "/*" else -1
                nxt = edge.end()
            pos = nxt
            continue
        if first == "$" and nxt - pos > 1:  # a dollar-quoted body runs to the same tag
            close = piece.find(piece[pos:nxt], nxt)
            if close < 0:
                return None
            nxt = close + (nxt - pos)
        if first == ";" and parens == 0:
            if start >= 0:
                while piece[pos - 1] in WHITESPACE:
                    pos -= 1
                spans.append((start, pos))
            start, pos = -1, nxt
            continue
        if first == "(":
            parens += 1
        elif first == ")":
            parens = max(parens - 1, 0)
        if start < 0:
            lead = _BLANKS.match(piece, pos, nxt).end()  # type: ignore[union-attr]
            if lead < nxt:
                start = lead
        pos = nxt
    if start >= 0:  # no `;` after the last statement: it runs to the end of the piece, trailing comments too
        end = size
        while piece[end - 1] in WHITESPACE:
            end -= 1
        spans.append((start, end))
    return spans


def _piece_spans(piece: str) -> list[tuple[int, int]]:
    """(start, end) of each statement of `piece`: PostgreSQL's grammar first, psql's rules when it refuses.
    A piece over _LARGE_PIECE is scanned in place (`_scan_spans`) when it can be."""
    from pglast import parser

    if len(piece) > _LARGE_PIECE:
        scanned = _scan_spans(piece)
        if scanned is not None and _uncovered(piece, scanned) is None:
            return scanned
    try:
        spans = [(s.start, s.stop) for s in parser.split(piece, with_parser=True, only_slices=True)]
    except parser.ParseError:
        spans = None
    # pglast strips Python's blanks (NBSP, U+3000 ...) off a statement's ends, where PostgreSQL sees part of a
    # name: the coverage check sends such a piece to the tokens, which are exact.
    if spans is None or _uncovered(piece, spans) is not None:
        spans = _token_spans(piece)
        uncovered = _uncovered(piece, spans)
        if uncovered is not None:  # a guard: the token split covers every token by construction
            raise _Refused(
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
        if _skip_noise(piece) == len(piece):
            continue
        try:
            spans = _piece_spans(piece)
        except _Refused as exc:
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
