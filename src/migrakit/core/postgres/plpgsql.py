"""PL/pgSQL's rules reproduced: which statements its EXECUTE runs as they would run sent directly. Pure."""

from __future__ import annotations

import re

from migrakit.core.postgres.statements import keyword_head

# Statements that may be a query, and so may hold `SELECT ... INTO` (a WITH prefix, parentheses, a set
# operation's first arm). Any other statement cannot: the server refuses `SELECT ... INTO` inside INSERT,
# CREATE VIEW, a CTE and the like, and a function's body is a string to EXECUTE.
_QUERY_HEAD = re.compile(r"\(|(?:SELECT|WITH|VALUES|TABLE|EXPLAIN)\b", re.IGNORECASE)
_COPY = re.compile(r"COPY\b", re.IGNORECASE)
_INTO = '"intoClause":'  # SelectStmt's field; CREATE TABLE AS names its own `into`. A string literal's
# quotes are escaped in the JSON (`\"`), so the key cannot be matched inside one.


def runs_in_execute(source: str, start: int = 0, end: int | None = None) -> bool:
    """Whether PL/pgSQL's `EXECUTE text` runs the statement as sending it would: not COPY (no client to copy
    to or from) and no `SELECT ... INTO` anywhere in it (EXECUTE refuses it: "EXECUTE of SELECT ... INTO is
    not implemented"). Found by PostgreSQL's parser (pglast), which only a statement that may be a query
    costs. A statement the parser refuses is sent directly, for the server's own error.

    The statement is `source[start:end]`, sliced only to be parsed (a large statement is not copied for
    nothing)."""
    head = keyword_head(source[start : start + 4096])
    if _COPY.match(head):
        return False
    if not _QUERY_HEAD.match(head):
        return True
    from pglast import parser

    try:
        tree = parser.parse_sql_json(source[start:end])
    except parser.ParseError:
        return False
    return _INTO not in tree
