"""PostgreSQL's lexical rules as the splitter needs them: its blanks and comments, and psql's cut of a piece.

`skip_noise` and `uncovered` skip what lies between statements (blanks, nested block comments, `--` comments).
`token_spans` cuts a piece pglast's grammar refused from pglast's token stream with psql's rules;
`scan_spans` cuts a large piece in place with the same rules, copying nothing. core/postgres/statements.py
chooses between them and PostgreSQL's grammar.

Pure: text in, data out. pglast is imported on first use (it is large, and `--help` should be fast).
"""

from __future__ import annotations

import re

WHITESPACE = " \t\n\r\f\v"  # PostgreSQL's blanks (scan.l `space`): not Python's wider str.isspace()
_BLANKS = re.compile(r"[ \t\n\r\f\v]*")
_LINE_END = re.compile(r"[\n\r]")  # a `--` comment ends at either (scan.l `non_newline`)
_COMMENT_EDGE = re.compile(r"/\*|\*/")


def skip_noise(text: str, pos: int = 0, stop: int | None = None) -> int:
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


def uncovered(text: str, spans: list[tuple[int, int]]) -> int | None:
    """Offset of the first character outside `spans` that is not blank, a comment or ';' (None if none)."""
    pos = 0
    for start, end in [*spans, (len(text), len(text))]:
        if start < pos:  # overlapping or out of order: not a split of `text`
            return start
        if not text[pos:start].strip(WHITESPACE + ";"):  # the usual gap: blanks and `;` only
            pos = end
            continue
        while (pos := skip_noise(text, pos, start)) < start:
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


class Refused(Exception):
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


def token_spans(piece: str) -> list[tuple[int, int]]:
    """Statements of `piece` from pglast's scanner tokens, cut with psql's rules; no token is left out."""
    from pglast import parser

    try:
        tokens = parser.scan(piece)
    except parser.ParseError as exc:
        message, location = (exc.args + (None,))[:2]
        fix = "close the quote, dollar quote or comment that starts here"
        raise Refused(f"cannot split the SQL: {_shorten(str(message))}", int(location or 0), fix) from exc
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
            raise Refused(
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


def scan_spans(piece: str) -> list[tuple[int, int]] | None:
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
