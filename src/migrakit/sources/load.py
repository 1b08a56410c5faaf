"""All of a project's migration files at once: the Mode 1 folder, the consolidated folder and the legacy
folder, in run order (`load_sources`). Every command that reads the files starts here; `ProjectFiles` (the data)
and its plans are in core/project.py."""

from __future__ import annotations

from migrakit.core.drizzle.naming import quoted_table
from migrakit.core.migration import Migration
from migrakit.core.plan.planner import order_sequence
from migrakit.core.project import EmptyFolder, ProjectFiles
from migrakit.core.settings import Settings
from migrakit.sources.consolidated import load_consolidated
from migrakit.sources.folders import (
    MIGRATIONS_EXPECTED,
    check_folders,
    display_path,
    folder_fix,
    load_folder,
    require_folder,
    said,
)
from migrakit.sources.legacy import load_legacy


def load_sources(settings: Settings, *, require_migrations: bool = True, require_legacy: bool = False) -> ProjectFiles:
    """Read the Mode 1 folder, the consolidated folder and (when configured) the legacy folder, after
    `check_folders` (a missing folder is a ConfigError, never an empty one).

    `require_legacy` (db.bootstrap): the legacy folder must be configured and exist, checked and read first.

    Run order: Mode 1 in journal order; each consolidation right before the first Mode 1 migration whose
    `when` is later than its own (see planner.order_sequence)."""
    legacy = _required_legacy(settings) if require_legacy else None
    check_folders(settings, migrations=require_migrations)
    limit = settings.max_file_bytes
    folder = load_folder(settings.migrations_dir, settings.root, max_bytes=limit)
    tags = [m.tag for m in folder.migrations]
    consolidated = load_consolidated(settings.consolidated_dir, settings.root, tags, max_bytes=limit)
    if legacy is None:
        legacy = load_legacy(settings.legacy_dir, settings.root, required=False, max_bytes=limit)
    table = quoted_table(settings.migrations_schema, settings.migrations_table)
    return ProjectFiles(folder, order_sequence(folder.migrations, consolidated), legacy, table, _empty_folder(settings))


def _empty_folder(settings: Settings) -> EmptyFolder:
    """How core.project.refuse_empty_folder words the refusal of this project's empty migrations folder."""
    key = "migrations_dir"
    shown = display_path(settings.migrations_dir, settings.root)
    origin = settings.origin(key)
    return EmptyFolder(
        key,
        shown,
        cause=f"{key} = {shown!r} ({'the default' if origin == 'the default' else 'set by ' + said(origin)}); "
        f"expected {MIGRATIONS_EXPECTED}",
        fix=folder_fix(settings, key, "the folder these migrations came from"),
    )


def _required_legacy(settings: Settings) -> tuple[Migration, ...]:
    if settings.legacy_dir is not None:
        key = "legacy_dir"
        require_folder(
            settings.legacy_dir, settings.root, key=key, origin=settings.origin(key),
            expected="the old runner's journal-less .sql files (e.g. 022_add_accounts.sql)",
            fix=folder_fix(settings, key, "the folder of the legacy .sql files"),
        )
    return load_legacy(settings.legacy_dir, settings.root, max_bytes=settings.max_file_bytes)
