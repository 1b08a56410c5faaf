"""Property tests of the splitter: random scripts from a grammar of tricky building blocks. The statements are
slices of the text, in order, and everything outside them is blanks, comments or `;`. The same grammar runs on a
real server in tests/integration/test_split_against_psql.py (same schema as psql running the whole text).
"""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from migrakit.core.postgres.scan import WHITESPACE
from migrakit.core.postgres.statements import BOM, BREAKPOINT, split_breakpoints, split_statements
from migrakit.errors import SplitError

# ------------------------------------------------------------------------------------------ the grammar
# Characters and fragments that break naive splitters; never the exact marker (Drizzle would cut there).
FRAGMENTS = [";", "'", "''", '"', "$", "$$", "$fn$", "-->", "--> statement", "--", "/*", "*/", "\\", "\n", "\t",
             "é", "😀", "(", ")", "BEGIN", "END", "CASE", "a", "Z", "0", " "]  # fmt: skip
payload = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join)


@st.composite
def literal(draw) -> str:
    """A string constant of any PostgreSQL flavour whose value is `payload`."""
    value = draw(payload)
    flavour = draw(st.sampled_from(["standard", "escape", "dollar"]))
    if flavour == "standard":  # standard_conforming_strings: only the quote is special
        return "'" + value.replace("'", "''") + "'"
    if flavour == "escape":
        escaped = value.replace("\\", "\\\\")
        quote = draw(st.sampled_from(["\\'", "''"]))
        return draw(st.sampled_from(["E", "e"])) + "'" + escaped.replace("'", quote) + "'"
    tag = draw(st.sampled_from(["$$", "$q$", "$A1$", "$_$"]))
    assume((value + tag).find(tag) == len(value))  # the first closing tag is the one written
    return tag + value + tag


@st.composite
def ident(draw, prefix: str) -> str:
    """A quoted identifier, unique through `prefix`, short enough to stay under NAMEDATALEN bytes."""
    value = draw(st.lists(st.sampled_from([f for f in FRAGMENTS if len(f) <= 2 and f != "\n"]), max_size=5))
    return '"' + (prefix + "".join(value)).replace('"', '""') + '"'


COMMENT_FRAGMENTS = [";", "'", '"', "$$", "-->", "--", " ", "x", "é", "\n", "BEGIN", "END"]  # no `/`, no `*`


@st.composite
def block_comment(draw, depth: int = 0) -> str:
    text = draw(st.lists(st.sampled_from(COMMENT_FRAGMENTS), max_size=5))
    inner = draw(block_comment(depth + 1)) if depth < 2 and draw(st.booleans()) else ""
    return "/*" + "".join(text) + inner + "".join(reversed(text)) + "*/"


@st.composite
def comment(draw) -> str:
    if draw(st.booleans()):
        return draw(block_comment())
    return "-- " + draw(payload).replace("\n", " ") + "\n"


@st.composite
def statement(draw, n: int) -> str:
    """Statement number `n` (names carry `n`, so they never collide)."""
    kind = draw(st.sampled_from(["table", "insert", "comment", "view", "sql_fn", "plpgsql_fn", "atomic_fn",
                                 "atomic_proc", "do"]))  # fmt: skip
    lit = draw(literal())
    if kind == "table":
        return (f"CREATE TABLE {draw(ident(f't{n}'))} ({draw(ident('c'))} text DEFAULT {lit}, "
                f"id int CHECK (id <> length({draw(literal())})))")  # fmt: skip
    if kind == "insert":
        return f"INSERT INTO base (s) VALUES ({lit}), ({draw(literal())})"
    if kind == "comment":
        return f"COMMENT ON TABLE base IS {lit}"
    if kind == "view":
        return f"CREATE VIEW {draw(ident(f'v{n}'))} AS SELECT {lit} AS c, {draw(literal())} AS d"
    if kind == "sql_fn":
        tag = draw(st.sampled_from(["$body$", "$fn$"]))
        assume(tag not in lit)
        return f"CREATE FUNCTION f{n}() RETURNS text LANGUAGE sql AS {tag} SELECT 1; SELECT {lit}; {tag}"
    if kind == "plpgsql_fn":
        assume("$fn$" not in lit)
        return (f"CREATE OR REPLACE FUNCTION p{n}() RETURNS text LANGUAGE plpgsql AS $fn$\nBEGIN\n  PERFORM 1;\n"
                f"  RETURN {lit};\nEND;\n$fn$")  # fmt: skip
    if kind == "atomic_fn":
        return (f"CREATE FUNCTION a{n}() RETURNS text LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n"
                f"  SELECT CASE WHEN true THEN {lit} END;\nEND")  # fmt: skip
    if kind == "atomic_proc":
        return (f"CREATE PROCEDURE pr{n}() LANGUAGE sql\nBEGIN ATOMIC\n  INSERT INTO base (s) VALUES ({lit});\n"
                f"  INSERT INTO base (s) VALUES (CASE WHEN false THEN 'x' ELSE 'y' END);\nEND")  # fmt: skip
    assume("$do$" not in lit)
    return f"DO $do$ BEGIN PERFORM {lit}; CREATE TABLE d{n} (x int); END $do$"


SEPARATORS = ["\n", " ", "\n\n", "\n" + BREAKPOINT + "\n", BREAKPOINT + "\n", "\r\n" + BREAKPOINT + "\r\n", ";\n"]


@st.composite
def script(draw) -> str:
    parts = ["CREATE TABLE base (id serial PRIMARY KEY, s text);\n"]
    markers = 0
    for n in range(draw(st.integers(min_value=1, max_value=6))):
        if draw(st.integers(0, 3)) == 0:
            parts.append(draw(comment()) + "\n")
        stmt = draw(statement(n))
        if draw(st.integers(0, 4)) == 0:  # a comment before the terminator
            stmt += " " + draw(comment())
        separator = draw(st.sampled_from(SEPARATORS))
        markers += BREAKPOINT in separator
        parts.append(stmt + ";" + separator)
    text = "".join(parts)
    assume(text.count(BREAKPOINT) == markers)  # no marker inside a literal: Drizzle would cut it there
    return text


# ------------------------------------------------------------------------------------------ pure properties
def check_slices(text: str) -> None:
    """The statements are increasing, non-overlapping slices of `text`, each inside one Drizzle piece, and
    nothing but blanks, comments and `;` is left outside them (checked against pglast's scanner)."""
    from pglast import parser

    stmts = split_statements(text)
    pos = 0
    for s in stmts:
        assert pos <= s.start < s.end and text[s.start : s.end] == s.text
        pos = s.end
    for piece_no, (base, piece) in enumerate(split_breakpoints(text)):
        sql = " " + piece[1:] if piece.startswith(BOM) else piece
        inside = [(s.start - base, s.end - base) for s in stmts if s.piece == piece_no]
        assert all(0 <= a < b <= len(piece) for a, b in inside)
        covered = bytearray(len(sql))
        for a, b in inside:
            covered[a:b] = b"\1" * (b - a)
        for tok in parser.scan(sql):
            if tok.name in ("SQL_COMMENT", "C_COMMENT", "ASCII_59"):
                covered[tok.start : tok.end + 1] = b"\1" * (tok.end + 1 - tok.start)
            else:
                assert all(covered[tok.start : tok.end + 1]), f"token {sql[tok.start : tok.end + 1]!r} left out"
        assert all(c in WHITESPACE for c, seen in zip(sql, covered) if not seen)


@settings(max_examples=200, deadline=None, database=None)
@given(script())
def test_grammar_scripts_split_into_covering_slices(text):
    check_slices(text)


SQLISH_PARTS = [*";'\"$-/*\\()\n\r\t ,.:éx1", BREAKPOINT, "BEGIN", "END", "CASE", "SELECT", "CREATE FUNCTION"]
SQLISH_PARTS += ["E'", "$$", "$a$", "U&'", '"']
SQLISH = st.lists(st.sampled_from(SQLISH_PARTS), max_size=30).map("".join)


@settings(max_examples=300, deadline=None, database=None)
@given(SQLISH)
def test_any_text_is_split_or_refused_never_dropped(text):
    try:
        check_slices(text)
    except SplitError:
        pass  # unterminated quote or comment, or a psql meta-command: refused with a position
