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
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from migrakit.core import attribution
from migrakit.core.differences import difference_lines
from migrakit.core.drizzle.journal import JOURNAL_PATH, parse_journal, render_journal
from migrakit.core.migration import CONSOLIDATED, Migration
from migrakit.core.plan.planner import Plan
from migrakit.core.postgres.statements import BREAKPOINT, is_destructive
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import server, session
from migrakit.db.connect.session import executor_options
from migrakit.db.inspect import schema_diff as schema
from migrakit.db.inspect import shadow
from migrakit.db.inspect.shadow import ignored_tables
from migrakit.db.run.executor import Executor
from migrakit.db.run.lock import migration_lock
from migrakit.errors import ConfirmationRequired, DriftError, MigrakitError, MigrationFailed
from migrakit.sources.folders import V1, Folder, display_path, load_folder
from migrakit.sources.load import load_sources
from migrakit.sources.writer import write_migration
from migrakit.workflows.steps import provenance, shadow_build
from migrakit.workflows.steps.status import read_status

NAME = "baseline"
_IS_BASELINE = re.compile(r"_baseline$")

# outcomes
class Outcome(StrEnum):
    """What db.baseline found or did (JSON `outcome`: the value)."""

    EMPTY = "empty"  # the database holds no schema: nothing to adopt
    IN_SYNC = "in-sync"  # the migrations already produce the live schema
    PLANNED = "planned"  # proven; written and tracked only with --yes
    WRITTEN = "written"  # written, proven, tracked
    ADOPT_PLANNED = "adopt-planned"  # an existing baseline file matches this database; tracked only with --yes
    ADOPTED = "adopted"  # an existing baseline file was proven here and tracked
    LEGACY_PLANNED = "legacy-planned"  # the schema is exactly migrations + legacy files; their rows only with --yes
    LEGACY_RECORDED = "legacy-recorded"  # ... and the legacy files' rows were recorded


EMPTY, IN_SYNC, PLANNED, WRITTEN, ADOPT_PLANNED, ADOPTED, LEGACY_PLANNED, LEGACY_RECORDED = (
    Outcome.EMPTY, Outcome.IN_SYNC, Outcome.PLANNED, Outcome.WRITTEN, Outcome.ADOPT_PLANNED, Outcome.ADOPTED,
    Outcome.LEGACY_PLANNED, Outcome.LEGACY_RECORDED,
)


@dataclass
class BaselineReport:
    target: str
    outcome: Outcome
    tag: str | None = None
    files: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    destructive: list[str] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)  # legacy files recorded (or to record) with the proof
    notes: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """False when the plan was only printed (it needs --yes)."""
        return self.outcome not in (PLANNED, ADOPT_PLANNED, LEGACY_PLANNED)

    @property
    def exit_code(self) -> int:
        return 0 if self.done else ConfirmationRequired.exit_code


def is_baseline(m: Migration) -> bool:
    return bool(_IS_BASELINE.search(m.tag))


def body(statements: list[str]) -> str:
    """The baseline file: one statement per breakpoint, each ending with `;`."""
    parts = [s.strip() if s.strip().endswith(";") else s.strip() + ";" for s in statements]
    return f"\n{BREAKPOINT}\n".join(parts) + "\n"


def baseline(settings: Settings, *, yes: bool = False) -> BaselineReport:
    """Write, prove and (with `yes`) track a baseline; or adopt an existing baseline file on this database.

    Everything from reading the tracking table to inserting the rows happens under the migration lock (a
    deploy that migrates meanwhile is waited for, up to lock_wait_timeout, never half-seen), so the schema
    that was proven is the schema the rows describe.

    Legacy files (`legacy_dir`) without a row are part of the proof (the shadow runs them as db.bootstrap would),
    so they are recorded with the baseline: on a database where the old runner really ran them, their rows are
    written only because the schema proves it. When only some ran, it refuses and names the db.bootstrap
    command that records those (proven file by file) and runs the others."""
    target = session.resolve_target(settings)
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
    with shadow.shadow(settings) as url:
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
    with shadow.shadow(settings) as url:
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
        _track(conn, settings, legacy, v1=folder.layout == V1)
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
    text = body(statements)
    report = BaselineReport(target.display, PLANNED, statements=statements, legacy=[m.path for m in legacy])
    report.destructive = [s for s in statements if is_destructive(s)]
    with tempfile.TemporaryDirectory(prefix="migrakit-baseline-") as tmp:
        copy = Path(tmp) / "migrations"
        if folder.path.is_dir():
            shutil.copytree(folder.path, copy)
        copy_settings = settings.with_overrides(migrations_dir=str(copy))
        written = write_migration(copy_settings, NAME, text)
        report.tag = written.tag
        _prove(settings, copy, target, ignore, f"baseline {written.tag}", written.tag)
        relative = [Path(f).relative_to(copy) for f in written.files]
        report.files = [display_path(settings.migrations_dir / r, settings.root) for r in relative]
        if not yes:
            return report
        _install(conn, settings, copy, relative, written.tag, legacy)
    report.outcome = WRITTEN
    return report


def _prove(
    settings: Settings,
    migrations_dir: Path,
    target: session.Target,
    ignore: tuple[str, ...],
    what: str,
    tag: str | None,
) -> None:
    """Apply `migrations_dir` (and the legacy files) to a shadow database; raise unless it equals the target."""
    with shadow.shadow(settings) as url:
        try:
            files = load_sources(settings.with_overrides(migrations_dir=str(migrations_dir)), require_migrations=False)
            shadow_build.build(settings, url, files)
        except MigrationFailed as err:
            if err.migration != tag:
                raise
            raise DriftError(
                f"{what} refused: its SQL fails on a shadow database, so it cannot reproduce this database's schema",
                file=None,
                migration=tag,
                statement_no=err.statement_no,
                cause=err.cause,
                state="nothing was written and nothing was tracked",
                fix="results generated SQL PostgreSQL rejects for an object of this database (shown below); write a "
                "migration for that object by hand (`inv db.generate --custom NAME`), apply it, then baseline the rest",
                details=[
                    *err.details,
                    *(f"statement {err.statement_no}: {line}" for line in _statement(migrations_dir, tag, err)),
                ],
            ) from err
        diff = schema.compare(url, target.url, ignore_tables=ignore)
    if not diff.equal:
        details = [line for d in diff.differences for line in difference_lines(d)]
        raise DriftError(
            f"{what} refused: applied to a shadow database it does not give this database's schema "
            f"({len(diff.differences) or len(diff.statements)} difference(s))",
            state="nothing was written and nothing was tracked",
            fix="the database holds something the generated SQL cannot reproduce (listed below); write a migration "
            "for it by hand (`inv db.generate --custom NAME`) or change the database, then run `inv db.baseline` again",
            details=details or list(diff.statements),
        )


def _statement(migrations_dir: Path, tag: str | None, err: MigrationFailed) -> list[str]:
    """The failing statement's text, for the refusal message."""
    folder = load_folder(migrations_dir)
    m = next((m for m in folder.migrations if m.tag == tag), None)
    if m is None or not err.statement_no or err.statement_no > len(m.statements):
        return []
    return m.statements[err.statement_no - 1].text.strip().splitlines()[:8]


def _install(
    conn: Any, settings: Settings, copy: Path, relative: list[Path], tag: str | None, legacy: list[Migration]
) -> None:
    """Copy the proven files into the real folder, then insert the tracking row; undo the files if that fails."""
    real = settings.migrations_dir
    journal = real / JOURNAL_PATH
    journal_before = journal.read_bytes() if journal.is_file() else None
    created: list[Path] = []
    try:
        for rel in relative:
            dest = real / rel
            if dest.exists() and dest != journal:
                raise MigrakitError(
                    f"{dest} appeared while the baseline was being proven", file=str(dest), fix="run again"
                )
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                created.append(dest)
            if dest == journal and journal_before is not None:
                _merge_journal(journal, copy / rel, tag)
            else:
                shutil.copyfile(copy / rel, dest)
        folder = load_folder(real, settings.root)
        migration = next(m for m in folder.migrations if m.tag == tag)
        _track(conn, settings, [*legacy, migration], v1=folder.layout == V1)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        for parent in {p.parent for p in created} - {real, real / "meta"}:
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()  # a Drizzle 1.0 migration folder
        if journal_before is not None:
            journal.write_bytes(journal_before)
        raise


def _merge_journal(journal: Path, proven: Path, tag: str | None) -> None:
    """Append the proven journal's new entry to the real journal (as it is now, byte-exact otherwise)."""
    current = parse_journal(journal.read_text(encoding="utf-8"), str(journal))
    entry = next(e for e in parse_journal(proven.read_text(encoding="utf-8")).entries if e.tag == tag)
    journal.write_text(render_journal(current.with_entry(entry.tag, entry.when, entry.breakpoints)), encoding="utf-8")


def _track(conn: Any, settings: Settings, migrations: list[Migration], *, v1: bool) -> None:
    """Insert the rows of `migrations` (proven, not run) in one transaction, on `conn`, which holds the
    migration lock since before the proof; unless one of them is tracked already (re-checked here)."""
    schema_name, table = settings.migrations_schema, settings.migrations_table
    hashes = {r.hash for r in tracking.read_rows(conn, schema_name, table)}
    already = [m.tag for m in migrations if m.hash in hashes]
    if already:
        raise MigrakitError(
            f"{', '.join(already)} got tracked on this database meanwhile",
            migration=already[0],
            state="nothing was tracked by this run",
            fix="another migrator ran at the same time: check `inv db.status`, then run `inv db.baseline` again",
        )
    tracking.ensure_table(conn, schema_name, table, v1=v1)
    Executor(conn, executor_options(settings, v1=v1)).record(migrations)


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
    """The folder already has a baseline this database has not tracked: prove "everything up to it" equals
    this database, then (with `yes`) insert its row."""
    report = BaselineReport(
        target.display, ADOPT_PLANNED, tag=baseline_m.tag, files=[baseline_m.path], legacy=[m.path for m in legacy]
    )
    with tempfile.TemporaryDirectory(prefix="migrakit-baseline-") as tmp:
        copy = Path(tmp) / "migrations"
        _prefix_copy(folder, baseline_m.tag, copy)
        before = settings.with_overrides(
            consolidated_dir=str(_consolidations_before(settings, plan, baseline_m, Path(tmp)))
        )
        _prove(before, copy, target, ignore, f"baseline {baseline_m.tag} on this database", baseline_m.tag)
    report.notes.append(f"{baseline_m.tag} and every migration before it give exactly this database's schema")
    if yes:
        _track(conn, settings, [*legacy, baseline_m], v1=folder.layout == V1)
        report.outcome = ADOPTED
    return report


def _consolidations_before(settings: Settings, plan: Plan, baseline_m: Migration, tmp: Path) -> Path:
    """A copy of the consolidated folder holding only the consolidations that run before the baseline."""
    dest = tmp / "consolidated"
    dest.mkdir()
    order = list(plan.migrations)
    for m in order[: order.index(baseline_m)]:
        if m.mode == CONSOLIDATED:
            for suffix in (".sql", ".toml"):
                shutil.copyfile(settings.consolidated_dir / f"{m.tag}{suffix}", dest / f"{m.tag}{suffix}")
    return dest


def _prefix_copy(folder: Folder, last_tag: str, dest: Path) -> None:
    """A copy of `folder` holding only the migrations up to and including `last_tag`."""
    tags = [m.tag for m in folder.migrations]
    keep = set(tags[: tags.index(last_tag) + 1])
    if folder.layout == V1:
        dest.mkdir(parents=True)
        for tag in keep:
            shutil.copytree(folder.path / tag, dest / tag)
        return
    shutil.copytree(folder.path, dest)
    assert folder.journal is not None
    journal = folder.journal.without(set(tags) - keep)
    (dest / JOURNAL_PATH).write_text(render_journal(journal), encoding="utf-8")
