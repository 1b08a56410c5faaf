"""Run Drizzle ORM's own migrator (through node) from Python tests, and read its tracking table.

The node side lives in ``tests/interop/node`` (``package.json`` + ``package-lock.json`` pin
drizzle-orm 0.45.4, drizzle-orm 1.0.0-rc.5 as ``drizzle-orm-v1`` and pg 8.23.1; install with
``npm ci`` in that folder).  ``migrate.cjs`` there prints one JSON line per run, see its header;
``drizzle_migrate_many`` runs many folders in one node process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

NODE_DIR: Path = Path(__file__).resolve().parent / "node"
MIGRATE_SCRIPT: Path = NODE_DIR / "migrate.cjs"
TIMEOUT_SECONDS = 120

# package directory inside node_modules for each Drizzle major version accepted by migrate.cjs
_PACKAGES = {0: "drizzle-orm", 1: "drizzle-orm-v1"}


class DrizzleHarnessError(RuntimeError):
    """The harness itself failed (node missing, packages not installed, timeout, garbage output).

    A migration that Drizzle rejects is *not* this error: it comes back as ``{"ok": False, ...}``.
    """


def node_available() -> bool:
    """True when ``node`` is on PATH and ``npm ci`` has been run in :data:`NODE_DIR`."""
    if shutil.which("node") is None:
        return False
    modules = NODE_DIR / "node_modules"
    return all((modules / name / "package.json").is_file() for name in (*_PACKAGES.values(), "pg"))


def drizzle_migrate(
    folder: Path,
    url: str,
    major: int = 0,
    schema: str | None = None,
    table: str | None = None,
) -> dict[str, Any]:
    """Apply ``folder`` to the database at ``url`` with Drizzle's node-postgres ``migrate()``.

    ``major`` 0 uses drizzle-orm 0.45.4 (journal folders), 1 uses drizzle-orm 1.0.0-rc.5
    (folder-per-migration layout).  ``schema``/``table`` are passed as ``migrationsSchema`` /
    ``migrationsTable`` when given.

    Returns ``{"ok": True}`` or ``{"ok": False, "message": str, "cause": str | None,
    "sqlstate": str | None}``.  Raises :class:`DrizzleHarnessError` if the harness could not run.
    """
    if major not in _PACKAGES:
        raise ValueError(f"major must be 0 or 1, got {major!r}")
    node = shutil.which("node")
    if node is None:
        raise DrizzleHarnessError("node is not on PATH")
    args = [node, str(MIGRATE_SCRIPT), str(major), str(Path(folder).resolve()), url]
    if schema is not None or table is not None:
        # an empty string means "use Drizzle's default" to migrate.cjs
        args += [schema or "", table or ""]
    return _run_node(args, None, 1, TIMEOUT_SECONDS)[0]


def drizzle_migrate_many(jobs: Sequence[tuple[Path, str, int]]) -> list[dict[str, Any]]:
    """``drizzle_migrate(folder, url, major)`` for each ``(folder, url, major)`` job, in order, in ONE node
    process (``migrate.cjs --batch``): node's start-up is paid once. Each job still gets its own pool and
    connection, as a standalone run would. Returns one result per job, shaped as ``drizzle_migrate``'s."""
    for _, _, major in jobs:
        if major not in _PACKAGES:
            raise ValueError(f"major must be 0 or 1, got {major!r}")
    if not jobs:
        return []
    node = shutil.which("node")
    if node is None:
        raise DrizzleHarnessError("node is not on PATH")
    lines = [json.dumps({"major": major, "folder": str(Path(folder).resolve()), "url": url}) for folder, url, major in jobs]
    return _run_node([node, str(MIGRATE_SCRIPT), "--batch"], "\n".join(lines) + "\n", len(jobs), TIMEOUT_SECONDS + 10 * len(jobs))


def _run_node(args: list[str], stdin: str | None, expected: int, timeout: float) -> list[dict[str, Any]]:
    """Run migrate.cjs; parse its `expected` JSON result lines."""
    try:
        proc = subprocess.run(
            args,
            cwd=NODE_DIR,
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DrizzleHarnessError(f"migrate.cjs timed out after {timeout}s; stderr:\n{exc.stderr or ''}") from exc
    if proc.returncode != 0:
        raise DrizzleHarnessError(
            f"migrate.cjs exited with {proc.returncode}; stderr:\n{proc.stderr}"
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if len(lines) != expected:
        raise DrizzleHarnessError(
            f"migrate.cjs should print exactly {expected} JSON line(s), got stdout:\n{proc.stdout}\n"
            f"stderr:\n{proc.stderr}"
        )
    results = []
    for line in lines:
        try:
            result = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DrizzleHarnessError(f"migrate.cjs printed invalid JSON: {line!r}") from exc
        if not isinstance(result, dict) or "ok" not in result:
            raise DrizzleHarnessError(f"migrate.cjs printed unexpected JSON: {line!r}")
        results.append(result)
    return results


def tracking_rows(
    url: str, schema: str = "drizzle", table: str = "__drizzle_migrations"
) -> list[dict[str, Any]]:
    """Rows of the tracking table ordered by id, shaped like ``corpus/*/expected/tracking.json``.

    Each row has every column except ``applied_at`` in table order (``id`` as int,
    ``created_at`` as a string or None): ``{id, hash, created_at}`` for a 0.x table,
    ``{id, hash, created_at, name, applied_at_is_null}`` for a v1 table.  Returns ``[]`` when the
    table does not exist.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        columns = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = %s and table_name = %s order by ordinal_position",
                (schema, table),
            ).fetchall()
        ]
        if not columns:
            return []
        selected = [c for c in columns if c != "applied_at"]
        fields = [sql.Identifier(c) for c in selected]
        if "applied_at" in columns:
            fields.append(sql.SQL("({} is null) as applied_at_is_null").format(sql.Identifier("applied_at")))
            selected.append("applied_at_is_null")
        query = sql.SQL("select {} from {}.{} order by {}").format(
            sql.SQL(", ").join(fields),
            sql.Identifier(schema),
            sql.Identifier(table),
            sql.Identifier("id"),
        )
        rows = conn.execute(query).fetchall()
    out: list[dict[str, Any]] = []
    for values in rows:
        row = dict(zip(selected, values))
        row["id"] = int(row["id"])
        if "created_at" in row and row["created_at"] is not None:
            row["created_at"] = str(row["created_at"])
        out.append(row)
    return out
