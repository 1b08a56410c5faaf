"""Which migration or legacy file made each schema object, and which legacy files already ran here. [I/O]

The shadow database is built one file at a time (every Mode 1 and Mode 2 migration in run order, then
each legacy file), and its schema is inspected after each file (core.attribution explains why this is
exact where a parse of the statements is not). Costs one inspection per file (about 0.2-0.6 s each), so
`db.check` does it only when there is something to explain: a difference (then per migration too), or legacy
files without a row (then the migrations are one step: only the legacy files are asked about).

`legacy_proofs` is the proof `db.bootstrap --adopt` and `db.baseline` rely on: a legacy file may be
recorded without running only when everything it creates, changes or drops is so in the live schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migrakit.core import attribution
from migrakit.core.attribution import LegacyProof, Provenance
from migrakit.core.drizzle.folder import V1
from migrakit.core.migration import Migration
from migrakit.core.project import ProjectFiles
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import server
from migrakit.db.inspect import schema_diff as schema
from migrakit.db.inspect import shadow
from migrakit.db.run.executor import Executor
from migrakit.workflows.steps.options import executor_options

Key = attribution.Key


def build(settings: Settings, url: str, src: ProjectFiles, *, each_migration: bool = True) -> Provenance:
    """Apply every migration, then every legacy file, to the empty database at `url`, inspecting the schema
    before the first step and after each. `each_migration=False`: the migrations are one step (enough to prove
    legacy files, and one inspection instead of one per migration); legacy files are always one step each.
    `src`: the project's files (sources/load.py)."""
    v1 = src.folder.layout == V1
    migrations = (
        [(m,) for m in src.migrations]
        if each_migration
        else ([tuple(src.migrations)] if src.migrations else [])
    )
    steps: list[tuple[Migration, ...]] = []
    with shadow.failures_on_shadow():
        snaps = [schema.snapshot(schema.inspect(url, what="the shadow database"))]
        with server.connect(url, autocommit=True) as conn:
            tracking.ensure_table(conn, settings.migrations_schema, settings.migrations_table, v1=v1)
            executor = Executor(conn, executor_options(settings, v1=v1))
            for step in [*migrations, *((m,) for m in src.legacy)]:
                executor.apply(list(step))
                steps.append(step)
                snaps.append(schema.snapshot(schema.inspect(url, what="the shadow database")))
    return Provenance(tuple(steps), tuple(snaps), tuple(attribution.effects(snaps)))


def live_snapshot(url: str, ignore_tables: Sequence[str], what: str) -> dict[Key, Any]:
    return schema.snapshot(schema.inspect(url, ignore_tables=ignore_tables, what=what))


def legacy_proofs(prov: Provenance, pending: Sequence[Migration], live: dict[Key, Any]) -> list[LegacyProof]:
    """For each pending legacy file: is its effect present in the live schema?"""
    out = []
    for m in pending:
        proof = attribution.prove(prov.snapshots, prov.step_of(m), live)
        out.append(LegacyProof(m, proof.verdict, proof.objects))
    return out


# ------------------------------------------------------------------------------------------ the way forward
def next_step(proofs: Sequence[LegacyProof]) -> str | None:
    """The one command that records the proven files and runs the absent ones, or None when a file is only
    partly present or has no schema effect (nothing can be decided for it: see `blockers`)."""
    if not proofs or blockers(proofs):
        return None
    adopt = [p.migration.tag for p in proofs if p.verdict == attribution.PRESENT]
    run = [p.migration.tag for p in proofs if p.verdict == attribution.ABSENT]
    parts = ["inv db.bootstrap"]
    if adopt:
        parts.append(f"--adopt {attribution.number_list(adopt)}")
        if run:
            parts.append(f"--only {attribution.number_list(run)}")
    return " ".join(parts)


def blockers(proofs: Sequence[LegacyProof]) -> list[LegacyProof]:
    return [p for p in proofs if p.verdict in (attribution.PARTIAL, attribution.NO_EFFECT)]


def summary(proofs: Sequence[LegacyProof]) -> list[str]:
    """One line per verdict group, e.g. `ran here (proven by the schema): 022_a, 024_b`."""
    groups = [
        (attribution.PRESENT, "ran here (proven: everything they create is in the database, as they create it)"),
        (attribution.ABSENT, "never ran here (nothing they create is in the database)"),
        (attribution.PARTIAL, "only partly present (some of what they create is missing or different)"),
        (attribution.NO_EFFECT, "change no schema object (data only): the schema cannot tell whether they ran"),
    ]
    out = []
    for verdict, text in groups:
        tags = [p.migration.tag for p in proofs if p.verdict == verdict]
        if tags:
            out.append(f"legacy files that {text}: {', '.join(tags)}")
    return out


def blocker_fix(p: LegacyProof) -> str:
    n = attribution.number_list([p.migration.tag])
    if p.verdict == attribution.NO_EFFECT:
        return (
            f"{p.migration.tag} changes data only: if it never ran here, run it (`inv db.bootstrap --only {n}`); "
            "if it did, nothing in the schema can prove it, so migrakit will not record it: run it again only if "
            "that is safe"
        )
    return (
        f"{p.migration.tag} is only partly present: make the objects listed match what the file creates (or drop "
        f"what it created and run it with `inv db.bootstrap --only {n}`), then run `inv db.check` again"
    )
