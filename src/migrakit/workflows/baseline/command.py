"""`db.baseline`: adopt a live database whose schema no migration (or only some) produced. [I/O]

A baseline is the one migration that is tracked without running on the database it came from, so it is
proven first:

1. The statements that turn "all migrations applied to a shadow database" into the live schema are
   generated with `results` and written, one statement per breakpoint, as the next migration
   (`NNNN_baseline.sql` and its journal entry, or a Drizzle 1.0 folder) into a copy of the folder.
2. The copy is applied to a fresh shadow database and compared with the live one.
3. Only when they are equal, and only with `yes`, the files are copied into the real folder and the
   baseline's tracking row is inserted. Otherwise nothing is written and nothing is tracked.

On another environment that already has the schema (staging, a teammate's database), the baseline file is
there but pending: `db.baseline` then proves "migrations up to and including the baseline" equal to that
database and, with `yes`, inserts the row there too ("adopt").

Legacy files (`legacy_dir`) without a tracking row are part of every proof (the shadow runs them after the
migrations, as `db.bootstrap` would), so their rows are inserted with the baseline's; when the schema is
exactly "migrations + legacy files", only theirs. A database that lacks what they create is refused: they
never ran there (`db.bootstrap`).

Steps 2 and 3 (the proof and the install) live in proof.py.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from migrakit.core import attribution
from migrakit.core.migration import Migration
from migrakit.core.plan.planner import Plan
from migrakit.core.postgres.statements import is_destructive
from migrakit.core.reports.write import (
    ADOPT_PLANNED,
    ADOPTED,
    EMPTY,
    IN_SYNC,
    LEGACY_PLANNED,
    LEGACY_RECORDED,
    PLANNED,
    WRITTEN,
    BaselineReport,
)
from migrakit.core.settings import Settings
from migrakit.db.connect import server, session
from migrakit.db.inspect import schema_diff as schema
from migrakit.db.inspect import shadow
from migrakit.db.run.lock import migration_lock
from migrakit.errors import DriftError, MigrakitError
from migrakit.sources.folders import V1, Folder, display_path
from migrakit.sources.load import load_sources
from migrakit.sources.writer import write_migration
from migrakit.workflows.baseline import proof
from migrakit.workflows.steps import provenance, safe_write, shadow_build
from migrakit.workflows.steps.options import ignored_tables, shadow_options, target_options
from migrakit.workflows.steps.status import read_status

NAME = "baseline"
_IS_BASELINE = re.compile(r"_baseline$")
_IS_PIECE = re.compile(r"_baseline_\d+$")  # a later migration of a baseline's lock-safe sequence

def is_baseline(m: Migration) -> bool:
    return bool(_IS_BASELINE.search(m.tag))


def baseline(settings: Settings, *, yes: bool = False) -> BaselineReport:
    """Write, prove and (with `yes`) track a baseline; or adopt an existing baseline file on this database.

    Everything from reading the tracking table to inserting the rows happens under the migration lock (a
    deploy that migrates meanwhile is waited for, up to lock_wait_timeout, never half-seen), so the schema
    that was proven is the schema the rows describe.

    Legacy files (`legacy_dir`) without a row are part of the proof (the shadow runs them as db.bootstrap would),
    so they are recorded with the baseline: on a database where the old runner really ran them, their rows are
    written only because the schema proves it. When only some ran, it refuses and names the db.bootstrap
    command that records those (proven file by file) and runs the others."""
    target = session.resolve_target(target_options(settings))
    with server.connect(target.url, autocommit=True) as conn:
        with migration_lock(
            conn, settings.migrations_schema, settings.migrations_table, timeout=settings.lock_wait_timeout
        ):
            return _baseline(settings, conn, target, yes=yes)


def _baseline(settings: Settings, conn: Any, target: session.Target, *, yes: bool) -> BaselineReport:
    src = load_sources(settings, require_migrations=False)  # a first baseline starts the folder
    status = read_status(settings, src, allow_empty=None)  # read under the lock
    plan, folder = status.plan, status.folder
    blocking = [*plan.blocking, *(status.legacy.blocking if status.legacy else ())]
    if blocking:
        problem = blocking[0]
        raise DriftError(
            f"cannot baseline while the tracking table disagrees with the files: {problem.message}",
            file=problem.file,
            migration=problem.migration,
            state="nothing was written or tracked",
            fix=problem.fix,
            details=[f"{q.kind}: {q.message}" for q in blocking[1:]],
        )
    legacy = list(status.legacy.pending) if status.legacy else []
    ignore = ignored_tables(settings)
    if not schema.has_objects(target.url, ignore_tables=ignore):
        return BaselineReport(
            target.display, EMPTY, notes=["the database is empty: no baseline needed; `inv db.migrate` builds it"]
        )
    if plan.pending:
        first = plan.pending[0]
        if is_baseline(first):
            return _adopt(settings, conn, plan, folder, first, target, ignore, legacy, yes=yes)
        raise MigrakitError(
            f"{len(plan.pending)} migration(s) are not applied to this database, starting with {first.tag}",
            file=first.path,
            migration=first.tag,
            state="nothing was written or tracked",
            fix="a baseline comes after every migration: apply them first (`inv db.migrate`), then run "
            "`inv db.baseline` again for what the database has beyond them",
            details=[m.tag for m in plan.pending[1:6]],
        )
    with shadow.shadow(shadow_options(settings)) as url:
        shadow_build.build(settings, url, src)
        statements = schema.diff_statements(url, target.url, ignore_tables=ignore)
    if not statements and not legacy:
        return BaselineReport(
            target.display, IN_SYNC, notes=["the migrations already produce this database's schema: no baseline needed"]
        )
    if not statements:
        return _record_legacy(settings, conn, folder, target, legacy, yes=yes)
    if legacy and any(is_destructive(s) for s in statements):
        _refuse_partial_legacy(settings, target, ignore, legacy)
    return _write(settings, conn, folder, target, ignore, statements, legacy, yes=yes)


def _refuse_partial_legacy(
    settings: Settings, target: session.Target, ignore: tuple[str, ...], legacy: list[Migration]
) -> None:
    """The database lacks something the legacy files create: prove file by file which of them ran here and
    raise a DriftError whose fix is the db.bootstrap command that records those and runs the others."""
    with shadow.shadow(shadow_options(settings)) as url:
        prov = provenance.build(settings, url, load_sources(settings), each_migration=False)
    proofs = provenance.legacy_proofs(prov, legacy, provenance.live_snapshot(target.url, ignore, target.display))
    forward = provenance.next_step(proofs)
    blockers = provenance.blockers(proofs)
    absent = [p.migration.tag for p in proofs if p.verdict == attribution.ABSENT]
    message = (
        f"the database lacks what the legacy files create, and {len(legacy)} of them have no tracking row: "
        "they never ran here"
        if len(absent) == len(legacy)
        else f"{len(absent) + len(blockers)} of the {len(legacy)} legacy file(s) without a tracking row "
        "did not run here: "
        + ", ".join([*absent, *(f"{p.migration.tag} ({p.verdict})" for p in blockers)])
    )
    raise DriftError(
        message,
        file=(blockers or [p for p in proofs if p.verdict == attribution.ABSENT] or proofs)[0].migration.path,
        state="nothing was written or tracked",
        fix=(
            f"`{forward}` records the legacy files proven to have run here and runs the others; then `inv db.check`, "
            "and `inv db.baseline` again only if the database has more than the migrations and legacy files produce"
            if forward
            else "; ".join(provenance.blocker_fix(p) for p in blockers)
        ),
        details=[*provenance.summary(proofs), *(line for p in blockers for line in p.differing_lines())],
    )


def _record_legacy(
    settings: Settings, conn: Any, folder: Folder, target: session.Target, legacy: list[Migration], *, yes: bool
) -> BaselineReport:
    """The schema is exactly "migrations + legacy files" (the shadow ran them): record the legacy files' rows."""
    report = BaselineReport(target.display, LEGACY_PLANNED, legacy=[m.path for m in legacy])
    report.notes.append(
        f"the schema is exactly what the migrations and the legacy files produce, but {len(legacy)} legacy file(s) "
        "have no tracking row (another runner ran them): the schema proves they ran"
    )
    if yes:
        proof.track(conn, settings, legacy, v1=folder.layout == V1)
        report.outcome = LEGACY_RECORDED
    return report


def _write(
    settings: Settings,
    conn: Any,
    folder: Folder,
    target: session.Target,
    ignore: tuple[str, ...],
    statements: list[str],
    legacy: list[Migration],
    *,
    yes: bool,
) -> BaselineReport:
    """The baseline written as its lock-safe sequence (workflows/steps/safe_write.py, as db.generate writes): one
    migration, or pieces `baseline_2`, ... where a step cannot share a transaction; all of them proven together
    and tracked together here, linted on a shadow before anything is written."""
    planned = safe_write.pieces(NAME, statements)
    report = BaselineReport(target.display, PLANNED, statements=statements, legacy=[m.path for m in legacy])
    report.destructive = [s for s in statements if is_destructive(s)]
    report.fixes = planned.fixes
    with tempfile.TemporaryDirectory(prefix="migrakit-baseline-") as tmp:
        copy = Path(tmp) / "migrations"
        if folder.path.is_dir():
            shutil.copytree(folder.path, copy)
        copy_settings = settings.with_overrides(migrations_dir=str(copy))
        written = [write_migration(copy_settings, n, b) for n, b in zip(planned.names, planned.bodies, strict=True)]
        report.tags = [w.tag for w in written if w.tag]
        report.tag = report.tags[0]
        proof.prove(settings, copy, target, ignore, f"baseline {report.tag}", tuple(report.tags))
        relative = list(dict.fromkeys(Path(f).relative_to(copy) for w in written for f in w.files))
        report.files = [display_path(settings.migrations_dir / r, settings.root) for r in relative]
        shown = [display_path(settings.migrations_dir / Path(w.files[0]).relative_to(copy), settings.root)
                 for w in written]  # fmt: skip
        fixed = load_sources(copy_settings)
        base = [m for m in fixed.migrations if m.tag not in report.tags]
        pieces = [m for m in fixed.migrations if m.tag in report.tags]
        report.lint = safe_write.lint(settings, fixed, base, pieces, shown, legacy_ran=bool(fixed.legacy))
        if not yes:
            return report
        proof.install(conn, settings, copy, relative, report.tags, legacy)
    report.outcome = WRITTEN
    return report


def _adopt(
    settings: Settings,
    conn: Any,
    plan: Plan,
    folder: Folder,
    baseline_m: Migration,
    target: session.Target,
    ignore: tuple[str, ...],
    legacy: list[Migration],
    *,
    yes: bool,
) -> BaselineReport:
    """The folder already has a baseline this database has not tracked: prove "everything up to it" (its pieces
    `_baseline_2`, ... included) equals this database, then (with `yes`) insert their rows."""
    pieces = [baseline_m]
    for m in plan.pending[1:]:
        if not _IS_PIECE.search(m.tag):
            break
        pieces.append(m)
    tags = [m.tag for m in pieces]
    report = BaselineReport(
        target.display, ADOPT_PLANNED, tag=baseline_m.tag, files=[m.path for m in pieces],
        legacy=[m.path for m in legacy], tags=tags,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="migrakit-baseline-") as tmp:
        copy = Path(tmp) / "migrations"
        proof.prefix_copy(folder, tags[-1], copy)
        before = settings.with_overrides(
            consolidated_dir=str(proof.consolidations_before(settings, plan, baseline_m, Path(tmp)))
        )
        proof.prove(before, copy, target, ignore, f"baseline {baseline_m.tag} on this database", tuple(tags))
    report.notes.append(f"{', '.join(tags)} and every migration before {'them' if len(tags) > 1 else 'it'} give "
                        "exactly this database's schema")  # fmt: skip
    if yes:
        proof.track(conn, settings, [*legacy, *pieces], v1=folder.layout == V1)
        report.outcome = ADOPTED
    return report
