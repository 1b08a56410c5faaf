"""The splitter, proven on golden files (Atlas style) and on the ways it must fail.

Each `data/statements/NN_name.sql` sits next to `NN_name.expected.json`: the statements migrakit cuts from it
(`line`, `col`, `kind`, `piece`, `text`), or `{"error": {...}}` when the file must be refused. To rewrite the
goldens after a deliberate change: `MIGRAKIT_REGEN_GOLDENS=1 pytest tests/unit/test_statements.py`, then
review the diff line by line: a golden is only worth what its review was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from migrakit.core.postgres import scan
from migrakit.core.postgres.statements import (
    BREAKPOINT,
    NO_TRANSACTION,
    PLAIN,
    TRANSACTION_CONTROL,
    LineIndex,
    classify,
    is_destructive,
    keyword_head,
    split_breakpoints,
    split_statements,
)
from migrakit.errors import SplitError

GOLDENS = Path(__file__).parent / "data" / "statements"
CASES = sorted(GOLDENS.glob("*.sql"))
REGEN = os.environ.get("MIGRAKIT_REGEN_GOLDENS", "").strip() not in ("", "0")


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # as sources.read_sql does: BOM and CRLF kept


def observed(text: str) -> object:
    try:
        stmts = split_statements(text)
    except SplitError as exc:
        return {"error": {"line": exc.line, "col": exc.col, "message": exc.message}}
    return [{"line": s.line, "col": s.col, "kind": s.kind, "piece": s.piece, "text": s.text} for s in stmts]


def split_raises(text: str) -> SplitError:
    with pytest.raises(SplitError) as info:
        split_statements(text, file="0001_x.sql", migration="0001_x")
    assert (info.value.file, info.value.migration) == ("0001_x.sql", "0001_x")
    assert info.value.state == "nothing was run"
    return info.value


def test_there_are_enough_goldens():
    assert len(CASES) >= 15
    assert all(p.with_suffix(".expected.json").is_file() for p in CASES) or REGEN


@pytest.mark.parametrize("sql_file", CASES, ids=[p.stem for p in CASES])
def test_golden(sql_file: Path):
    expected_file = sql_file.with_suffix(".expected.json")
    got = observed(read(sql_file))
    if REGEN:
        expected_file.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(expected_file.read_text(encoding="utf-8"))


@pytest.mark.parametrize("sql_file", CASES, ids=[p.stem for p in CASES])
def test_golden_statements_are_slices_of_drizzles_pieces(sql_file: Path):
    text = read(sql_file)
    pieces = split_breakpoints(text)
    assert [p for _, p in pieces] == text.split(BREAKPOINT)  # Drizzle: content.split('--> statement-breakpoint')
    assert all(text[base : base + len(p)] == p for base, p in pieces)
    if isinstance(observed(text), dict):
        return
    index = LineIndex(text)
    for s in split_statements(text):
        base, piece = pieces[s.piece]
        assert s.text == text[s.start : s.end]
        assert base <= s.start < s.end <= base + len(piece), "a statement never crosses a breakpoint"
        assert index.position(s.start) == (s.line, s.col)
        assert s.text == s.text.strip(scan.WHITESPACE) and not s.text.startswith(("--", "/*"))


# ------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("text", "line", "col", "what"),
    [
        ("CREATE TABLE a (id int);\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1;", 2, 36, "dollar-quoted"),
        ("SELECT 1;\n  SELECT $fn$ body; $fnx$;\n", 2, 10, "dollar-quoted"),
        ("SELECT 'é';\nINSERT INTO t VALUES ('it''s;\n", 2, 23, "quoted string"),
        ("INSERT INTO t VALUES (E'it\\'s;);\n", 1, 23, "quoted string"),
        ("SELECT 1; /* outer /* inner */ ;\nSELECT 2;", 1, 11, "/* comment"),
        ('CREATE TABLE "a;b (id int);', 1, 14, "quoted identifier"),
        ("\ufeffSELECT '", 1, 8, "quoted string"),  # the BOM takes no column
        ("SELECT 1;\r\n" + BREAKPOINT + "\r\n  SELECT 'x", 3, 10, "quoted string"),
    ],
    ids=["dollar", "dollar-tag", "string", "e-string", "nested-comment", "identifier", "bom", "crlf"],
)
def test_unterminated_is_refused_where_it_starts(text, line, col, what):
    err = split_raises(text)
    assert (err.line, err.col) == (line, col)
    assert f"unterminated {what}" in err.message


def test_an_unterminated_error_quotes_only_the_start_of_the_rest():
    err = split_raises("SELECT $$ x;\n" + "SELECT 1;\n" * 1000)
    assert err.message.endswith('at or near "$$ x;..."')


def test_a_marker_inside_a_dollar_quote_splits_it_as_drizzle_does():
    text = "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; " + BREAKPOINT + " SELECT 2; $$;"
    assert len(text.split(BREAKPOINT)) == 2  # Drizzle's pieces: the quote is cut in two, the server would refuse it
    err = split_raises(text)
    assert (err.line, err.col) == (1, 49)
    assert "statement-breakpoint` sits inside it" in (err.fix or "")


@pytest.mark.parametrize(
    ("text", "command", "line", "col"),
    [
        ("\\i x.sql\nSELECT 1;", "\\i", 1, 1),
        ("SELECT 1;\n\\connect db\nSELECT 2;", "\\connect", 2, 1),
        ("\\set x 1\nSELECT :x;", "\\set", 1, 1),
        ("SELECT 1 \\gset\n", "\\gset", 1, 10),
        ("CREATE TABLE t (id int);\n" + BREAKPOINT + "\n  \\echo done", "\\echo", 3, 3),
    ],
)
def test_psql_meta_commands_are_refused_by_name(text, command, line, col):
    err = split_raises(text)
    assert f"`{command}`" in err.message
    assert (err.line, err.col) == (line, col)


def test_a_backslash_inside_quotes_is_not_a_meta_command():
    assert [s.text for s in split_statements("SELECT 'C:\\dir\\';\nSELECT E'\\\\i';\nSELECT \"a\\b\";")] == [
        "SELECT 'C:\\dir\\'",
        "SELECT E'\\\\i'",
        'SELECT "a\\b"',
    ]


# ------------------------------------------------------------------------------------------ nothing is dropped
def test_pglast_scanner_mode_drops_statements_without_a_keyword():
    from pglast import parser

    assert parser.split("selec 1", with_parser=False) == ()  # why migrakit does not use it as its fallback
    assert [s.text for s in split_statements("selec 1")] == ["selec 1"]  # the server will report the typo


def test_a_syntax_error_is_still_split_for_the_server_to_report():
    stmts = split_statements("CREAT TABLE x (id int); SELECT 1;")
    assert [(s.text, s.col) for s in stmts] == [("CREAT TABLE x (id int)", 1), ("SELECT 1", 25)]


def test_the_coverage_check_refuses_a_split_that_leaves_text_out(monkeypatch):
    monkeypatch.setattr(scan, "token_spans", lambda piece: [])
    err = split_raises("SELECT 1;\nselec 2;")  # the parser refuses it, the (sabotaged) token split drops all
    assert "left out" in err.message
    assert (err.line, err.col) == (1, 1)


@pytest.mark.parametrize(
    ("text", "spans", "uncovered"),
    [
        ("SELECT 1; SELECT 2", [(0, 8), (10, 18)], None),
        ("/* a /* b */ ; */ ; SELECT 1 -- x\r\n;", [(20, 28)], None),
        ("SELECT 1; selec 2; SELECT 3", [(0, 8), (19, 27)], 10),
        ("SELECT 1 AS foo\u3000;", [(0, 15)], 15),  # pglast's own slice: U+3000 stripped, PostgreSQL sees a name
        ("/* unterminated", [], 0),
        ("SELECT 1", [(0, 8), (4, 8)], 4),  # overlapping spans are not a split
    ],
)
def test_uncovered(text, spans, uncovered):
    assert scan.uncovered(text, spans) == uncovered


# ------------------------------------------------------------------------------------------ small parts
def test_split_breakpoints_keeps_empty_pieces_and_offsets():
    text = BREAKPOINT + "a;" + BREAKPOINT + BREAKPOINT + "b;\n"
    assert split_breakpoints(text) == [(0, ""), (24, "a;"), (50, ""), (74, "b;\n")]


@pytest.mark.parametrize(
    ("text", "head"),
    [
        ("  SELECT 1", "SELECT 1"),
        ("/* a /* b */ c */ -- d\nSELECT 1", "SELECT 1"),
        ("-- d\rSELECT 1", "SELECT 1"),  # PostgreSQL ends a line comment at CR too
        ("/* unterminated", "/* unterminated"),
        ("\u00a0SELECT 1", "\u00a0SELECT 1"),  # NBSP is not a blank to PostgreSQL
    ],
)
def test_keyword_head(text, head):
    assert keyword_head(text) == head


def test_line_index_counts_characters_and_skips_a_bom():
    assert LineIndex("ab\ncd").position(4) == (2, 2)
    assert LineIndex("é😀x").position(2) == (1, 3)
    assert [LineIndex("\ufeffab\ncd").position(i) for i in (0, 1, 2, 4)] == [(1, 1), (1, 1), (1, 2), (2, 1)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("BEGIN", TRANSACTION_CONTROL),
        ("begin isolation level serializable", TRANSACTION_CONTROL),
        ("START TRANSACTION", TRANSACTION_CONTROL),
        ("COMMIT", TRANSACTION_CONTROL),
        ("END", TRANSACTION_CONTROL),
        ("ROLLBACK", TRANSACTION_CONTROL),
        ("ROLLBACK AND CHAIN", TRANSACTION_CONTROL),
        ("ABORT", TRANSACTION_CONTROL),
        ("PREPARE TRANSACTION 'x'", TRANSACTION_CONTROL),
        ("COMMIT PREPARED 'x'", TRANSACTION_CONTROL),
        ("ROLLBACK PREPARED 'x'", TRANSACTION_CONTROL),
        ("ROLLBACK TO SAVEPOINT s", PLAIN),  # works inside the run's own transaction, as in Drizzle
        ("ROLLBACK WORK TO s", PLAIN),
        ("SAVEPOINT s", PLAIN),
        ("COMMENT ON TABLE t IS 'x'", PLAIN),
        ("/* x /* y */ */ CREATE INDEX CONCURRENTLY i ON t (c)", NO_TRANSACTION),
        ("CREATE UNIQUE INDEX CONCURRENTLY i ON t (c)", NO_TRANSACTION),
        ("DROP INDEX CONCURRENTLY i", NO_TRANSACTION),
        ("REINDEX TABLE CONCURRENTLY t", NO_TRANSACTION),
        ("REINDEX (VERBOSE) DATABASE d", NO_TRANSACTION),
        ("REINDEX SYSTEM", NO_TRANSACTION),
        ("REINDEX TABLE t", PLAIN),
        ("ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY", NO_TRANSACTION),
        ("ALTER TABLE p DETACH PARTITION p1", PLAIN),
        ("VACUUM", NO_TRANSACTION),
        ("CREATE DATABASE d", NO_TRANSACTION),
        ("ALTER SYSTEM SET work_mem = '1MB'", NO_TRANSACTION),
        ("CREATE INDEX i ON t (c)", PLAIN),
        ("REFRESH MATERIALIZED VIEW CONCURRENTLY v", PLAIN),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END", PLAIN),
        ("DO $$ BEGIN LOOP UPDATE t SET c = 1; COMMIT; EXIT; END LOOP; END $$", NO_TRANSACTION),  # commits itself
        ("do $b$ begin rollback; end $b$ language plpgsql", NO_TRANSACTION),
        ("DO $$ BEGIN RAISE NOTICE 'commit'; END $$", PLAIN),  # the word in a string, not PL/pgSQL's COMMIT
        ("DO $$ BEGIN -- commit later\n PERFORM 1; END $$", PLAIN),
        ("DO $$ BEGIN UPDATE t SET c = 1; END $$", PLAIN),
        ("DO $$ commit $$ LANGUAGE plperl", PLAIN),  # another language: judged as before
    ],
)
def test_classify(text, kind):
    assert classify(text) == kind


def test_adding_an_enum_value_needs_no_transaction_only_before_postgresql_12():
    assert classify("ALTER TYPE mood ADD VALUE 'ok'", server_version=110000) == NO_TRANSACTION
    assert classify("ALTER TYPE mood ADD VALUE 'ok'", server_version=120000) == PLAIN


@pytest.mark.parametrize(
    ("text", "destructive"),
    [
        ("DROP TABLE t", True),
        ("TRUNCATE t", True),
        ("DELETE FROM t", True),
        ("ALTER TABLE t DROP COLUMN c", True),
        ("ALTER TABLE t DROP c", True),
        ("ALTER TABLE t DROP IF EXISTS c", True),
        ("ALTER TABLE t ALTER COLUMN c DROP DEFAULT, DROP COLUMN d", True),
        ("ALTER TYPE mood RENAME VALUE 'a' TO 'b'", True),
        ("ALTER TABLE t ALTER COLUMN c DROP NOT NULL", False),
        ("ALTER TABLE t ALTER COLUMN c DROP DEFAULT", False),
        ("ALTER TABLE t ALTER COLUMN c DROP IDENTITY IF EXISTS", False),
        ("ALTER TABLE t ALTER COLUMN c DROP EXPRESSION", False),
        ("ALTER TABLE t DROP CONSTRAINT t_fk", False),
        ("CREATE TABLE t (id int)", False),
    ],
)
def test_is_destructive(text, destructive):
    assert is_destructive(text) is destructive


# --- pieces over _LARGE_PIECE are split by a scan in place (pglast needs ~5x the piece in memory)
def _exact_pieces():
    from migrakit.core.postgres.scan import skip_noise
    from migrakit.core.postgres.statements import BOM, _piece_bounds

    folder = Path(__file__).parent / "data" / "statements"
    for path in sorted(folder.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        for base, stop in _piece_bounds(text):
            piece = text[base:stop]
            piece = " " + piece[1:] if piece.startswith(BOM) else piece
            if skip_noise(piece) < len(piece):
                yield path.name, piece


def test_the_large_piece_scan_cuts_as_the_exact_path_does():
    from migrakit.core.postgres.scan import Refused, scan_spans
    from migrakit.core.postgres.statements import _piece_spans

    compared = 0
    for name, piece in _exact_pieces():
        scanned = scan_spans(piece)
        if scanned is None:  # unterminated quote, meta-command, BEGIN ATOMIC: the exact path decides
            continue
        try:
            exact = _piece_spans(piece)
        except Refused:
            exact = None
        assert scanned == exact, name
        compared += 1
    assert compared >= 30


def test_a_giant_statement_is_split_by_the_scan(monkeypatch):
    from migrakit.core.postgres import statements

    rows = ",\n".join(f"({i}, 'it''s; (not) -- a comment', $q${i};$q$, E'a\\';b')" for i in range(20_000))
    text = f"CREATE TABLE t (a int, b text);\nINSERT INTO t VALUES\n{rows};\n/* done; */ SELECT 1"
    assert len(text) > statements._LARGE_PIECE
    monkeypatch.setattr("pglast.parser.split", lambda *a, **k: (_ for _ in ()).throw(AssertionError("parsed")))
    stmts = split_statements(text)
    assert [s.text[:20] for s in stmts] == ["CREATE TABLE t (a in", "INSERT INTO t VALUES", "SELECT 1"]
    assert stmts[1].text.endswith("E'a\\';b')")
