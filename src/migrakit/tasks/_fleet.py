"""The fleet's part of the db tasks: the --targets options' help, and running a task on every target
(workflows/fleet/)."""

from __future__ import annotations

from typing import Any

from migrakit.tasks._run import run_core

FLEET_HELP = {
    "targets": "Run on every database of this TOML file ([[targets]] with name, url and optionally schema) instead "
    "of DATABASE_URL (see the guide's \"Many databases\").",
    "targets_query": "Run on the targets this SQL returns (columns name, url, optionally schema), run read-only "
    "on DATABASE_URL.",
    "concurrency": "With --targets: how many targets run at once (default 8; each holds two connections).",
}


def run_fleet(
    settings: Any, fmt: str, command: str, targets: str | None, query: str | None, concurrency: int,
    *, options: dict[str, Any], fail_fast: bool = False, canary: int = 0,
) -> None:
    """db.migrate / db.rollback / db.status / db.check / db.lint on every target (workflows/fleet/); exit code:
    the first failed target's, else 7 when a target has lint findings, 3 when one has drift (status, check)."""
    from migrakit.render.fleet import FleetView, render_fleet
    from migrakit.workflows import fleet

    def call() -> Any:
        found, source = fleet.load_targets(settings, targets, query)
        view = FleetView(fmt)
        if command == "migrate":
            return fleet.migrate(settings, found, source=source, concurrency=concurrency, fail_fast=fail_fast,
                                 canary=canary, on_event=view, **options)  # fmt: skip
        if command == "rollback":
            return fleet.rollback(settings, found, source=source, concurrency=concurrency, fail_fast=fail_fast,
                                  canary=canary, on_event=view, **options)  # fmt: skip
        if command == "check":
            return fleet.check(settings, found, source=source, concurrency=concurrency, on_event=view)
        if command == "lint":
            return fleet.lint(settings, found, source=source, concurrency=concurrency, on_event=view, **options)
        return fleet.status(settings, found, source=source, concurrency=concurrency, on_event=view, **options)

    run_core(f"db.{command}", render_fleet, call, fmt, settings=settings)


def single_only(**given: bool) -> None:
    """Fleet options without --targets are a mistake (the user meant a fleet run): exit 2."""
    named = [f"--{k.replace('_', '-')}" for k, v in given.items() if v]
    if named:
        from migrakit.errors import ConfigError

        raise ConfigError(
            f"{', '.join(named)} only applies to a fleet run",
            state="nothing was run",
            fix="add --targets FILE (or --targets-query SQL), or drop " + ", ".join(named),
        )
