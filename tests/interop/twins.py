"""Run one folder with Drizzle's migrator and with migrakit on twin fresh databases, and compare what each
leaves: exit (zero or not), tracking rows, normalized schema dump, row count of every table."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from migrakit.db.connect import server
from migrakit.errors import MigrakitError
from migrakit.sources.config import load_settings
from migrakit.workflows.migrate import migrate
from tests.fixtures.pg import dump_schema
from tests.interop.drizzle import tracking_rows

# migrakit's own bookkeeping (statement_progress of the default mode's outside-transaction migrations) is not
# part of what a migration leaves; dropped before comparing the default mode with Drizzle
OWN_SCHEMA = "migrakit"


@dataclass
class Outcome:
    ok: bool
    rows: list[dict[str, Any]]
    schema: str
    counts: dict[str, int]
    error: Any = field(default=None, compare=False)

    def same_as(self, other: Outcome) -> bool:
        return (self.ok, self.rows, self.schema, self.counts) == (other.ok, other.rows, other.schema, other.counts)

    def diff(self, other: Outcome, names: tuple[str, str] = ("migrakit", "drizzle")) -> str:
        """What differs, for a failure message."""
        out = []
        for attr in ("ok", "rows", "counts", "schema"):
            a, b = getattr(self, attr), getattr(other, attr)
            if a != b:
                if attr == "schema":
                    import difflib

                    lines = difflib.unified_diff(b.splitlines(), a.splitlines(), names[1], names[0], lineterm="", n=1)
                    out.append("schema differs:\n" + "\n".join(list(lines)[:60]))
                else:
                    out.append(f"{attr}: {names[0]}={a!r}\n  {names[1]}={b!r}")
        out.append(f"{names[0]} error: {self.error}\n{names[1]} error: {other.error}")
        return "\n".join(out)


def table_counts(url: str) -> dict[str, int]:
    """Rows of every ordinary table outside the system schemas and Drizzle's / migrakit's own."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = conn.execute(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'drizzle', %s) "
            "AND n.nspname NOT LIKE 'pg\\_%%' ORDER BY 1",
            (OWN_SCHEMA,),
        ).fetchall()
        return {name: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for (name,) in names}


def outcome(url: str, ok: bool, error: Any, pg_bin: Path, *, drop_own: bool = False) -> Outcome:
    if drop_own:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {OWN_SCHEMA} CASCADE")
    return Outcome(ok, tracking_rows(url), dump_schema(url, pg_bin), table_counts(url), error)


def migrakit_run(folder: Path, url: str, root: Path, *, single_transaction: bool) -> tuple[bool, MigrakitError | None]:
    """`db.migrate` in-process; (succeeded, the error). Anything but a MigrakitError escapes (a bug)."""
    settings = load_settings(root, env={}, database_url=url, migrations_dir=str(folder))
    try:
        migrate(settings, single_transaction=single_transaction)
    except MigrakitError as err:
        return False, err
    return True, None


def reset_database(url: str) -> None:
    """Empty a database for the next folder: every schema but the system's dropped, `public` created again.
    Much cheaper than a new database (DROP DATABASE waits for a checkpoint); twins reset alike stay twins."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = conn.execute(
            "SELECT quote_ident(nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
        ).fetchall()
        if names:
            conn.execute("DROP SCHEMA " + ", ".join(n for (n,) in names) + " CASCADE")
        conn.execute("CREATE SCHEMA public")


@contextmanager
def fresh_databases(pg_server_url: str, template: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh empty databases (cloned from `template`), all dropped on the way out."""
    made: list[str] = []

    def make() -> str:
        name = f"tw_{uuid.uuid4().hex[:10]}"
        made.append(name)
        return server.create_database(pg_server_url, name, template=template)

    try:
        yield make
    finally:
        for name in made:
            server.drop_database(pg_server_url, name)
