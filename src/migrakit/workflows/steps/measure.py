"""Steps two commands share (no workflow calls another's entry point). [I/O]

- `measure`: db.lint's judgement of migrations (core/lint on what a shadow database measured), for db.lint (the
  pending migrations), db.lint --fix (the fixed ones) and db.generate (the migrations it is about to write); the
  report it returns is core/reports/lint.LintReport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from migrakit.core.lint.engine import Judge, head_offset, rows_on_target
from migrakit.core.lint.rule import Measured, Target
from migrakit.core.migration import Migration
from migrakit.core.postgres.pgvalues import parse_duration
from migrakit.core.project import ProjectFiles
from migrakit.core.reports.lint import LintMigration, LintReport, LintStatement
from migrakit.core.settings import Settings
from migrakit.db.connect import server, session
from migrakit.db.inspect import lint_probe, shadow
from migrakit.errors import MigrakitError
from migrakit.workflows.steps import shadow_build
from migrakit.workflows.steps.options import shadow_options, target_options


def _lock_timeout_disabled(settings: Settings) -> bool:
    try:
        return parse_duration(settings.lock_timeout) == 0
    except MigrakitError:  # checked at load already; an unreadable value is not "disabled"
        return False


def measure(
    settings: Settings,
    src: ProjectFiles,
    base: list[Migration],
    chosen: list[Migration],
    legacy_ran: bool,
    fail_on: str = "error",
    shadow_url: Callable[[], str] | None = None,
) -> LintReport:
    """Lint `chosen` on a shadow database that first gets `base` (and the legacy files, with `legacy_ran`), with
    the sizes of the target's relations; nothing on the target is changed. `shadow_url`: a shadow made ahead
    (shadow.shadow_ahead), else one is made here."""
    if shadow_url is None:
        with shadow.shadow_ahead(shadow_options(settings), wait_drop=False) as made:
            return measure(settings, src, base, chosen, legacy_ran, fail_on, made)
    target = session.resolve_target(target_options(settings))
    sizes, target_version = lint_probe.target_sizes(target.url)
    notes: list[str] = []
    url = shadow_url()
    with shadow.failures_on_shadow():  # the target's schema: what it applied (and its legacy files, as db.check)
        on_shadow = replace(settings.with_overrides(database_url=url), direct_url=None)  # never the target's
        if base or legacy_ran:  # what the target applied, in the order db.migrate then db.bootstrap ran it
            shadow_build.replay(on_shadow, replace(src, migrations=tuple(base)), legacy=legacy_ran)
    with server.connect(url, autocommit=True, application_name="migrakit-lint") as conn:
        version = conn.info.server_version
        probes = [lint_probe.probe_migration(conn, m, url) for m in chosen]
    note = shadow.version_note(target.url, url)
    if note:
        notes.append(note)
    # rules about the server (ADD VALUE in a transaction) follow the older of the two: the target runs the migration
    judge = Judge(Target({}, min(version, target_version), _lock_timeout_disabled(settings)))
    migrations = [_judge(judge, m, p, sizes) for m, p in zip(chosen, probes, strict=True)]
    return LintReport(
        target=target.display,
        shadow=server.redact_url(settings.shadow_url) if settings.shadow_url else "the embedded server",
        server_version=version,
        migrations=migrations,
        sizes=sizes,
        fail_on=fail_on,
        notes=notes,
    )


def _judge(judge: Judge, m: Migration, probe: lint_probe.MigrationProbe,
           sizes: dict[str, tuple[float, int]]) -> LintMigration:  # fmt: skip
    measured = [
        Measured(
            locks=tuple(p.locks), held=tuple(p.held), rewrites=tuple(p.rewrites), indexes=tuple(p.indexes),
            scans=tuple(p.scans), seq_scans=tuple(p.seq_scans), writes=dict(p.writes),
            shadow_rows=dict(p.shadow_rows), new=frozenset(p.new), error=p.error, sqlstate=p.sqlstate,
            in_transaction=p.in_transaction, ran=p.ran,
        )
        for p in probe.statements
    ]  # fmt: skip
    judge.target = replace(judge.target, rows=rows_on_target({n: t for n, (t, _) in sizes.items()}, measured))
    verdicts = judge.migration(m.tag, m.statements, measured, m.refusal)
    out: list[LintStatement] = []
    for st, p, v, facts in zip(m.statements, probe.statements, verdicts, measured, strict=False):
        head = head_offset(st)
        out.append(LintStatement(
            index=p.index, line=st.source.count("\n", 0, head) + 1, sql=st.source[head:st.end].strip(),
            locks=list(p.locks), held=list(p.held), rewrites=list(p.rewrites),
            scans=list(p.scans), new=sorted(p.new), duration_ms=p.duration_ms if p.ran else None,
            in_transaction=p.in_transaction, ran=p.ran, error=p.error, findings=v.findings,
            suppressed=v.suppressed, indexes=list(p.indexes), writes=dict(p.writes), not_measured=v.not_measured,
            facts=facts,
        ))  # fmt: skip
    return LintMigration(m.tag, m.path, out, probe.error)
