"""Convert a drizzle-kit 0.x journal folder into Drizzle 1.0's folder layout, as `drizzle-kit up` (1.0) does.

drizzle-kit 1.0's `migrateToFoldersV3` (`drizzle-kit/src/cli/commands/utils.ts`), per journal entry:
  folder   `<YYYYMMDDHHMMSS of the entry's when, UTC>_<tag without its first "_"-separated part>/`
  files    `migration.sql` = the old `<tag>.sql`, byte for byte (so every hash stays), and
           `snapshot.json` = the old `meta/<prefix>_snapshot.json`, byte for byte;
then it deletes the old .sql files and the whole `meta/`. `.sql` files the journal does not name stay where
they are (Drizzle never ran them and still ignores them).

Differences, on purpose: migrakit checks everything before it writes (drizzle-kit stops half-way on a
missing snapshot or a name clash); an entry without a snapshot is converted without snapshot.json (and
reported) instead of aborting; the year comes from UTC like the other fields (drizzle-kit takes the year
from local time, which shifts folders made around New Year in zones east or west of UTC). Snapshots keep
their old format: drizzle-kit 1.0's `drizzle-kit up`, run afterwards, upgrades them to version 8 in place
(only `generate` reads them; migrators never do).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from migrakit.core.drizzle.journal import JOURNAL_PATH
from migrakit.core.drizzle.naming import locale_key, snapshot_name, v1_folder_name
from migrakit.core.reports.upgrade import FolderMove, LayoutUpgrade
from migrakit.core.settings import Settings
from migrakit.errors import JournalError, MigrakitError
from migrakit.sources.folders import (
    EMPTY,
    JOURNAL,
    V1,
    V1_DOWN,
    Folder,
    check_folders,
    display_path,
    down_path,
    load_folder,
)


def plan_layout_upgrade(folder: Folder) -> LayoutUpgrade:
    """What converting `folder` would write and delete. Reads nothing but file names; raises JournalError for
    what would make the result wrong (two entries giving one folder name, a folder already there)."""
    if folder.layout != JOURNAL or folder.journal is None:
        return LayoutUpgrade(folder.path, folder.layout)
    path, meta = folder.path, folder.path / "meta"
    moves: list[FolderMove] = []
    notes: list[str] = []
    seen: dict[str, str] = {}
    for entry, m in zip(folder.journal.entries, folder.migrations):
        target = v1_folder_name(entry.when, entry.tag)
        if target in seen:
            raise JournalError(
                f"journal entries {seen[target]!r} and {entry.tag!r} would both become folder {target}/ "
                "(same second, same name)",
                file=str(path / JOURNAL_PATH),
                migration=entry.tag,
                state="nothing was changed",
                fix=f"give {entry.tag} a `when` at least one second later in meta/_journal.json, then run again "
                "(created_at in databases keeps the old value; the upgrade of the tracking table matches by hash)",
            )
        if (path / target).exists():
            raise JournalError(
                f"{target}/ already exists in {path.name}/",
                file=str(path / target),
                state="nothing was changed",
                fix="remove or move that folder (a half-finished conversion?), then run again",
            )
        seen[target] = entry.tag
        snapshot = meta / snapshot_name(entry.tag)
        if not snapshot.is_file():
            notes.append(
                f"{entry.tag}: no {display_path(snapshot)}; {target}/ gets migration.sql only "
                "(drizzle-kit up would stop here; `drizzle-kit generate` needs the newest folder's snapshot)"
            )
        moves.append(FolderMove(
            entry.tag, entry.when, target, path / f"{entry.tag}.sql", snapshot if snapshot.is_file() else None, m.hash,
            down_path(path, m, JOURNAL) if m.down is not None else None,
        ))
    v1_order = sorted(moves, key=lambda mv: locale_key(mv.target))
    if [mv.tag for mv in v1_order] != [mv.tag for mv in moves]:
        moved = [f"{mv.target}" for mv, old in zip(v1_order, moves) if mv is not old]
        notes.append(
            "Drizzle 1.0 runs folders in name order, which differs from the journal's order here: on a fresh "
            f"database these run in a new order: {', '.join(moved)}. Databases that already ran them are not affected"
        )
    removed = tuple(sorted(str(p.relative_to(path)) for p in meta.rglob("*") if p.is_file()))
    return LayoutUpgrade(path, JOURNAL, tuple(moves), folder.orphans, removed, tuple(notes))


def apply_layout_upgrade(up: LayoutUpgrade) -> None:
    """Write every new folder and check its bytes, then delete the old .sql files and meta/. If writing fails,
    the new folders are removed again and the old layout is untouched."""
    created: list[Path] = []
    try:
        for mv in up.moves:
            target = up.path / mv.target
            target.mkdir()
            created.append(target)
            data = mv.sql.read_bytes()
            (target / "migration.sql").write_bytes(data)
            if (target / "migration.sql").read_bytes() != data:
                raise MigrakitError(f"{target}/migration.sql does not read back as written", file=str(target))
            if mv.snapshot is not None:
                (target / "snapshot.json").write_bytes(mv.snapshot.read_bytes())
            if mv.down is not None:
                (target / V1_DOWN).write_bytes(mv.down.read_bytes())
    except (OSError, MigrakitError) as exc:
        for folder in created:
            shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, MigrakitError):
            raise
        raise MigrakitError(
            f"cannot write the new folders: {exc}",
            file=str(up.path),
            state="nothing was changed (the folders written so far were removed)",
            fix="check permissions and free space in the migrations folder, then run again",
        ) from exc
    for mv in up.moves:
        mv.sql.unlink()
        if mv.down is not None:
            mv.down.unlink()
    shutil.rmtree(up.path / "meta")
    up.applied = True


def upgrade_layout(settings: Settings, *, yes: bool = False) -> LayoutUpgrade:
    """Show, and with `yes` do, the conversion of the migrations folder to Drizzle 1.0's layout."""
    check_folders(settings, consolidated=False)
    folder = load_folder(settings.migrations_dir, settings.root, max_bytes=settings.max_file_bytes)
    if folder.layout == EMPTY:
        raise MigrakitError(
            f"{display_path(folder.path, settings.root)} holds no drizzle-kit journal (meta/_journal.json) to convert",
            file=str(folder.path),
            fix="point --migrations-dir at the drizzle-kit folder",
        )
    up = plan_layout_upgrade(folder)
    if yes and up.moves:
        apply_layout_upgrade(up)
        after = load_folder(up.path, settings.root, max_bytes=settings.max_file_bytes)
        if after.layout != V1 or sorted(m.hash for m in after.migrations) != sorted(mv.hash for mv in up.moves):
            raise MigrakitError(
                "the converted folder does not load back with the same migrations",
                file=str(up.path),
                state="the folder was converted; its old files are deleted",
                fix="compare with git (`git status`), restore with `git checkout -- <folder>` and report a bug",
            )
    return up
