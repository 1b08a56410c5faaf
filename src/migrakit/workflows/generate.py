"""`db.generate`: write the next Mode 1 migration: empty (`--custom`), from a declarative schema file, or by
delegating to drizzle-kit where the project has a drizzle.config.*.

Files are written the way drizzle-kit writes them (sources/writer.py).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from migrakit.core import migration
from migrakit.core.postgres.statements import is_destructive
from migrakit.core.reports.write import Generated
from migrakit.core.rollback import custom_down_text
from migrakit.core.settings import Settings
from migrakit.db.connect import answer, server, session
from migrakit.db.inspect import schema_diff as schema
from migrakit.errors import ConfigError, ConfirmationRequired, MigrakitError
from migrakit.sources.folders import down_path, load_folder
from migrakit.sources.load import load_sources
from migrakit.sources.writer import join_notes, write_migration
from migrakit.workflows.steps import safe_write, shadow_build
from migrakit.workflows.steps.options import target_options

# drizzle-kit writes this line without a newline, so `echo "SQL;" >> file` would land inside the comment; ours
# ends with one (the line itself is drizzle-kit's, so readers of either tool recognise the file).
CUSTOM_HEADER = migration.CUSTOM_HEADER + "\n"  # what a --custom migration holds until its SQL is written
DRIZZLE_KIT_TIMEOUT = 300  # seconds `drizzle-kit generate` may take (it reads files and prints; no database)
DRIZZLE_CONFIGS = (
    "drizzle.config.ts", "drizzle.config.js", "drizzle.config.mjs", "drizzle.config.cjs", "drizzle.config.json"
)


def custom(settings: Settings, name: str) -> Generated:
    """An empty migration, exactly as `drizzle-kit generate --custom --name NAME` writes it, and beside it an
    empty down file with a note to fill it (db.rollback refuses a down that holds no statement)."""
    result = write_migration(settings, name, CUSTOM_HEADER)
    result.tags = [result.tag] if result.tag else []
    result.note = join_notes(result.note, "empty custom migration: put your SQL below the header")
    if result.tag is not None:
        folder = load_folder(settings.migrations_dir, settings.root, max_bytes=settings.max_file_bytes)
        m = next(m for m in folder.migrations if m.tag == result.tag)
        path = down_path(folder.path, m, folder.layout)
        path.write_text(custom_down_text(m.tag), encoding="utf-8")
        result.files.append(str(path))
        result.note = join_notes(result.note, "and the SQL that undoes it in its down file (db.rollback runs it)")
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
        raise ConfigError(
            f"schema file {settings.schema} does not exist", file=str(settings.schema), fix="create it or fix the path"
        )
    base = session.resolve_target(target_options(settings)).url
    with server.shadow_database(base) as from_migrations, server.shadow_database(base) as from_schema:
        # the migrations as db.migrate runs them (the first generated migration starts the folder)
        on_shadow = settings.with_overrides(database_url=from_migrations)
        shadow_build.replay(on_shadow, load_sources(on_shadow, require_migrations=False), legacy=False)
        text = settings.schema.read_text(encoding="utf-8")
        with server.connect(from_schema, autocommit=True) as conn:
            try:
                conn.execute(text.encode("utf-8"))
            except Exception as exc:
                import psycopg

                if not isinstance(exc, psycopg.Error) or isinstance(exc, answer.NoAnswer):  # a silent server: exit 6
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
    result = write_safe_sequence(settings, name, statements, destructive)
    if result.tags:
        _write_downs(settings, result)
    return result


def _write_downs(settings: Settings, result: Generated) -> None:
    """The down file of each migration just written (one, or each piece of the safe sequence), computed and proven
    on shadows as db.generate-down does; a down the shadow does not prove is not written and the note says so."""
    from migrakit.workflows.steps.down_proof import compute_downs

    src = load_sources(settings)
    wanted = [m for m in src.migrations if m.tag in result.tags]
    # the shadows on the server db.generate's own shadows used (the target's), unless a shadow server is set
    on = settings.with_overrides(shadow_url=settings.shadow_url or session.resolve_target(target_options(settings)).url)
    for down in compute_downs(on, src, wanted):
        if not down.proven:
            result.note = join_notes(
                result.note, f"no down file for {down.migration.tag}: the computed one was not proven on a shadow "
                f"({'; '.join(down.difference)}); write it by hand, then check it with `inv db.rollback --dry-run`",
            )  # fmt: skip
            continue
        path = down_path(src.folder.path, down.migration, src.folder.layout)
        path.write_bytes(down.text.encode("utf-8"))
        result.files.append(str(path))


def write_safe_sequence(settings: Settings, name: str, statements: list[str], destructive: list[str]) -> Generated:
    """Write `statements` as their lock-safe sequence (workflows/steps/safe_write.py: one migration, or several
    where a step cannot share a transaction), each linted on a shadow database before anything is written; the
    findings are in the result."""
    planned = safe_write.pieces(name, statements)
    src = load_sources(settings, require_migrations=False)
    drafts = safe_write.drafts(planned)
    findings = safe_write.lint(settings, src, list(src.migrations), drafts, [d.path for d in drafts])
    written = [write_migration(settings, n, b) for n, b in zip(planned.names, planned.bodies, strict=True)]
    for d, w in zip(drafts, written, strict=True):
        findings = [line.replace(f"{d.path}:", f"{w.files[0]}:") for line in findings]
    return Generated(
        written[-1].tag,
        [f for w in written for f in w.files],
        statements=statements,
        destructive=destructive,
        note=join_notes(*(w.note for w in written)),
        tags=[w.tag for w in written if w.tag],
        lint=findings,
        fixes=planned.fixes,
    )


def find_drizzle_config(root: Path) -> Path | None:
    return next((root / n for n in DRIZZLE_CONFIGS if (root / n).is_file()), None)


def with_drizzle_kit(settings: Settings, name: str | None, config: Path) -> Generated:
    """Run `npx drizzle-kit generate`, then check the new files load, split and plan."""
    folder = load_folder(settings.migrations_dir, settings.root, max_bytes=settings.max_file_bytes)
    before = {m.tag for m in folder.migrations}
    cmd = ["npx", "--no-install", "drizzle-kit", "generate", f"--config={config.name}"] + (
        [f"--name={name}"] if name else []
    )
    try:  # no terminal: a prompt (drizzle-kit asks about renames) reads end-of-file instead of waiting unseen
        proc = subprocess.run(
            cmd,
            cwd=settings.root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=DRIZZLE_KIT_TIMEOUT,
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
    folder = load_folder(settings.migrations_dir, settings.root, max_bytes=settings.max_file_bytes)
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
    return Generated(
        new[-1].tag if new else None, [m.path for m in new], note="generated by drizzle-kit, checked by migrakit",
        tags=[m.tag for m in new],
    )


def _partial_output(exc: subprocess.TimeoutExpired) -> str:
    out = exc.stderr or exc.stdout or ""
    return (out.decode("utf-8", "replace") if isinstance(out, bytes) else out).strip()[-2000:]
