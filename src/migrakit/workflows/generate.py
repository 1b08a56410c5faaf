"""`db.generate`: write the next Mode 1 migration: empty (`--custom`), from a declarative schema file, or by
delegating to drizzle-kit where the project has a drizzle.config.*.

Files are written the way drizzle-kit writes them: `NNNN_name.sql` (or `<YYYYMMDDHHMMSS>_name.sql` when the
folder uses timestamp prefixes), a journal entry rendered like `JSON.stringify(x, null, 2)`, and, where the
folder keeps snapshots, a copy of the previous snapshot with a new id (as `drizzle-kit generate --custom`).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from . import runner
from ..db import schema_diff as schema, server
from ..core.settings import Settings
from ..errors import ConfigError, ConfirmationRequired, MigrakitError
from ..core.naming import utc_stamp
from ..core.journal import JOURNAL_PATH, Journal, render_journal
from ..sources.folders import JOURNAL, V1, display_path, load_folder, said
from ..core.statements import BREAKPOINT, is_destructive

# drizzle-kit writes this line without a newline, so `echo "SQL;" >> file` would land inside the comment; ours
# ends with one (the line itself is drizzle-kit's, so readers of either tool recognise the file).
CUSTOM_HEADER = "-- Custom SQL migration file, put your code below! --\n"
DRIZZLE_KIT_TIMEOUT = 300  # seconds `drizzle-kit generate` may take (it reads files and prints; no database)
DRIZZLE_CONFIGS = ("drizzle.config.ts", "drizzle.config.js", "drizzle.config.mjs", "drizzle.config.cjs", "drizzle.config.json")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass
class Generated:
    tag: str | None  # None: nothing to write
    files: list[str] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)
    destructive: list[str] = field(default_factory=list)
    note: str = ""


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
        result.note = _join(
            f"created the migrations folder {display_path(settings.migrations_dir, settings.root)}/ "
            f"({key} from {said(settings.origin(key))}): if that is a typo, delete it and fix {key}",
            result.note,
        )
    return result


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _write_migration(settings: Settings, name: str, body: str) -> Generated:
    folder = load_folder(settings.migrations_dir, settings.root)
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
    prefix = lambda t: t.split("_", 1)[0]  # noqa: E731 - drizzle-kit names snapshots by the tag's prefix
    snap = _copy_snapshot(
        out / "meta" / f"{prefix(previous_tag)}_snapshot.json" if previous_tag else None,
        out / "meta" / f"{prefix(tag)}_snapshot.json",
        v1=False,
    )
    return Generated(tag, [str(sql_path), str(out / JOURNAL_PATH), *([snap] if snap else [])])


def custom(settings: Settings, name: str) -> Generated:
    """An empty migration, exactly as `drizzle-kit generate --custom --name NAME` writes it."""
    result = write_migration(settings, name, CUSTOM_HEADER)
    result.note = _join(result.note, "empty custom migration: put your SQL below the header")
    return result


def from_schema_file(settings: Settings, name: str, *, allow_destructive: bool = False) -> Generated:
    """Diff (migrations applied to a shadow database) against (the schema file applied to another) and write
    the statements that turn the first into the second as the next migration."""
    if settings.schema is None:
        raise ConfigError(
            "no schema file configured",
            fix='set [tool.migrakit] schema = "schema.sql" (a declarative schema), or use --custom NAME',
        )
    if not settings.schema.is_file():
        raise ConfigError(f"schema file {settings.schema} does not exist", file=str(settings.schema), fix="create it or fix the path")
    base = server.resolve_target(settings).url
    with server.shadow_database(base) as from_migrations, server.shadow_database(base) as from_schema:
        runner.migrate(  # the first generated migration starts the folder
            settings.with_overrides(database_url=from_migrations), allow_empty=True, require_migrations=False
        )
        text = settings.schema.read_text(encoding="utf-8")
        with server.connect(from_schema, autocommit=True) as conn:
            try:
                conn.execute(text.encode("utf-8"))
            except Exception as exc:
                import psycopg

                if not isinstance(exc, psycopg.Error):
                    raise
                raise MigrakitError(
                    "the schema file does not apply to an empty database",
                    file=str(settings.schema),
                    cause=str(exc).splitlines()[0],
                    fix="fix the schema file so that `psql -f` would run it on an empty database",
                ) from exc
        statements = schema.diff_statements(from_migrations, from_schema)
    if not statements:
        return Generated(None, note="the migrations already produce the schema file's schema: nothing to write")
    destructive = [s for s in statements if is_destructive(s)]
    if destructive and not allow_destructive:
        raise ConfirmationRequired(
            f"the change holds {len(destructive)} destructive statement(s)",
            file=str(settings.schema),
            state="nothing was written",
            fix="review them, then run again with --allow-destructive",
            details=destructive,
        )
    body = f"\n{BREAKPOINT}\n".join(s.rstrip() for s in statements) + "\n"
    result = write_migration(settings, name, body)
    result.statements, result.destructive = statements, destructive
    return result


def find_drizzle_config(root: Path) -> Path | None:
    return next((root / n for n in DRIZZLE_CONFIGS if (root / n).is_file()), None)


def with_drizzle_kit(settings: Settings, name: str | None, config: Path) -> Generated:
    """Run `npx drizzle-kit generate`, then check the new files load, split and plan."""
    before = {m.tag for m in load_folder(settings.migrations_dir, settings.root).migrations}
    cmd = ["npx", "--no-install", "drizzle-kit", "generate", f"--config={config.name}"] + ([f"--name={name}"] if name else [])
    try:  # no terminal: a prompt (drizzle-kit asks about renames) reads end-of-file instead of waiting unseen
        proc = subprocess.run(
            cmd, cwd=settings.root, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=DRIZZLE_KIT_TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        raise MigrakitError(
            f"drizzle-kit generate did not finish within {DRIZZLE_KIT_TIMEOUT} s (stopped)",
            file=str(config),
            cause=_partial_output(exc) or None,
            state="no migration file was checked; drizzle-kit may have written one: look in the migrations folder",
            fix="run `npx drizzle-kit generate` yourself to see what it waits for (a prompt about a rename, "
            "a slow schema import)",
        ) from None
    folder = load_folder(settings.migrations_dir, settings.root)
    new = [m for m in folder.migrations if m.tag not in before]
    # drizzle-kit can print an error (e.g. a TypeScript syntax error in the schema) and still exit 0
    swallowed = not new and re.search(r"\berror\b", proc.stderr, re.IGNORECASE)
    if proc.returncode != 0 or swallowed:
        raise MigrakitError(
            "drizzle-kit generate failed",
            file=str(config),
            cause=(proc.stderr or proc.stdout).strip()[-2000:],
            fix="run `npx drizzle-kit generate` yourself to see its prompt or error (is drizzle-kit installed?)",
        )
    for m in new:
        m.check_runnable()
    return Generated(new[-1].tag if new else None, [m.path for m in new], note="generated by drizzle-kit, checked by migrakit")


def _partial_output(exc: subprocess.TimeoutExpired) -> str:
    out = exc.stderr or exc.stdout or ""
    return (out.decode("utf-8", "replace") if isinstance(out, bytes) else out).strip()[-2000:]


def render_generated(result: Generated, fmt: str = "plain") -> str:
    """Text; JSON is render/json.py's `generated`."""
    if result.tag is None:
        return result.note
    lines = [f"wrote migration {result.tag}"] + [f"  {f}" for f in result.files]
    if result.destructive:
        lines.append("destructive statements (allowed by --allow-destructive):")
        lines += [f"  {s}" for s in result.destructive]
    if result.note:
        lines.append(result.note)
    lines.append("next: review the SQL, then `inv db.migrate`")
    return "\n".join(lines)
