"""db.lint: what each pending statement locks, rewrites and breaks, measured on a shadow database."""

from __future__ import annotations

from typing import Any

from migrakit.tasks._fleet import FLEET_HELP, run_fleet, single_only
from migrakit.tasks._run import run_core, settings_from, task
from migrakit.tasks.db._help import COMMON, SHADOW

COLLECTION = "db"


@task(
    help={
        **COMMON,
        "shadow_url": SHADOW,
        "all": "Lint every migration in the folder, not only the pending ones (the shadow starts empty).",
        "migration": "Lint only migration TAG (a tag or a unique prefix), on a shadow holding the migrations before it.",
        "fail_on": "Lowest severity that fails the run (exit 7): error (default), warning or info.",
        "github": "Also print GitHub Actions annotations (::error file=...,line=...::...), one per finding.",
        "json": "Print the result as JSON.",
        **FLEET_HELP,
        "fix": "Rewrite the pending migrations that are new on this branch into their lock-safe sequence (a split "
        "adds journal entries), proved on shadow databases first: same schema, no lint error. Prints the plan "
        "(exit 5) unless --yes.",
        "yes": "With --fix: write the proved plan.",
        "base": "With --fix: the base branch new migrations are counted against (as db.count-branch-migrations).",
        "down": "Lint the down files db.rollback would run (default: the last applied migration's), newest first, on a "
        "shadow at the state before the rollback; findings name the down file and line.",
        "to": "With --down: the down files of every applied migration after TAG (as db.rollback --to).",
        "steps": "With --down: the down files of the newest N applied migrations (as db.rollback --steps).",
    }
)
def lint(
    c: Any,
    database_url: str | None = None,
    migrations_dir: str | None = None,
    shadow_url: str | None = None,
    all: bool = False,
    migration: str | None = None,
    fail_on: str = "error",
    github: bool = False,
    json: bool = False,
    targets: str | None = None,
    targets_query: str | None = None,
    concurrency: int = 8,
    fix: bool = False,
    yes: bool = False,
    base: str | None = None,
    down: bool = False,
    to: str | None = None,
    steps: int = 0,
) -> None:
    """Lint pending migrations: what each statement locks, rewrites and breaks, measured on a shadow database.

    Each statement runs on a shadow database holding the target's schema, grouped in transactions as
    db.migrate runs it; the locks its backend holds (pg_locks), the tables it rewrote or scanned and its duration
    are recorded, the target's row estimates and sizes are read (read only), and the rules (see the migration
    guide, "Safe migrations") name the risk and the safe rewrite. `-- migrakit:allow RULE-ID reason` on the line
    above a statement allows it. Exit 0 when no finding reaches --fail-on, else 7. The target is never changed.
    With --targets FILE (or --targets-query SQL): every database of the fleet, each with its own pending
    migrations, shadow and table sizes (exit 7 when any target has a finding at --fail-on).
    With --fix: rewrite this branch's pending migrations into their lock-safe sequence, proved on shadow databases
    first (same schema, no lint error); the plan is printed (exit 5) until --yes writes it (guide: Safe migrations).
    With --down [--to TAG | --steps N]: the down files db.rollback would run, on a shadow holding every applied
    migration (guide: Rolling back)."""
    from migrakit.render.run import choose_format
    from migrakit.workflows.lint import lint as core

    settings = settings_from(c, database_url=database_url, migrations_dir=migrations_dir, shadow_url=shadow_url)
    fmt = choose_format(json)
    if down or to is not None or steps:
        return _lint_down(settings, fmt, down=down, to=to, steps=steps, fail_on=fail_on, github=github,
                          others={"all": all, "migration": migration is not None, "fix": fix,
                                  "targets": bool(targets or targets_query)})  # fmt: skip
    if targets or targets_query:
        if github:
            from migrakit.errors import ConfigError

            raise ConfigError("--github does not combine with --targets", state="nothing was run",
                              fix="annotate from one database's run (`inv db.lint --github`); a fleet's findings are "
                              "listed per target")  # fmt: skip
        options = {"every": all, "migration": migration, "fail_on": fail_on}
        return run_fleet(settings, fmt, "lint", targets, targets_query, concurrency, options=options)
    single_only(concurrency=concurrency != 8)
    if fix:
        from migrakit.render.lint_fix import render_fix
        from migrakit.workflows.lint import fix as fix_core

        return run_core("db.lint", render_fix, lambda: fix_core(settings, yes=yes, base=base), fmt, settings=settings)

    run_core("db.lint",
        _render(github), lambda: core(settings, every=all, migration=migration, fail_on=fail_on), fmt,
        settings=settings,
    )  # fmt: skip


def _render(github: bool) -> Any:
    from migrakit.render.lint import github_annotations, render_lint

    def render(report: Any, fmt: str) -> str:
        return render_lint(report, fmt) + ("\n" + github_annotations(report) if github and report.findings else "")

    return render


def _lint_down(settings: Any, fmt: str, *, down: bool, to: str | None, steps: int, fail_on: str, github: bool,
               others: dict[str, bool]) -> None:  # fmt: skip
    """db.lint --down: exit 2 for --to/--steps without --down, or --down with an option choosing other files."""
    from migrakit.errors import ConfigError
    from migrakit.workflows.lint import lint_down

    clash = [f"--{k}" for k, v in others.items() if v]
    if not down or clash or (to is not None and steps):
        raise ConfigError(
            ("--to and --steps need --down" if not down else
             f"--down does not combine with {', '.join(clash) or '--to and --steps together'}"),
            state="nothing was run",
            fix="`inv db.lint --down` (the last applied migration), `--down --steps N` or `--down --to TAG`",
        )  # fmt: skip
    run_core("db.lint", _render(github),
             lambda: lint_down(settings, to=to, count=steps or None, fail_on=fail_on), fmt, settings=settings)  # fmt: skip

