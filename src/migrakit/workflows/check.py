"""`db.check`: is the live schema what the migrations produce? [I/O]

All migrations go to a shadow database (see `shadow`), whose schema is compared with the target's
(bookkeeping schemas and the legacy tracking table left out). The tracking table is checked too: the
planner's problems (edited files, rows no file explains, migrations Drizzle would skip). Nothing on the
target is changed.

When the schemas differ, or legacy files have no tracking row, a second shadow is built one file at a
time (workflows/steps/provenance.py) to name, for each differing object, the migration or legacy file that creates it,
and to prove which legacy files already ran here: the fix is then the one `db.bootstrap --adopt ... --only
...` command that records those and runs the rest.
"""

from __future__ import annotations

from migrakit.core.differences import EXTRA
from migrakit.core.plan.planner import Plan
from migrakit.core.project import ProjectFiles
from migrakit.core.reports.check import CheckReport
from migrakit.core.settings import Settings
from migrakit.db.connect import server, session
from migrakit.db.inspect import schema_diff as schema
from migrakit.db.inspect import shadow
from migrakit.sources.load import load_sources
from migrakit.workflows.steps import provenance, shadow_build
from migrakit.workflows.steps.options import ignored_tables, shadow_options, target_options
from migrakit.workflows.steps.status import read_status


def check(settings: Settings) -> CheckReport:
    """Build the migrations' schema on a shadow database and compare it with the target's."""
    src = load_sources(settings)
    status = read_status(settings, src, allow_empty=None)
    target = session.resolve_target(target_options(settings))
    plan = status.plan
    legacy = list(status.legacy.migrations) if status.legacy else []
    unrecorded = {m.tag for m in status.legacy.pending} if status.legacy else set()
    with shadow.shadow(shadow_options(settings)) as url:
        shadow_build.build(settings, url, src)
        diff = schema.compare(url, target.url, ignore_tables=ignored_tables(settings))
        note = shadow.version_note(target.url, url)
    report = CheckReport(
        target=target.display,
        shadow=server.redact_url(settings.shadow_url) if settings.shadow_url else "the embedded server",
        plan=plan,
        diff=diff,
        legacy_files=[m.path for m in legacy],
        legacy_unrecorded=[m.path for m in legacy if m.tag in unrecorded],
        legacy_problems=status.legacy.problems if status.legacy else (),
    )
    if note:
        report.notes.append(note)
    if not diff.equal or unrecorded:
        _explain(settings, src, target, report, status.legacy.pending if status.legacy else (), plan)
    if plan.pending and not diff.equal:
        report.notes.append(
            f"{len(plan.pending)} migration(s) are pending here ({', '.join(m.tag for m in plan.pending[:5])}"
            f"{', ...' if len(plan.pending) > 5 else ''}): "
            "the differences they account for go away after `inv db.migrate`"
        )
    if report.legacy_proofs:
        report.notes += provenance.summary(report.legacy_proofs)
        for proof in provenance.blockers(report.legacy_proofs):
            report.notes += [f"{proof.migration.tag}: {line}" for line in proof.differing_lines()]
            report.notes.append(provenance.blocker_fix(proof))
        if report.next_step:
            report.notes.append(
                f"{len(report.legacy_unrecorded)} legacy file(s) have no row in the tracking table (a legacy runner's "
                f"own table is not proof); `{report.next_step}` records those proven to have run and runs the others"
            )
    return report


def _explain(
    settings: Settings,
    src: ProjectFiles,
    target: session.Target,
    report: CheckReport,
    pending_legacy: tuple,
    plan: Plan,
) -> None:
    """Name the file behind each difference, and prove which legacy files without a row ran here."""
    with shadow.shadow(shadow_options(settings)) as url:
        prov = provenance.build(settings, url, src, each_migration=not report.diff.equal)
    live = provenance.live_snapshot(target.url, ignored_tables(settings), target.display)
    pending = {m.tag for m in plan.pending} | {m.tag for m in pending_legacy}
    for d in report.diff.differences:
        found = prov.made_by(d.key) if d.key else None
        if found is None:
            report.made_by[d.object] = (
                "no migration or legacy file creates it" if d.kind == EXTRA else "(unknown)"
            )
            continue
        m, verb = found
        what = {"created": "creates it", "changed": "last changes it", "dropped": "drops it"}[verb]
        kind = "legacy file" if m.mode == "legacy" else "migration"
        where = "not run here yet" if m.tag in pending else "tracked as run here"
        report.made_by[d.object] = f"{m.path} ({what}; {kind}, {where})"
    report.legacy_proofs = provenance.legacy_proofs(prov, list(pending_legacy), live)
    report.next_step = provenance.next_step(report.legacy_proofs)
