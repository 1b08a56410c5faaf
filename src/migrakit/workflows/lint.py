"""`db.lint`: what each pending statement will lock, rewrite and break, measured on a shadow database. [I/O]

Recipe: plan (what is applied, what is pending) → a shadow database with the target's schema (the applied
migrations run there, as `db.check` builds its shadow) → each statement to lint run there as `db.migrate`
would run it (db/inspect/lint_probe.py) → the target's row estimates and sizes read in a READ ONLY transaction →
the rules (core/lint/, one module per family: engine.Judge) on each statement's classification and
measurement, the refusal db.migrate would raise, and the file's suppressions.
Nothing on the target is changed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from migrakit.core.differences import difference_lines
from migrakit.core.drizzle.naming import split_tags, v1_sorted
from migrakit.core.fix import Facts, render_migration, safe_sequence, with_leading_comments
from migrakit.core.migration import STANDARD, Layout, Migration
from migrakit.core.plan.run_plan import refuse_blocking
from migrakit.core.plan.to_tag import resolve_tag
from migrakit.core.project import ProjectFiles
from migrakit.core.reports.lint import FixedMigration, LintFixReport, LintReport, finding_lines
from migrakit.core.rollback import choose, steps_of
from migrakit.core.settings import Settings
from migrakit.db.connect import session
from migrakit.db.inspect import lint_probe, shadow
from migrakit.db.inspect import schema_diff as schema
from migrakit.errors import ConfigError, LintFindings, MigrakitError
from migrakit.sources import git
from migrakit.sources.load import load_sources
from migrakit.sources.rewrite import split_folder, split_v1_folder
from migrakit.workflows.steps import measure as steps
from migrakit.workflows.steps import shadow_build
from migrakit.workflows.steps.options import shadow_options, target_options
from migrakit.workflows.steps.status import read_status

FAIL_ON = ("error", "warning", "info")


def _choose(
    settings: Settings, src: ProjectFiles, every: bool, tag: str | None
) -> tuple[list[Migration], list[Migration], bool]:
    """(migrations the shadow gets first, migrations to lint, whether legacy files ran on the target)."""
    status = read_status(settings, src, allow_empty=None)
    plan = status.plan
    order = list(plan.migrations)
    legacy = bool(status.legacy and status.legacy.applied)
    if tag is not None:
        wanted = resolve_tag([m.tag for m in order], tag)
        i = next(k for k, m in enumerate(order) if m.tag == wanted)
        return order[:i], [order[i]], legacy
    if every:
        return [], order, False
    applied = {id(m) for m, _ in plan.applied}
    return [m for m in order if id(m) in applied], list(plan.pending), legacy


def lint(
    settings: Settings, *, every: bool = False, migration: str | None = None, fail_on: str = "error"
) -> LintReport:
    """Lint the pending migrations (every migration with `every`, one with `migration`)."""
    _check_fail_on(fail_on)
    # the shadow is made while the target is read; the output does not wait for its drop
    with shadow.shadow_ahead(shadow_options(settings), wait_drop=False) as shadow_url:
        src = load_sources(settings)
        base, chosen, legacy_ran = _choose(settings, src, every, migration)
        return steps.measure(settings, src, base, chosen, legacy_ran, fail_on, shadow_url)


def lint_down(
    settings: Settings, *, to: str | None = None, count: int | None = None, fail_on: str = "error"
) -> LintReport:
    """db.lint --down: the down files db.rollback would run (after `to`, or the newest `count`; by default the
    last applied migration), newest first, on a shadow holding every applied migration (the state before the
    rollback), with the rules and measurement of db.lint. Refuses what db.rollback refuses before running."""
    _check_fail_on(fail_on)
    if to is None and count is None:
        count = 1
    with shadow.shadow_ahead(shadow_options(settings), wait_drop=False) as shadow_url:
        src = load_sources(settings)
        status = read_status(settings, src, allow_empty=None)
        plan = status.plan
        refuse_blocking(plan)  # an edited applied migration ...: exit 3, as db.rollback
        undo = steps_of(choose(plan, to=to, steps=count), single_transaction=False)
        applied = {id(m) for m, _ in plan.applied}
        base = [m for m in plan.migrations if id(m) in applied]
        legacy_ran = bool(status.legacy and status.legacy.applied)
        report = steps.measure(settings, src, base, [s.down for s in undo], legacy_ran, fail_on, shadow_url)
    report.nothing = "no applied migration: a rollback would run no down file"
    report.notes.append(f"the down files of {len(undo)} migration(s) db.rollback would undo, newest first "
                        f"({', '.join(s.migration.tag for s in undo) or 'none'}), on a shadow with every applied "
                        "migration")  # fmt: skip
    return report


def _check_fail_on(fail_on: str) -> None:
    if fail_on not in FAIL_ON:
        raise ConfigError(f"--fail-on {fail_on!r} is not a severity", state="nothing was run",
                          fix=f"use one of {', '.join(FAIL_ON)}")  # fmt: skip


def refuse_errors(report: LintReport) -> None:
    """`db.migrate --lint`: raise LintFindings (exit 7) when a finding is an error; nothing has run yet."""
    errors = [(m, s, f) for m in report.migrations for s in m.statements for f in s.findings if f.severity == "error"]
    if not errors:
        return
    m, s, f = errors[0]
    raise LintFindings(
        f"db.lint found {len(errors)} error-level finding(s) in the pending migrations; first: [{f.rule}] {f.message}",
        file=m.path,
        migration=m.tag,
        statement_no=s.index,
        line=s.line,
        state="nothing was run: the target database is unchanged (the statements ran only on a shadow database)",
        fix=f"{f.fix}; or allow it with `-- migrakit:allow {f.rule} <reason>` above the statement "
        "(`inv db.lint` shows every finding)",
        details=[f"{mm.path}:{ss.line} [{ff.rule}] {ff.message}" for mm, ss, ff in errors],
    )


def fix(settings: Settings, *, yes: bool = False, base: str | None = None) -> LintFixReport:
    """db.lint --fix: rewrite the pending migrations that are new on this branch into their lock-safe sequence
    (core/fix.py), proved first on shadow databases: the fixed folder gives the schema the original gives, and
    lints without error. Without `yes` only the plan (exit 5)."""
    src = load_sources(settings)
    status = read_status(settings, src, allow_empty=None)
    plan = status.plan
    target = session.resolve_target(target_options(settings))
    report = LintFixReport(target.display)
    pending = {m.tag for m in plan.pending}
    facts = Facts(unique_indexed_views=lint_probe.unique_indexed_views(target.url))  # REFRESH … CONCURRENTLY
    sequences = {
        m.tag: safe_sequence(with_leading_comments(m.text, [(s.start, s.end) for s in m.statements]), facts)
        for m in plan.pending
        if m.mode == STANDARD
    }
    to_fix = [tag for tag, seq in sequences.items() if seq.changed]
    if not to_fix:
        report.notes.append(f"no pending migration needs a fix ({len(plan.pending)} pending)")
        return report
    folder, journal = src.folder, src.folder.journal
    branch = git.branch_migrations(settings, base=base)
    order = [m.tag for m in folder.migrations]
    first = min(order.index(tag) for tag in to_fix)
    region = order[first:]
    refused = [f"{tag}: " + ("applied on the target" if tag not in pending else
               f"not new on this branch ({branch.base} has it): another environment may have applied it")
               for tag in region if tag not in pending or tag not in branch.tags]  # fmt: skip
    if refused:
        raise MigrakitError(
            f"db.lint --fix rewrites only migrations no environment can have applied (pending here and new on "
            f"this branch against {branch.base}); {len(refused)} of the {len(region)} it would rewrite or renumber "
            "are not",
            file=str(folder.path),
            state="nothing was written",
            fix="fix those by hand in a new migration, or rebase the branch so that the fixed ones come last",
            details=refused,
        )
    pieces = {tag: len(sequences[tag].migrations) for tag in to_fix}
    bodies = {(t, i): render_migration(texts) for t in to_fix for i, texts in enumerate(sequences[t].migrations)}
    write: Callable[[Path], list[str]]
    if folder.layout == Layout.V1:
        respelled = [(t, i, t if i == 0 else f"{t}_{i + 1}", 0) for t in region for i in range(pieces.get(t, 1))]
        names = order[:first] + [new for _, _, new, _ in respelled]
        if v1_sorted(names) != names:
            raise MigrakitError(
                "the split migrations' folders (<folder>_2, ...) would not sort right after their migration's folder",
                file=str(folder.path), state="nothing was written",
                fix="apply the plan by hand (`inv db.lint` names each safe rewrite), in folders named to sort in order",
            )  # fmt: skip
        write = lambda out: split_v1_folder(out, respelled, bodies)  # noqa: E731
    elif journal is not None:
        respelled = split_tags([(e.tag, e.when) for e in journal.entries[first:]], pieces)
        write = lambda out: split_folder(out, journal, respelled, bodies)  # noqa: E731
    else:
        raise MigrakitError("db.lint --fix found no journal in the folder", file=str(folder.path),
                            state="nothing was written", fix="check the folder with `inv db.status`")  # fmt: skip
    for tag in to_fix:
        tags = [new for old, _, new, _ in respelled if old == tag]
        changes = [c.summary for c in sequences[tag].changes]
        report.fixed.append(FixedMigration(tag, tags, changes, [bodies[(tag, i)] for i in range(pieces[tag])]))
    report.renamed = [(old, new) for old, piece, new, _ in respelled if old not in pieces and old != new]
    report.proof = _prove(settings, src, status, write, {new for _, _, new, _ in respelled}, region)
    if yes:
        report.files = write(folder.path)
        report.written = True
    return report


def _prove(
    settings: Settings, src: ProjectFiles, status: Any, write: Callable[[Path], list[str]], new_tags: set[str],
    region: list[str],
) -> list[str]:
    """Rewrite a copy of the folder and prove it on shadow databases; raise (nothing written) when it fails."""
    with tempfile.TemporaryDirectory(prefix="migrakit-fix-") as tmp:
        copy = Path(tmp) / src.folder.path.name
        shutil.copytree(src.folder.path, copy)
        write(copy)
        fixed_settings = settings.with_overrides(migrations_dir=str(copy))
        fixed = load_sources(fixed_settings)
        with shadow.shadow(shadow_options(settings)) as original, shadow.shadow(shadow_options(settings)) as rewritten:
            shadow_build.build(settings, original, src)
            shadow_build.build(fixed_settings, rewritten, fixed)
            diff = schema.compare(original, rewritten)
        if not diff.equal:
            raise MigrakitError(
                "the fixed migrations would not give the schema the original ones give",
                file=str(src.folder.path),
                state="nothing was written",
                fix="apply the plan by hand (`inv db.lint` names each safe rewrite), and report the migration",
                details=[line for d in diff.differences for line in difference_lines(d)],
            )
        base = [m for m in fixed.migrations if m.tag not in new_tags]
        chosen = [m for m in fixed.migrations if m.tag in new_tags]
        legacy_ran = bool(status.legacy and status.legacy.applied)
        linted = steps.measure(fixed_settings, fixed, base, chosen, legacy_ran)
        errors = [line for line in finding_lines(linted) if "] error:" in line]
        if errors:
            raise MigrakitError(
                f"the fixed migrations still have {len(errors)} error-level lint finding(s)",
                file=str(src.folder.path),
                state="nothing was written",
                fix="fix those statements by hand (or allow them with `-- migrakit:allow RULE reason`)",
                details=[line.replace(str(copy), str(src.folder.path)) for line in errors],
            )
    return [
        f"the fixed folder, replayed on a shadow database, gives the schema the original gives ({len(region)} "
        "migration(s) rewritten or renumbered)",
        f"db.lint on the {len(chosen)} fixed migration(s): no error",
    ]
