"""`db.lint`: what each pending statement will lock, rewrite and break, measured on a shadow database. [I/O]

Recipe: plan (what is applied, what is pending) → a shadow database with the target's schema (the applied
migrations run there, as `db.check` builds its shadow) → each statement to lint run there as `db.migrate`
would run it (db/inspect/lint_probe.py) → the target's row estimates and sizes read in a READ ONLY transaction →
the rules (core/lint/, one module per family: engine.Judge) on each statement's classification and
measurement, the refusal db.migrate would raise, and the file's suppressions.
Nothing on the target is changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from migrakit.core.lint.engine import Judge, head_offset, rows_on_target
from migrakit.core.lint.rule import Finding, Measured, Target, severity_rank
from migrakit.core.migration import Migration
from migrakit.core.plan.to_tag import resolve_tag
from migrakit.core.postgres.pgvalues import parse_duration
from migrakit.core.project import ProjectFiles
from migrakit.core.settings import Settings
from migrakit.db.connect import server, session
from migrakit.db.inspect import lint_probe, shadow
from migrakit.errors import ConfigError, LintFindings, MigrakitError
from migrakit.sources.load import load_sources
from migrakit.workflows.steps import shadow_build
from migrakit.workflows.steps.status import read_status

FAIL_ON = ("error", "warning", "info")


@dataclass
class LintStatement:
    index: int
    line: int
    sql: str
    locks: list[tuple[str, str]] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)  # all the transaction holds after the statement
    rewrites: list[str] = field(default_factory=list)  # tables, then indexes rebuilt
    scans: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)  # relations created earlier in this migration (or by this statement)
    duration_ms: float | None = None
    in_transaction: bool = True
    ran: bool = True
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)  # the indexes among `rewrites`
    writes: dict[str, int] = field(default_factory=dict)  # rows written per table (on the shadow)
    not_measured: str | None = None  # why its measurement does not count (an earlier failure), or None
    facts: Measured = field(default_factory=Measured)  # all the probe measured, as the rules read it


@dataclass
class LintMigration:
    tag: str
    path: str
    statements: list[LintStatement]
    error: str | None = None


@dataclass
class LintReport:
    target: str
    shadow: str
    server_version: int
    migrations: list[LintMigration]
    sizes: dict[str, tuple[float, int]]  # the target's schema.relation -> (row estimate, bytes)
    fail_on: str = "error"
    notes: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for m in self.migrations for s in m.statements for f in s.findings]

    @property
    def failing(self) -> list[Finding]:
        floor = severity_rank(self.fail_on)
        return [f for f in self.findings if severity_rank(f.severity) >= floor]

    @property
    def ok(self) -> bool:
        return not self.failing

    @property
    def exit_code(self) -> int:
        """0, or 7 (LintFindings) when a finding reaches --fail-on."""
        return 0 if self.ok else LintFindings.exit_code


def _lock_timeout_disabled(settings: Settings) -> bool:
    try:
        return parse_duration(settings.lock_timeout) == 0
    except MigrakitError:  # checked at load already; an unreadable value is not "disabled"
        return False


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
    if fail_on not in FAIL_ON:
        raise ConfigError(f"--fail-on {fail_on!r} is not a severity", state="nothing was run",
                          fix=f"use one of {', '.join(FAIL_ON)}")
    # the shadow is made while the target is read; the output does not wait for its drop
    with shadow.shadow_ahead(settings, wait_drop=False) as shadow_url:
        src = load_sources(settings)
        base, chosen, legacy_ran = _choose(settings, src, every, migration)
        target = session.resolve_target(settings)
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
