"""Drizzle's tracking table: its exact DDL and rows, built with psycopg.sql. Runs SQL; decides nothing."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from .migration import Migration
from .planner import TrackingRow

# Drizzle 0.x creates (drizzle-orm pg-core/dialect.ts); 1.0 adds `name` and `applied_at`.
_COLUMNS_0X = sql.SQL("id SERIAL PRIMARY KEY,\n\thash text NOT NULL,\n\tcreated_at bigint")
_COLUMNS_V1 = sql.SQL(
    "id SERIAL PRIMARY KEY,\n\thash text NOT NULL,\n\tcreated_at bigint,\n\tname text,\n\t"
    "applied_at timestamp with time zone DEFAULT now()"
)


def table(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def ensure_table(conn: psycopg.Connection[Any], schema: str, name: str, *, v1: bool = False) -> None:
    """Create the schema and table as Drizzle does (IF NOT EXISTS), outside any migration's transaction."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (\n\t{}\n)").format(table(schema, name), _COLUMNS_V1 if v1 else _COLUMNS_0X)
    )


def read_rows(conn: psycopg.Connection[Any], schema: str, name: str) -> list[TrackingRow]:
    """All rows ordered by id, in one query; [] when the table does not exist yet."""
    query = sql.SQL("SELECT * FROM {} ORDER BY id").format(table(schema, name))
    try:
        with conn.transaction():
            cur = conn.execute(query)
            columns = [c.name for c in cur.description or ()]
            records = cur.fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        return []
    pos = {c: i for i, c in enumerate(columns)}
    return [
        TrackingRow(
            id=rec[pos["id"]],
            hash=rec[pos["hash"]],
            created_at=None if rec[pos["created_at"]] is None else int(rec[pos["created_at"]]),
            name=rec[pos["name"]] if "name" in pos else None,
        )
        for rec in records
    ]


def has_name_column(conn: psycopg.Connection[Any], schema: str, name: str) -> bool:
    """Drizzle 1.0's table has `name`; 0.x's does not."""
    row = conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s AND table_name = %s AND column_name = 'name'",
        (schema, name),
    ).fetchone()
    return bool(row and row[0])


def insert_sql(schema: str, name: str, *, v1: bool) -> sql.Composed:
    if v1:
        return sql.SQL('insert into {} ("hash", "created_at", "name") values (%s, %s, %s)').format(table(schema, name))
    return sql.SQL('insert into {} ("hash", "created_at") values (%s, %s)').format(table(schema, name))


def insert_params(migration: Migration, *, v1: bool) -> tuple[Any, ...]:
    if v1:
        return (migration.hash, migration.when, migration.name or migration.tag)
    return (migration.hash, migration.when)
