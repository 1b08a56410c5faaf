"""`db.generate-down`: write the down file of each chosen migration that lacks one (`--force`: rewrite it),
computed and proven on shadow databases (workflows/steps/down_proof.py). A down that the shadow does not prove is
not written; the report names the difference (exit 1). Nothing here prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from migrakit.core.migration import STANDARD, Migration
from migrakit.core.plan.to_tag import resolve_tag
from migrakit.core.rollback import DownResult, DownsReport, down_file_of
from migrakit.core.settings import Settings
from migrakit.errors import ConfigError
from migrakit.sources.folders import down_path
from migrakit.sources.load import load_sources
from migrakit.workflows.steps.down_proof import compute_downs


def generate_down(
    settings: Settings,
    tags: Sequence[str] = (),
    *,
    every: bool = False,
    force: bool = False,
    on_done: Callable[[DownResult], None] = lambda _: None,
) -> DownsReport:
    """Down files for the migrations `tags` names (tags or unique prefixes), or for every Mode 1 migration."""
    if bool(tags) == every:
        raise ConfigError(
            "db.generate-down needs migration tags or --all (not both)",
            state="nothing was written",
            fix="`inv db.generate-down --tags 0003_add_orders`, or `inv db.generate-down --all`",
        )
    src = load_sources(settings)
    folder = src.folder
    if every:
        chosen = [m for m in src.migrations if m.mode == STANDARD]
    else:
        names = {resolve_tag([m.tag for m in src.migrations], t) for t in tags}
        chosen = [m for m in src.migrations if m.tag in names]
        other = next((m for m in chosen if m.mode != STANDARD), None)
        if other is not None:
            raise ConfigError(
                f"{other.tag} is a {other.mode} migration: it gets no down file (db.rollback does not undo it)",
                file=other.path,
                migration=other.tag,
                state="nothing was written",
                fix="name Mode 1 migrations only",
            )
    skipped = [m.tag for m in chosen if m.down is not None and not force]
    todo: list[Migration] = [m for m in chosen if force or m.down is None]
    results = compute_downs(settings, src, todo, on_done) if todo else []
    report = DownsReport(results, skipped=skipped)
    for r in results:
        if r.proven:
            path = down_path(folder.path, r.migration, folder.layout)
            path.write_bytes(r.text.encode("utf-8"))
            report.written[r.migration.tag] = down_file_of(r.migration)
    return report
