"""`db.bootstrap`: run (or, proven, record) the legacy folder's files that no tracking row carries yet.

The recipe: read the files once, the legacy folder required (sources/load.py), parse --only/--adopt
(core/attribution.py), open the target, plan the legacy files against the rows (again under the migration
lock), prove the adopted ones on a shadow database (workflows/steps/provenance.py), then record or run each file in
file order. Returns a BootstrapReport; nothing here prints."""

from __future__ import annotations

from typing import Any

from migrakit.core import events
from migrakit.core.attribution import SelectionError, parse_selection, split_selectors
from migrakit.core.events import EventSink, no_event
from migrakit.core.migration import Migration
from migrakit.core.plan.run_plan import bootstrap_report, check_statements, legacy_failure, refuse_blocking
from migrakit.core.project import ProjectFiles
from migrakit.core.reports.run import BootstrapReport
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import session
from migrakit.db.connect.session import open_target
from migrakit.db.inspect import shadow
from migrakit.db.run.executor import Executor
from migrakit.db.run.lock import migration_lock
from migrakit.errors import ConfigError, DriftError, MigrakitError
from migrakit.sources.folders import V1, display_path
from migrakit.sources.load import load_sources
from migrakit.workflows.steps import provenance
from migrakit.workflows.steps.options import executor_options, ignored_tables, shadow_options, target_options


def bootstrap(
    settings: Settings,
    *,
    dry_run: bool = False,
    only: tuple[str, ...] | list[str] = (),
    adopt: tuple[str, ...] | list[str] = (),
    on_event: EventSink = no_event,
) -> BootstrapReport:
    """Run the legacy folder's files that no tracking row carries yet, in order, each as one transaction
    (Mode 2), tracked with created_at = its position (see sources/legacy.py). Never reads a legacy runner's table.

    `only`: run only these files (selectors: tag, number, `024-026`). `adopt`: record these files without
    running them, each only when a shadow database proves its effect present in the live schema
    (workflows/steps/provenance.py); a file only partly present, absent, or without schema effect is refused (DriftError
    naming the objects). With either option, the files not named stay pending. Files run and recorded in
    file order, each in its own transaction, all under the migration lock (the proof too)."""
    # a legacy-only project (no drizzle-kit folder yet) may lack the default migrations folder;
    # a configured one must exist
    src = load_sources(settings, require_migrations=not settings.is_default("migrations_dir"), require_legacy=True)
    shown = display_path(settings.legacy_dir, settings.root) if settings.legacy_dir else ""
    tags = [m.tag for m in src.legacy]
    run_sel, adopt_sel = _selection(only, adopt, tags, shown)
    named = bool(only or adopt)
    if run_sel is None:
        run_sel = [] if adopt_sel else tags
    with open_target(target_options(settings)) as (target, conn):
        on_event(events.TargetChosen(target.display))
        rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        p = src.legacy_plan(rows)
        check_statements(p)
        if dry_run:  # the proof is read-only: a dry run proves too
            report = bootstrap_report(target.display, shown, p, run_sel, adopt_sel, named=named, dry_run=True)
            if report.adopt:
                report.proofs = _prove_adoption(
                    settings, src, target, p.pending, [m for m in p.pending if m.tag in report.adopt]
                )
            return report
        try:
            with migration_lock(
                conn, settings.migrations_schema, settings.migrations_table,
                timeout=settings.lock_wait_timeout, on_event=on_event,
            ):
                # again, under the lock
                rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
                p = src.legacy_plan(rows)
                refuse_blocking(p)
                v1 = src.folder.layout == V1
                report = bootstrap_report(target.display, shown, p, run_sel, adopt_sel, named=named)
                to_adopt = [m for m in p.pending if m.tag in report.adopt]
                if to_adopt:  # proven under the lock: nobody migrates between the proof and the rows
                    report.proofs = _prove_adoption(settings, src, target, p.pending, to_adopt)
                tracking.ensure_table(conn, settings.migrations_schema, settings.migrations_table, v1=v1)
                on_event(events.Planned(len(report.to_run)))
                executor = Executor(conn, executor_options(settings, v1=v1), on_event)
                try:
                    for m in p.pending:  # file order: each file recorded or run in its own transaction
                        if m.tag in report.adopt:
                            report.recorded += executor.record([m])
                        elif m.tag in report.to_run:
                            executor.apply([m])
                            report.applied.append(m.tag)
                except MigrakitError as err:
                    legacy_failure(err, [*report.applied, *report.recorded])
                    raise
                return report
        finally:
            on_event(events.Finished())


def _selection(
    only: tuple[str, ...] | list[str], adopt: tuple[str, ...] | list[str], tags: list[str], shown: str
) -> tuple[list[str] | None, list[str]]:
    """(files to run or None for all, files to adopt) from --only and --adopt; ConfigError on a selector that
    matches no file, or a file named by both."""
    try:
        run_sel = parse_selection(split_selectors(list(only)), tags) if only else None
        adopt_sel = parse_selection(split_selectors(list(adopt)), tags) if adopt else []
    except SelectionError as err:
        raise ConfigError(
            f"no legacy file matches {err.selector!r}",
            file=shown,
            state="nothing was run",
            fix="name files by number (023), range (024-026), tag or file name; the legacy files are: "
            + ", ".join(tags),
        ) from None
    both = sorted(set(run_sel or ()) & set(adopt_sel))
    if both:
        raise ConfigError(
            f"{', '.join(both)} is named by both --only (run it) and --adopt (record it without running)",
            state="nothing was run",
            fix="name each file in one of the two options",
        )
    return run_sel, adopt_sel


def _prove_adoption(
    settings: Settings,
    src: ProjectFiles,
    target: session.Target,
    pending: tuple[Migration, ...],
    adopt: list[Migration],
) -> list[Any]:
    """Prove each file of `adopt` present in the live schema (workflows/steps/provenance.py), or raise DriftError
    naming, per refused file, the objects that differ and the fix."""
    with shadow.shadow(shadow_options(settings)) as url:
        prov = provenance.build(settings, url, src, each_migration=False)
        note = shadow.version_note(target.url, url)
    live = provenance.live_snapshot(target.url, ignored_tables(settings), target.display)
    proofs = provenance.legacy_proofs(prov, list(pending), live)
    refused = [pr for pr in proofs if pr.migration in adopt and pr.verdict != "present"]
    if refused:
        first = refused[0]
        forward = provenance.next_step(proofs)
        fixes = [provenance.blocker_fix(pr) for pr in refused if pr.verdict != "absent"]
        if any(pr.verdict == "absent" for pr in refused):
            fixes.append(
                f"{', '.join(pr.migration.tag for pr in refused if pr.verdict == 'absent')} never ran here: run "
                "instead of adopting" + (f" (`{forward}`)" if forward else "")
            )
        raise DriftError(
            f"cannot adopt {', '.join(pr.migration.tag for pr in refused)}: its effect is not present in this "
            f"database ({first.verdict})",
            file=first.migration.path,
            migration=first.migration.tag,
            state="nothing was run or recorded",
            fix="; ".join(fixes),
            details=[
                *provenance.summary(proofs),
                *(line for pr in refused for line in pr.differing_lines()),
                *([note] if note else []),
            ],
        )
    return [pr for pr in proofs if pr.migration in adopt]
