"""Read migration folders from disk into `Migration` values (the only module here that reads them).

Layouts:
  journal  drizzle-kit 0.x: `<tag>.sql` + `meta/_journal.json`; journal order is authoritative.
  v1       drizzle-kit 1.0: `<YYYYMMDDHHMMSS>_<name>/migration.sql`, sorted by folder name.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import JournalError
from .journal import JOURNAL_PATH, Journal, journal_warnings, parse_journal
from .migration import STANDARD, Migration, drizzle_hash

JOURNAL = "journal"
V1 = "v1"
EMPTY = "empty"

_V1_FOLDER = re.compile(r"^(\d{14})_")


@dataclass(frozen=True)
class Folder:
    """A Mode 1 folder as read from disk."""

    path: Path
    layout: str
    migrations: tuple[Migration, ...]
    journal: Journal | None = None
    orphans: tuple[str, ...] = ()  # .sql files no journal entry names (Drizzle ignores them)
    warnings: tuple[str, ...] = field(default=())


def display_path(path: Path, root: Path | None = None) -> str:
    """`path` relative to `root` (or the working directory) when it is below it, else absolute."""
    for base in (root, Path.cwd()):
        if base is None:
            continue
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


def read_sql(path: Path, shown: str, migration: str) -> tuple[str, str]:
    """(text, Drizzle hash) of a migration file; non-UTF-8 bytes are an error, not a silent replacement."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise JournalError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            file=shown,
            migration=migration,
            line=line,
            fix="re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`), then run again",
        ) from exc
    return text, drizzle_hash(data)


def detect_layout(path: Path) -> str:
    has_journal = (path / JOURNAL_PATH).is_file()
    has_v1 = path.is_dir() and any(
        _V1_FOLDER.match(p.name) and (p / "migration.sql").is_file() for p in path.iterdir() if p.is_dir()
    )
    if has_journal and has_v1:
        raise JournalError(
            "the folder holds both a drizzle-kit journal (meta/_journal.json) and Drizzle 1.0 migration folders",
            file=str(path),
            fix="finish the move to one layout: `inv db.upgrade-layout --yes` converts the journal folder",
        )
    if has_journal:
        return JOURNAL
    if has_v1:
        return V1
    return EMPTY


def load_folder(path: Path, root: Path | None = None) -> Folder:
    """Read a Mode 1 folder (either layout). A missing folder is an empty one."""
    layout = detect_layout(path) if path.exists() else EMPTY
    if layout == JOURNAL:
        return _load_journal_folder(path, root)
    if layout == V1:
        return _load_v1_folder(path, root)
    sql_files = sorted(p.name for p in path.glob("*.sql")) if path.exists() else []
    warnings = (
        (f"{len(sql_files)} .sql file(s) but no meta/_journal.json: Drizzle runs none of them",) if sql_files else ()
    )
    return Folder(path=path, layout=EMPTY, migrations=(), orphans=tuple(sql_files), warnings=warnings)


def _load_journal_folder(path: Path, root: Path | None) -> Folder:
    journal_file = path / JOURNAL_PATH
    shown_journal = display_path(journal_file, root)
    try:
        text = journal_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise JournalError("journal is not valid UTF-8", file=shown_journal, fix="restore it from git") from exc
    journal = parse_journal(text, shown_journal)
    migrations = []
    for entry in journal.entries:
        sql = path / f"{entry.tag}.sql"
        shown = display_path(sql, root)
        if not sql.is_file():
            raise JournalError(
                f"journal entry {entry.tag!r} has no file {entry.tag}.sql",
                file=shown_journal,
                migration=entry.tag,
                fix=f"restore {shown} (e.g. from git), or remove the entry if the migration was never shared",
            )
        sql_text, digest = read_sql(sql, shown, entry.tag)
        migrations.append(Migration(tag=entry.tag, when=entry.when, path=shown, text=sql_text, hash=digest))
    named = {f"{e.tag}.sql" for e in journal.entries}
    orphans = tuple(sorted(p.name for p in path.glob("*.sql") if p.name not in named))
    warnings = journal_warnings(journal) + [
        f"{name} is not in the journal: Drizzle and migrakit ignore it" for name in orphans
    ]
    return Folder(path, JOURNAL, tuple(migrations), journal, orphans, tuple(warnings))


def v1_when(folder_name: str) -> int:
    """Drizzle 1.0's created_at: `Date.UTC` of the folder's 14-digit prefix, in milliseconds."""
    stamp = folder_name[:14]
    fields_ = (int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[8:10]), int(stamp[10:12]), int(stamp[12:14]))
    return calendar.timegm((*fields_, 0, 0, 0)) * 1000


def _load_v1_folder(path: Path, root: Path | None) -> Folder:
    folders = sorted(
        (p for p in path.iterdir() if p.is_dir() and (p / "migration.sql").is_file()),
        key=lambda p: p.name,
    )
    migrations = []
    for folder in folders:
        sql = folder / "migration.sql"
        shown = display_path(sql, root)
        if not _V1_FOLDER.match(folder.name):
            raise JournalError(
                f"folder {folder.name!r} does not start with a 14-digit timestamp",
                file=shown,
                migration=folder.name,
                fix="name Drizzle 1.0 migration folders <YYYYMMDDHHMMSS>_<name>, as drizzle-kit does",
            )
        text, digest = read_sql(sql, shown, folder.name)
        migrations.append(
            Migration(tag=folder.name, when=v1_when(folder.name), path=shown, text=text, hash=digest, mode=STANDARD, name=folder.name)
        )
    return Folder(path, V1, tuple(migrations))
