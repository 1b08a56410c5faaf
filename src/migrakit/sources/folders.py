"""Read migration folders from disk into `Migration` values (the only module here that reads them).

Layouts:
  journal  drizzle-kit 0.x: `<tag>.sql` + `meta/_journal.json`; journal order is authoritative.
  v1       drizzle-kit 1.0: `<YYYYMMDDHHMMSS>_<name>/migration.sql`, sorted by folder name.
Down files (db.rollback) sit beside them: `<tag>.down.sql` (journal), `down.sql` in the migration's folder (v1);
Drizzle's migrator reads neither, and they are never orphans.
"""

from __future__ import annotations

import errno
import functools
import itertools
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from migrakit.core.drizzle.folder import EMPTY as EMPTY
from migrakit.core.drizzle.folder import JOURNAL as JOURNAL
from migrakit.core.drizzle.folder import V1 as V1
from migrakit.core.drizzle.folder import Folder as Folder
from migrakit.core.drizzle.journal import JOURNAL_PATH, journal_warnings, parse_journal
from migrakit.core.drizzle.naming import v1_sorted, v1_when
from migrakit.core.migration import STANDARD, Layout, Migration
from migrakit.core.postgres.statements import BREAKPOINT, keyword_head
from migrakit.core.settings import MAX_FILE_MB, MIB
from migrakit.errors import ConfigError, JournalError
from migrakit.sources.reading import kind_of, not_a_file, read_bytes, read_sql, regular_stat

if TYPE_CHECKING:
    from migrakit.core.settings import Settings

_V1_FOLDER = re.compile(r"^(\d{14})_")


def display_path(path: Path, root: Path | None = None) -> str:
    """`path` relative to `root` (or the working directory) when it is below it, else as given.

    String work only (no resolve() per file): status on 10,000 migrations calls this 10,000 times."""
    full = os.path.abspath(path)
    for base in (root, None):
        prefix = _abs_dir(str(base) if base is not None else os.getcwd())
        if full.startswith(prefix):
            return full[len(prefix):]
    return str(path)


@functools.lru_cache(maxsize=16)
def _abs_dir(base: str) -> str:
    return os.path.join(os.path.abspath(base), "")


def journal_present(path: Path, root: Path | None = None) -> bool:
    """Whether the folder has a journal: False when nothing is at meta/_journal.json; True for a regular file (or
    a symlink to one); ConfigError (exit 2) naming it for anything else (a FIFO, a directory, a symlink loop or
    to nothing), never "no journal"."""
    journal = path / JOURNAL_PATH
    try:
        os.lstat(journal)
    except (FileNotFoundError, NotADirectoryError):
        return False
    shown = display_path(journal, root)
    try:
        regular_stat(journal, shown)
    except IsADirectoryError:
        raise not_a_file(shown, "a directory") from None
    except FileNotFoundError:
        raise not_a_file(shown, "a symlink to nothing") from None
    return True


DOWN_SUFFIX = ".down.sql"  # journal layout: `<tag>.down.sql` beside `<tag>.sql`
V1_DOWN = "down.sql"  # Drizzle 1.0 layout: `down.sql` beside `migration.sql` in the migration's folder


def down_path(folder: Path, m: Migration, layout: Layout) -> Path:
    """Where the down file of Mode 1 migration `m` of `folder` lives (whether or not it exists)."""
    return folder / m.tag / V1_DOWN if layout == V1 else folder / f"{m.tag}{DOWN_SUFFIX}"


def read_down(path: str, shown: str, tag: str, when: int, max_bytes: int = MAX_FILE_MB * MIB) -> Migration:
    """The down file of migration `tag` as a Migration value (its own path, text and hash; the up's tag and when)."""
    text, digest = read_sql(path, shown, tag, max_bytes)
    return Migration(tag=tag, when=when, path=shown, text=text, hash=digest)


def detect_layout(path: Path, root: Path | None = None) -> Layout:
    has_journal = journal_present(path, root)
    with os.scandir(path) as entries:  # scandir: no stat per file (a journal folder holds thousands)
        has_v1 = any(
            _V1_FOLDER.match(e.name) and _entry_is_dir(e) and os.path.lexists(os.path.join(e.path, "migration.sql"))
            for e in entries
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


MIGRATIONS_EXPECTED = (
    "a drizzle-kit folder: meta/_journal.json with <tag>.sql files (drizzle-kit 0.x), "
    "or <YYYYMMDDHHMMSS>_<name>/migration.sql folders (Drizzle 1.0)"
)


def require_folder(path: Path, root: Path | None, *, key: str, origin: str, expected: str, fix: str) -> None:
    """ConfigError unless `path` is an existing folder: names the path, what was expected there, and where the
    setting `key` came from (`origin`), so a typo in a path is exit 2, never "nothing to apply"."""
    if path.is_dir():
        return
    shown = display_path(path, root)
    where = "the default" if origin == "the default" else f"set by {said(origin)}"
    raise ConfigError(
        f"{key} {shown}/ " + ("is a file, not a folder" if path.exists() else "does not exist"),
        cause=f"{key} = {shown!r} ({where}); expected {expected}",
        state="nothing was run (the database was not contacted)",
        fix=fix,
    )


def check_folders(settings: Settings, *, migrations: bool = True, consolidated: bool = True) -> None:
    """Before any connection: the folders a task reads exist, or ConfigError (exit 2) naming the path, what
    belongs there, and the setting and where it came from.

    - migrations_dir must exist (`migrations=False` for tasks that may start a new folder);
    - consolidated_dir: absent is normal at the default place (no Mode 2 file yet); one configured elsewhere must exist;
    - legacy_dir: optional here (after `legacy.retire` the folder is gone by design; rows of its files that no
      folder explains are reported as unknown rows, never passed over); db.bootstrap requires it.
    `consolidated=False` for db.consolidate, which creates a configured consolidated_dir on its first run."""
    if migrations:
        key = "migrations_dir"
        require_folder(
            settings.migrations_dir, settings.root, key=key, origin=settings.origin(key), expected=MIGRATIONS_EXPECTED,
            fix=folder_fix(settings, key, "the folder drizzle-kit writes (`out` in drizzle.config.*)")
            + "; a new project starts its folder with `inv db.generate --custom NAME`",
        )
    key = "consolidated_dir"
    default = settings.root / "migrations-consolidated"
    # configured by the user: pyproject, MIGRAKIT_CONSOLIDATED_DIR or Invoke config (no task has a
    # --consolidated-dir; an override from code, e.g. a shadow run's empty folder, may name a missing one)
    configured = settings.origin(key) not in ("the default", "option --consolidated-dir")
    if consolidated and configured and settings.consolidated_dir != default:
        require_folder(
            settings.consolidated_dir, settings.root, key=key, origin=settings.origin(key),
            expected="Mode 2 files (<YYYYMMDDHHMMSS>_<name>.sql with its .toml manifest) "
            "written by `inv db.consolidate`",
            fix=folder_fix(settings, key, "the folder `inv db.consolidate` wrote"),
        )


def said(origin: str) -> str:
    """A setting's origin as a sentence names it: `--migrations-dir`, `MIGRAKIT_MIGRATIONS_DIR`,
    `pyproject.toml ...`."""
    return origin.removeprefix("option ").removeprefix("environment variable ")


def folder_fix(settings: Settings, key: str, what: str) -> str:
    origin = settings.origin(key)
    option = f"--{key.replace('_', '-')}"
    if origin == "the default":
        return f"point {key} at {what}: set {key} in [tool.migrakit] of pyproject.toml, or pass {option}"
    if origin.startswith("option --"):
        return f"correct {said(origin)} to {what}"
    if origin.startswith("environment variable MIGRAKIT_"):
        return f"correct (or unset) the environment variable {said(origin)}: it should name {what}"
    return f"correct {key} in {origin}: it should name {what}"


def load_folder(path: Path, root: Path | None = None, *, max_bytes: int = MAX_FILE_MB * MIB) -> Folder:
    """Read a Mode 1 folder (either layout). A missing folder is an empty one. `max_bytes`: the largest file read
    (Settings.max_file_bytes)."""
    layout = detect_layout(path, root) if path.exists() else EMPTY
    if layout == JOURNAL:
        return _load_journal_folder(path, root, max_bytes)
    if layout == V1:
        return _load_v1_folder(path, root, max_bytes)
    sql_files = sorted(p.name for p in path.glob("*.sql")) if path.exists() else []
    warnings = (
        (f"{len(sql_files)} .sql file(s) but no meta/_journal.json: Drizzle runs none of them",) if sql_files else ()
    )
    return Folder(path=path, layout=EMPTY, migrations=(), orphans=tuple(sql_files), warnings=warnings)


def _load_journal_folder(path: Path, root: Path | None, max_bytes: int) -> Folder:
    journal_file = path / JOURNAL_PATH
    shown_journal = display_path(journal_file, root)
    try:
        text = read_bytes(journal_file, shown_journal, max_bytes).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JournalError("journal is not valid UTF-8", file=shown_journal, fix="restore it from git") from exc
    journal = parse_journal(text, shown_journal)
    migrations = []
    shown_folder = os.path.join(display_path(path, root), "")  # computed once: string joins per file below
    folder = os.path.join(os.fspath(path), "")  # str paths: no Path object per file (10,000 files in db.status)
    names = _sql_names(path)
    present = set(names)
    for entry in journal.entries:
        tag = entry.tag
        shown = f"{shown_folder}{tag}.sql"
        try:
            sql_text, digest = read_sql(f"{folder}{tag}.sql", shown, tag, max_bytes)
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise JournalError(
                f"journal entry {tag!r} has no file {tag}.sql",
                file=shown_journal,
                migration=tag,
                fix=f"restore {shown} (e.g. from git), or remove the entry if the migration was never shared",
            ) from exc
        down_name = f"{tag}{DOWN_SUFFIX}"
        down = (
            read_down(f"{folder}{down_name}", f"{shown_folder}{down_name}", tag, entry.when, max_bytes)
            if down_name in present
            else None
        )
        migrations.append(Migration(tag=tag, when=entry.when, path=shown, text=sql_text, hash=digest, down=down))
    named = {f"{e.tag}.sql" for e in journal.entries} | {f"{e.tag}{DOWN_SUFFIX}" for e in journal.entries}
    orphans = tuple(sorted(name for name in names if name not in named))
    warnings = journal_warnings(journal) + [
        f"{name} is not in the journal: Drizzle and migrakit ignore it" for name in orphans
    ]
    warnings += content_warnings(migrations)
    return Folder(path, JOURNAL, tuple(migrations), journal, orphans, tuple(warnings))


def _sql_names(path: Path) -> list[str]:
    """The names `path.glob("*.sql")` yields (hidden files and folders named *.sql included, as pathlib's glob
    matches them), from one scandir."""
    with os.scandir(path) as entries:
        return [e.name for e in entries if e.name.endswith(".sql")]


_LEADING_BLANKS = re.compile(r"[ \t\n\r\f\v]*")  # the blanks core.postgres.statements skips before a keyword


def _holds_sql(text: str) -> bool:
    """Whether anything but blanks, comments and breakpoints is left: `keyword_head` on the text without its
    breakpoints. Most files start with a keyword; only those starting with `-` or `/` (a comment, a breakpoint)
    or holding nothing but blanks are scanned (a breakpoint starts with `-`, so removing breakpoints never
    changes a first character that is not one)."""
    start = _LEADING_BLANKS.match(text).end()  # type: ignore[union-attr]
    first = text[start : start + 1]
    if first and first not in "-/" and not first.isspace():  # str.strip() also strips \x1c ... \u3000
        return True
    return bool(keyword_head(text.replace(BREAKPOINT, "")).strip())


def content_warnings(migrations: list[Migration]) -> list[str]:
    """Files Drizzle accepts but a reader should know about: a forgotten `--custom` migration (db.migrate refuses
    it while it is pending), a byte order mark. A file of comments only is a deliberate no-op: no warning."""
    notes: list[str] = []
    for m in migrations:
        if not _holds_sql(m.text) and m.forgotten:
            notes.append(
                f"{m.path} holds no SQL statement: {(m.no_statement or '').removeprefix('no statement: ')}: "
                "db.migrate refuses it while it is pending "
                f"(--allow-empty records {m.tag} as applied without running anything, as Drizzle does); write its "
                "SQL below the header before it is applied anywhere"
            )
        if m.text.startswith("\ufeff"):
            notes.append(
                f"{m.path} starts with a UTF-8 byte order mark: migrakit skips it when running (the hash covers it, "
                "as Drizzle's does), but Drizzle's own migrator fails on it (syntax error at or near \"\\ufeff\"); "
                "save the file without it while it is not applied anywhere yet"
            )
    return notes


def _entry_is_dir(entry: os.DirEntry[str], shown_of: Callable[[str], str] | None = None) -> bool:
    """`entry.is_dir()`, which raises for a symlink loop: False then, or (given `shown_of`, reading a v1 folder)
    ConfigError (exit 2) naming it."""
    try:
        return entry.is_dir()
    except OSError as exc:
        if shown_of is not None and exc.errno == errno.ELOOP:
            raise not_a_file(shown_of(entry.name), "a symlink loop", entry.name) from None
        return False


def _is_file(name: str, path: str, shown_of: Callable[[str], str], file: str = "migration.sql") -> bool:
    """Whether the v1 folder `name` holds its `file` (at `path`): False where nothing (or a folder) is
    there; True for a regular file or a symlink to one; ConfigError (exit 2) for a FIFO, device, socket or
    symlink loop (never skipped in silence). One stat per folder: db.status reads 10,000 of them."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise not_a_file(shown_of(os.path.join(name, file)), "a symlink loop", name) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EBADF):
            return False
        raise
    except ValueError:
        return False
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return stat.S_ISREG(mode)
    raise not_a_file(shown_of(os.path.join(name, file)), kind_of(mode), name)


def _display_under(path: Path, root: Path | None) -> Callable[[str], str]:
    """`display_path(path / rel, root)` for many `rel` under `path`, with the absolute paths computed once."""
    full_dir = os.path.abspath(path)
    prefixes = [_abs_dir(str(base) if base is not None else os.getcwd()) for base in (root, None)]

    def shown(rel: str) -> str:
        full = os.path.join(full_dir, rel)
        for prefix in prefixes:
            if full.startswith(prefix):
                return full[len(prefix) :]
        return str(path / rel)

    return shown


def _load_v1_folder(path: Path, root: Path | None, max_bytes: int) -> Folder:
    # one scandir and str paths (10,000 folders: no Path objects, a stat only for each migration.sql)
    shown_of = _display_under(path, root)
    with os.scandir(path) as entries:
        found = [
            e.name for e in entries
            if _entry_is_dir(e, shown_of) and _is_file(e.name, os.path.join(e.path, "migration.sql"), shown_of)
        ]  # fmt: skip
    folders = v1_sorted(found)
    base = os.fspath(path)
    migrations = []
    for name in folders:
        rel = os.path.join(name, "migration.sql")
        shown = shown_of(rel)
        if not _V1_FOLDER.match(name):
            raise JournalError(
                f"folder {name!r} does not start with a 14-digit timestamp",
                file=shown,
                migration=name,
                fix="name Drizzle 1.0 migration folders <YYYYMMDDHHMMSS>_<name>, as drizzle-kit does",
            )
        text, digest = read_sql(os.path.join(base, rel), shown, name, max_bytes)
        when = v1_when(name)
        down_rel = os.path.join(name, V1_DOWN)
        full_down = os.path.join(base, down_rel)
        has_down = _is_file(name, full_down, shown_of, V1_DOWN)
        down = read_down(full_down, shown_of(down_rel), name, when, max_bytes) if has_down else None
        migrations.append(
            Migration(tag=name, when=when, path=shown, text=text, hash=digest, mode=STANDARD, name=name, down=down)
        )
    warnings = [
        f"{a} and {b} share a timestamp and use non-ASCII characters: Drizzle orders them by the "
        "process locale, migrakit by ICU's root order; give one a later timestamp to make the order certain"
        for a, b in itertools.pairwise(folders)
        if a[:14] == b[:14] and not (a + b).isascii()
    ]
    warnings += content_warnings(migrations)
    return Folder(path, V1, tuple(migrations), warnings=tuple(warnings))
