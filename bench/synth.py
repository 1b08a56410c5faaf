"""Synthetic drizzle-kit folders: `<dir>/NNNN_tag.sql` + `meta/_journal.json`, deterministic for a seed.

Statements are the DDL drizzle-kit writes (tables, enums, indexes, foreign keys, comments) plus custom
SQL a team adds by hand (plpgsql functions with `$$` bodies, triggers), joined as drizzle-kit joins
them: `;\\n--> statement-breakpoint\\n`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BREAKPOINT = "\n--> statement-breakpoint\n"
BASE_WHEN = 1_700_000_000_000
_WORDS = ("amber", "brisk", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper", "kelp", "lumen")


@dataclass
class _Schema:
    """What earlier statements created, so later ones refer only to existing objects."""

    rng: random.Random
    tables: list[str] = field(default_factory=list)
    enums: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    count: int = 0

    def name(self, kind: str) -> str:
        self.count += 1
        return f"{kind}_{self.rng.choice(_WORDS)}_{self.count}"


def _enum(s: _Schema) -> str:
    name = s.name("status")
    s.enums.append(name)
    values = ", ".join(f"'{w}'" for w in s.rng.sample(_WORDS, 4))
    return f'CREATE TYPE "public"."{name}" AS ENUM({values});'


def _table(s: _Schema) -> str:
    name = s.name("t")
    cols = [
        '\t"id" serial PRIMARY KEY NOT NULL',
        '\t"name" varchar(255) NOT NULL',
        "\t\"note\" text DEFAULT 'it''s new'",
        '\t"amount" numeric(12, 2) DEFAULT \'0\' NOT NULL',
        '\t"created_at" timestamp with time zone DEFAULT now() NOT NULL',
        '\t"updated_at" timestamp with time zone',
        '\t"parent_id" integer',
    ]
    if s.enums:
        cols.append(f'\t"status" "{s.rng.choice(s.enums)}"')
    s.tables.append(name)
    body = ",\n".join(cols)
    return f'CREATE TABLE "{name}" (\n{body},\n\tCONSTRAINT "{name}_name_unique" UNIQUE("name")\n);'


def _index(s: _Schema) -> str:
    table = s.rng.choice(s.tables)
    column = s.rng.choice(("name", "created_at", "amount"))
    return f'CREATE INDEX "{s.name("idx")}" ON "{table}" USING btree ("{column}");'


def _foreign_key(s: _Schema) -> str:
    child = s.rng.choice(s.tables)
    parent = s.rng.choice(s.tables)
    return (
        f'ALTER TABLE "{child}" ADD CONSTRAINT "{s.name("fk")}" FOREIGN KEY ("parent_id") '
        f'REFERENCES "public"."{parent}"("id") ON DELETE cascade ON UPDATE no action;'
    )


def _function(s: _Schema) -> str:
    name = s.name("touch")
    s.functions.append(name)
    return (
        f'CREATE OR REPLACE FUNCTION "{name}"() RETURNS trigger\nLANGUAGE plpgsql\nAS $$\nBEGIN\n'
        "\t-- keep updated_at current; a ';' inside the body must not split the statement\n"
        "\tNEW.updated_at := now();\n\tRETURN NEW;\nEND;\n$$;"
    )


def _trigger(s: _Schema) -> str:
    table = s.rng.choice(s.tables)
    return (
        f'CREATE TRIGGER "{s.name("trg")}" BEFORE UPDATE ON "{table}" '
        f'FOR EACH ROW EXECUTE FUNCTION "{s.rng.choice(s.functions)}"();'
    )


def _comment(s: _Schema) -> str:
    table = s.rng.choice(s.tables)
    return f"COMMENT ON TABLE \"{table}\" IS 'Rows of {table}; it''s synthetic ($1 is not a parameter).';"


def _add_column(s: _Schema) -> str:
    return f'ALTER TABLE "{s.rng.choice(s.tables)}" ADD COLUMN "{s.name("c")}" jsonb DEFAULT \'{{}}\'::jsonb;'


# (weight, needs a table, needs a function, builder)
_KINDS: tuple[tuple[int, bool, bool, Callable[[_Schema], str]], ...] = (
    (3, False, False, _table),
    (1, False, False, _enum),
    (3, True, False, _index),
    (2, True, False, _foreign_key),
    (1, False, False, _function),
    (1, True, True, _trigger),
    (1, True, False, _comment),
    (2, True, False, _add_column),
)


def statements(s: _Schema, count: int) -> Iterator[str]:
    for _ in range(count):
        usable = [k for k in _KINDS if (s.tables or not k[1]) and (s.functions or not k[2])]
        _, _, _, build = s.rng.choices(usable, weights=[k[0] for k in usable])[0]
        yield build(s)


def write_journal(folder: Path, tags: list[str]) -> None:
    """`meta/_journal.json` as drizzle-kit writes it: `JSON.stringify(journal, null, 2)`, no final newline."""
    entries = [
        {"idx": i, "version": "7", "when": BASE_WHEN + i * 1000, "tag": tag, "breakpoints": True}
        for i, tag in enumerate(tags)
    ]
    (folder / "meta").mkdir(parents=True, exist_ok=True)
    journal = {"version": "7", "dialect": "postgresql", "entries": entries}
    (folder / "meta" / "_journal.json").write_text(json.dumps(journal, indent=2), encoding="utf-8")


def write_folder(folder: Path, migrations: int, per_migration: int, seed: int = 1) -> Path:
    """Write `migrations` files of `per_migration` statements each; return `folder`."""
    s = _Schema(random.Random(seed))
    tags = []
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(migrations):
        tag = f"{i:04d}_{s.rng.choice(_WORDS)}_{s.rng.choice(_WORDS)}"
        (folder / f"{tag}.sql").write_text(BREAKPOINT.join(statements(s, per_migration)), encoding="utf-8")
        tags.append(tag)
    write_journal(folder, tags)
    return folder


def write_trivial_folder(folder: Path, migrations: int) -> Path:
    """`migrations` one-statement files (for timing `db.status`, where only the count matters)."""
    folder.mkdir(parents=True, exist_ok=True)
    tags = [f"{i:05d}_step" for i in range(migrations)]
    for i, tag in enumerate(tags):
        (folder / f"{tag}.sql").write_text(f"SELECT {i};", encoding="utf-8")
    write_journal(folder, tags)
    return folder


def write_big_file(folder: Path, megabytes: float, seed: int = 1) -> Path:
    """One migration of about `megabytes` MB: a table, then ~1 KB INSERT statements, breakpoint-separated."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    target = int(megabytes * 1_000_000)
    parts = ['CREATE TABLE "seed" ("id" integer PRIMARY KEY, "name" text NOT NULL, "payload" text);']
    size, row = len(parts[0]), 0
    while size < target:
        values = []
        for _ in range(8):
            row += 1
            payload = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz ", k=90))
            values.append(f"({row}, '{rng.choice(_WORDS)} {row}', '{payload}')")
        stmt = 'INSERT INTO "seed" ("id", "name", "payload") VALUES\n' + ",\n".join(values) + ";"
        parts.append(stmt)
        size += len(stmt) + len(BREAKPOINT)
    (folder / "0000_big_seed.sql").write_text(BREAKPOINT.join(parts), encoding="utf-8")
    write_journal(folder, ["0000_big_seed"])
    return folder


def write_giant_statement(folder: Path, megabytes: float, seed: int = 1) -> tuple[Path, int]:
    """Two migrations: a table, then ONE `INSERT ... VALUES` of about `megabytes` MB (a data migration as
    drizzle-kit users write them). Returns (folder, length of that statement in bytes)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    target = int(megabytes * 1_000_000)
    head = 'INSERT INTO "seed" ("id", "name", "payload") VALUES\n'
    rows, size, row = [], len(head), 0
    while size < target:
        row += 1
        payload = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz ", k=90))
        rows.append(f"({row}, '{rng.choice(_WORDS)} {row}', '{payload}')")
        size += len(rows[-1]) + 2
    statement = head + ",\n".join(rows) + ";"
    (folder / "0000_table.sql").write_text('CREATE TABLE "seed" ("id" integer PRIMARY KEY, "name" text NOT NULL, "payload" text);', encoding="utf-8")
    (folder / "0001_giant_insert.sql").write_text(statement, encoding="utf-8")
    write_journal(folder, ["0000_table", "0001_giant_insert"])
    return folder, len(statement.encode("utf-8"))


def concatenate(folder: Path, out: Path) -> Path:
    """Every migration of `folder`, in journal order, in one file (breakpoint markers are SQL comments)."""
    journal = json.loads((folder / "meta" / "_journal.json").read_text(encoding="utf-8"))
    with out.open("wb") as f:
        for entry in journal["entries"]:
            f.write((folder / f"{entry['tag']}.sql").read_bytes())
            f.write(b"\n")
    return out
