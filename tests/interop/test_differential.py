"""Differential test against Drizzle's own migrator, run live: folders generated from a seed out of shapes
seen in real drizzle-kit folders (tables, columns, inserts, indexes, drizzle-kit's `DO $$` foreign-key blocks,
functions, breakpoint-less multi-statement files, a file's own BEGIN/COMMIT, CREATE INDEX CONCURRENTLY after a
COMMIT, sometimes a failing statement), in both layouts (journal, Drizzle 1.0 folders).

Each folder runs on twin fresh databases; compared: exit (zero or not), tracking rows, normalized schema dump,
row count of every table.
- `--single-transaction` must equal Drizzle on every folder, succeeding or failing, and again on the next run
  after a failure (each on what its failure left: the next deploy);
- the default mode (one transaction per migration) must equal Drizzle wherever Drizzle succeeds.

MIGRAKIT_DIFF_SEED fixes the seed (default: a new one each run, printed in every failure message);
MIGRAKIT_DIFF_COUNT the number of folders (default 30). All of Drizzle's runs share one node process.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.interop.drizzle import drizzle_migrate_many
from tests.interop.twins import fresh_databases, migrakit_run, outcome, reset_database

pytestmark = [pytest.mark.interop, pytest.mark.differential]

BP = "\n--> statement-breakpoint\n"
SEED = int(os.environ.get("MIGRAKIT_DIFF_SEED") or random.SystemRandom().randrange(10**9))
COUNT = int(os.environ.get("MIGRAKIT_DIFF_COUNT") or 30)
BASE_WHEN = 1_700_000_000_000
GROUP = 10  # folders per node process


@dataclass
class Schema:
    """What the generated migrations have created so far (assuming they all succeed)."""

    tables: dict[str, list[str]] = field(default_factory=dict)  # table -> its columns besides id
    indexes: int = 0
    functions: int = 0

    def new_table(self) -> str:
        return f"t{len(self.tables)}"


class Generator:
    """Statements and migrations in real-world shapes, drawn from one random.Random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.schema = Schema()

    def _table(self) -> str | None:
        return self.rng.choice(sorted(self.schema.tables)) if self.schema.tables else None

    def create_table(self) -> str:
        name = self.schema.new_table()
        self.schema.tables[name] = ["name", "n", "ref"]
        return (
            f'CREATE TABLE "{name}" (\n\t"id" serial PRIMARY KEY NOT NULL,\n\t"name" text,\n\t"n" integer DEFAULT 0,\n'
            f'\t"ref" integer\n);'
        )

    def statement(self) -> str:
        """One plain statement that succeeds on the schema so far."""
        t = self._table()
        if t is None:
            return self.create_table()
        kind = self.rng.choice(["table", "column", "insert", "insert", "index", "fk", "update", "function", "comment"])
        cols = self.schema.tables[t]
        if kind == "table":
            return self.create_table()
        if kind == "column":
            col = f"c{len(cols)}"
            cols.append(col)
            return f'ALTER TABLE "{t}" ADD COLUMN "{col}" text DEFAULT \'x;y\';'  # a ';' inside a literal
        if kind == "insert":
            rows = ", ".join(f"('r{i}', {self.rng.randrange(100)})" for i in range(self.rng.randrange(1, 4)))
            return f'INSERT INTO "{t}" ("name", "n") VALUES {rows};'
        if kind == "index":
            self.schema.indexes += 1
            return f'CREATE INDEX "idx{self.schema.indexes}" ON "{t}" USING btree ("n");'
        if kind == "fk":
            other = self.rng.choice(sorted(self.schema.tables))
            self.schema.indexes += 1
            return (
                f'DO $$ BEGIN\n ALTER TABLE "{t}" ADD CONSTRAINT "fk{self.schema.indexes}" FOREIGN KEY ("ref") '
                f'REFERENCES "public"."{other}"("id") ON DELETE no action ON UPDATE no action;\nEXCEPTION\n'
                " WHEN duplicate_object THEN null;\nEND $$;"
            )
        if kind == "update":
            return f'UPDATE "{t}" SET "n" = "n" + 1 WHERE "ref" IS NULL;'
        if kind == "function":
            self.schema.functions += 1
            return (
                f"CREATE OR REPLACE FUNCTION f{self.schema.functions}() RETURNS integer LANGUAGE plpgsql AS $$\n"
                f'BEGIN\n  RETURN (SELECT count(*) FROM "{t}");\nEND;\n$$;'
            )
        return f"COMMENT ON TABLE \"{t}\" IS 'generated; see {t}';"

    def failing(self) -> str:
        t = self._table()
        options = ["SELECT 1/0;", 'INSERT INTO "missing_table" VALUES (1);', "SELEC 1;"]
        if t is not None:
            options += [f'ALTER TABLE "{t}" ADD COLUMN "id" integer;', f'CREATE TABLE "{t}" ("id" integer);']
        return self.rng.choice(options)

    def concurrently(self) -> str:
        t = self._table() or "t0"
        self.schema.indexes += 1
        return f'CREATE INDEX CONCURRENTLY "cidx{self.schema.indexes}" ON "{t}" ("n");'

    SHAPES = ("drizzle-kit", "drizzle-kit", "no-breakpoints", "own-transaction", "commit-then-concurrently", "lone-concurrently")

    def migration(self, fail: bool, shape: str | None = None) -> str:
        """One migration file in one of the shapes real folders have (`shape`, else drawn)."""
        shape = shape or self.rng.choice(self.SHAPES)
        stmts = [self.statement() for _ in range(self.rng.randrange(1, 5))]
        if shape == "lone-concurrently" and self.schema.tables:
            stmts = [self.concurrently()]
        elif shape == "commit-then-concurrently" and self.schema.tables:
            stmts = [*stmts[:1], "COMMIT;", self.concurrently(), *stmts[1:2]]
        if fail:
            stmts.insert(self.rng.randrange(len(stmts) + 1), self.failing())
        if shape == "own-transaction":
            stmts = ["BEGIN;", *stmts, "COMMIT;"]
        if shape in ("no-breakpoints", "own-transaction") and self.rng.random() < 0.7:
            return "\n".join(stmts) + "\n"
        if shape == "commit-then-concurrently" and self.rng.random() < 0.2:
            return "\n".join(stmts)  # the CIC in the same query as the COMMIT: an implicit transaction, fails
        return BP.join(stmts)


def generate(seed: int, index: int, root: Path) -> tuple[Path, int]:
    """Folder `index` of `seed`, written under `root`; (folder, Drizzle major version for its layout)."""
    rng = random.Random(f"{seed}-{index}")
    gen = Generator(rng)
    count = rng.randrange(1, 6)
    failing_at = rng.randrange(count) if rng.random() < 0.3 else None
    first_shape = None
    if index % 5 == 0:  # every fifth folder: a migration commits by itself, a later one fails (the hard case)
        count, failing_at = max(count, 2), max(count, 2) - 1
        first_shape = rng.choice(["own-transaction", "commit-then-concurrently"])
    bodies = [gen.migration(fail=i == failing_at, shape=first_shape if i == 0 else None) for i in range(count)]
    folder = root / f"f{index:03d}"
    if rng.random() < 0.25:  # Drizzle 1.0 layout
        for i, body in enumerate(bodies):
            (folder / f"2025010112{i:04d}_m{i}").mkdir(parents=True)
            (folder / f"2025010112{i:04d}_m{i}" / "migration.sql").write_text(body, encoding="utf-8")
        return folder, 1
    (folder / "meta").mkdir(parents=True)
    entries = []
    for i, body in enumerate(bodies):
        (folder / f"{i:04d}_m{i}.sql").write_text(body, encoding="utf-8")
        entries.append({"idx": i, "version": "7", "when": BASE_WHEN + i * 1000, "tag": f"{i:04d}_m{i}", "breakpoints": True})
    (folder / "meta" / "_journal.json").write_text(json.dumps({"version": "7", "dialect": "postgresql", "entries": entries}, indent=2))
    return folder, 0


def show(folder: Path) -> str:
    files = sorted(folder.rglob("*.sql"))
    return "\n".join(f"--- {f.relative_to(folder)}\n{f.read_text()}" for f in files)


def test_generator_is_reproducible(tmp_path):
    a, _ = generate(12345, 7, tmp_path / "a")
    b, _ = generate(12345, 7, tmp_path / "b")
    assert show(a) == show(b) and show(a).strip()


@pytest.mark.slow
def test_migrakit_equals_drizzle_on_generated_folders(pg_server_url, pg_template, pg_bin, tmp_path):
    started = time.monotonic()
    folders = [generate(SEED, i, tmp_path / "gen") for i in range(COUNT)]
    problems: list[str] = []
    shapes = {"drizzle ok": 0, "drizzle failed": 0, "committed before failing": 0}
    with fresh_databases(pg_server_url, pg_template) as fresh:
        # Drizzle's runs GROUP at a time in one node process (node's start-up is the cost), each on a database of
        # its own, and migrakit's on twins. Databases are emptied and reused (DROP DATABASE waits for a checkpoint).
        theirs_urls = [fresh() for _ in folders[:GROUP]]
        ours_urls = [fresh() for _ in folders[:GROUP]]
        default_url = fresh()
        for start in range(0, len(folders), GROUP):
            group = folders[start : start + GROUP]
            for url in theirs_urls[: len(group)] + ours_urls[: len(group)]:
                reset_database(url)
            results = drizzle_migrate_many([(f, url, major) for (f, major), url in zip(group, theirs_urls)])
            failed: list[int] = []
            for k, ((folder, major), result) in enumerate(zip(group, results)):
                i = start + k
                theirs = outcome(theirs_urls[k], result["ok"], result, pg_bin)
                shapes["drizzle ok" if theirs.ok else "drizzle failed"] += 1
                shapes["committed before failing"] += bool(not theirs.ok and (theirs.rows or theirs.counts))
                ours = outcome(ours_urls[k], *migrakit_run(folder, ours_urls[k], tmp_path, single_transaction=True), pg_bin)
                if not ours.same_as(theirs):
                    problems.append(f"folder {i} (layout {major}), --single-transaction:\n{ours.diff(theirs)}\n{show(folder)}")
                if theirs.ok:
                    reset_database(default_url)
                    ok, err = migrakit_run(folder, default_url, tmp_path, single_transaction=False)
                    default = outcome(default_url, ok, err, pg_bin, drop_own=True)
                    if not default.same_as(theirs):
                        problems.append(f"folder {i} (layout {major}), default mode:\n{default.diff(theirs)}\n{show(folder)}")
                else:
                    failed.append(k)
            # the next deploy after a failure: each runs the same folder again on what its failure left
            again = drizzle_migrate_many([(group[k][0], theirs_urls[k], group[k][1]) for k in failed])
            shapes["second runs compared"] = shapes.get("second runs compared", 0) + len(failed)
            for k, result in zip(failed, again):
                folder, major = group[k]
                theirs = outcome(theirs_urls[k], result["ok"], result, pg_bin)
                ours = outcome(ours_urls[k], *migrakit_run(folder, ours_urls[k], tmp_path, single_transaction=True), pg_bin)
                if not ours.same_as(theirs):
                    problems.append(f"folder {start + k} (layout {major}), second --single-transaction run after the "
                                    f"failure:\n{ours.diff(theirs)}\n{show(folder)}")  # fmt: skip
    elapsed = time.monotonic() - started
    reproduce = f"seed {SEED} ({COUNT} folders; reproduce with MIGRAKIT_DIFF_SEED={SEED})"
    assert not problems, f"{reproduce}: {len(problems)} difference(s)\n\n" + "\n\n".join(problems[:5])
    # the generator must keep producing every outcome, or the comparison proves less than it claims
    assert all(shapes.values()) or COUNT < 20, f"{reproduce}: outcomes too uniform: {shapes}"
    print(f"\n{reproduce}: equal on every folder; {shapes}; {elapsed:.1f}s")
