"""Writing the next Mode 1 migration into the folder, as drizzle-kit writes it: `NNNN_name.sql` (or
`<YYYYMMDDHHMMSS>_name.sql` when the folder uses timestamp prefixes), a journal entry rendered like
`JSON.stringify(x, null, 2)`, and, where the folder keeps snapshots, a copy of the previous snapshot with a new
id (as `drizzle-kit generate --custom`); or a Drizzle 1.0 folder. db.generate and db.baseline write with it."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

from migrakit.core.drizzle.journal import JOURNAL_PATH, Journal, render_journal
from migrakit.core.drizzle.naming import snapshot_name, utc_stamp
from migrakit.core.reports.write import Generated
from migrakit.core.settings import Settings
from migrakit.errors import ConfigError, MigrakitError
from migrakit.sources.folders import JOURNAL, V1, display_path, load_folder, said

_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(
            f"migration name {name!r} may only hold letters, digits and underscores",
            fix="pick a name like add_orders_table",
        )


def _next_when(journal: Journal | None, now_ms: int) -> int:
    """Now, but always after the newest `when`, so Drizzle's migrator never skips the new migration."""
    newest = max((e.when for e in journal.entries), default=0) if journal else 0
    return max(now_ms, newest + 1)


def _next_tag(journal: Journal, name: str, when: int) -> str:
    last = journal.entries[-1].tag if journal.entries else ""
    if re.match(r"^\d{14}_", last):
        return utc_stamp(when) + f"_{name}"
    idx = journal.entries[-1].idx + 1 if journal.entries else 0
    return f"{idx:04d}_{name}"


def _copy_snapshot(previous: Path | None, target: Path, v1: bool) -> str | None:
    """Write `target` as a copy of `previous` with a fresh id chained to it (drizzle-kit's custom migrations)."""
    if previous is None or not previous.is_file():
        return None
    data = json.loads(previous.read_text(encoding="utf-8"))
    old_id = data.get("id")
    data["id"] = str(uuid.uuid4())
    if v1:
        data["prevIds"] = [old_id] if old_id else []
    else:
        data["prevId"] = old_id
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return str(target)


def write_migration(settings: Settings, name: str, body: str) -> Generated:
    """Append one migration with `body` to the Mode 1 folder, journal (or v1 folder) and snapshot included.
    A missing folder is created, as drizzle-kit creates its `out`, and the result says so (a mistyped
    --migrations-dir then shows at once, before anything is applied)."""
    _check_name(name)
    existed = settings.migrations_dir.is_dir()
    result = _write_migration(settings, name, body)
    if not existed:
        key = "migrations_dir"
        result.note = join_notes(
            f"created the migrations folder {display_path(settings.migrations_dir, settings.root)}/ "
            f"({key} from {said(settings.origin(key))}): if that is a typo, delete it and fix {key}",
            result.note,
        )
    return result


def join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _write_migration(settings: Settings, name: str, body: str) -> Generated:
    folder = load_folder(settings.migrations_dir, settings.root, max_bytes=settings.max_file_bytes)
    now_ms = int(time.time() * 1000)
    out = settings.migrations_dir
    if folder.layout == V1:
        when = max(now_ms, max((m.when for m in folder.migrations), default=0) + 1000)
        tag = utc_stamp(when) + f"_{name}"
        (out / tag).mkdir(parents=True)
        (out / tag / "migration.sql").write_text(body, encoding="utf-8")
        previous = out / folder.migrations[-1].tag / "snapshot.json" if folder.migrations else None
        snap = _copy_snapshot(previous, out / tag / "snapshot.json", v1=True)
        return Generated(tag, [str(out / tag / "migration.sql"), *([snap] if snap else [])])

    journal = folder.journal if folder.layout == JOURNAL else Journal()
    assert journal is not None
    when = _next_when(journal, now_ms)
    tag = _next_tag(journal, name, when)
    sql_path = out / f"{tag}.sql"
    if sql_path.exists():
        raise MigrakitError(f"{sql_path.name} already exists", file=str(sql_path), fix="pick another name")
    previous_tag = journal.entries[-1].tag if journal.entries else None
    new_journal = journal.with_entry(tag, when)
    (out / "meta").mkdir(parents=True, exist_ok=True)
    sql_path.write_text(body, encoding="utf-8")
    (out / JOURNAL_PATH).write_text(render_journal(new_journal), encoding="utf-8")
    snap = _copy_snapshot(
        out / "meta" / snapshot_name(previous_tag) if previous_tag else None,
        out / "meta" / snapshot_name(tag),
        v1=False,
    )
    return Generated(tag, [str(sql_path), str(out / JOURNAL_PATH), *([snap] if snap else [])])
