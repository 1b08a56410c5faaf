"""`legacy.retire`: retire a legacy migration system once migrakit has taken over its files. [I/O]

The plan (printed always; acted on only with `yes`):
- **fold**: the legacy files' SQL, byte for byte and in run order, becomes one Mode 2 consolidation in
  `migrations-consolidated/` whose manifest lists every legacy file (tag, created_at, hash) as replaced.
  Fresh databases run it; databases that ran the legacy files (their hashes are tracked, as `db.bootstrap`
  records them) get only its row. So removing the folder loses nothing. Proven before anything changes:
  all migrations plus the fold, without the legacy folder, applied to a shadow database give exactly the
  target's schema.
- **files**: the legacy files and scripts are removed with `git rm`; the fold, the edited build files and
  `docs/legacy-migration-retirement.md` are added with `git add`. Nothing is committed: the staged change
  is one reviewable commit for the user to make.
- **build**: commands in `package.json` scripts and `[tool.migrakit.app]` that call a legacy script call
  `migrakit db.migrate` instead; other tracked files that still name a legacy script are listed.
- **table**: the legacy tracking table is dropped, in the same transaction that records the fold's row.

Preconditions, each checked against the target: every legacy file's hash is in the tracking table,
`db.check` finds no drift, the git working tree is clean.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import psycopg
from psycopg import sql

from .. import __version__
from . import check as drift
from ..db import schema_diff as schema, server, shadow, tracking
from ..sources.legacy import load_legacy
from ..core.settings import Settings
from ..sources.consolidated import render_manifest
from .env_check import Check, check_lines
from ..errors import ConfigError, DriftError, MigrakitError
from ..core.naming import utc_stamp
from ..db.lock import migration_lock
from ..core.migration import CONSOLIDATED, Migration, Replaced, drizzle_hash
from ..sources.folders import V1, load_folder

RECORD = Path("docs") / "legacy-migration-retirement.md"
REPLACEMENT = "migrakit db.migrate"
FOLD_NAME = "retired_legacy"

# outcomes
NOTHING = "nothing-to-retire"
PLANNED = "planned"
RETIRED = "retired"


@dataclass(frozen=True)
class BuildEdit:
    file: str  # relative to the project root
    where: str  # e.g. `scripts.build`
    before: str
    after: str


@dataclass
class RetirePlan:
    target: str
    outcome: str = PLANNED
    legacy: list[Migration] = field(default_factory=list)
    recorded: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # hash -> (row id, created_at)
    scripts: list[str] = field(default_factory=list)  # relative to the project root
    script_hashes: dict[str, str] = field(default_factory=dict)
    table: str | None = None  # "schema"."table" to drop, when it exists
    table_rows: int | None = None
    fold: str | None = None  # consolidated file, relative to the project root
    fold_when: int | None = None
    build_edits: list[BuildEdit] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # "file:line" still naming a legacy script
    checks: list[Check] = field(default_factory=list)
    record: str = str(RECORD)
    head: str | None = None

    @property
    def done(self) -> bool:
        return self.outcome != PLANNED


# ------------------------------------------------------------------------------------------ gathering
def _repo(settings: Settings) -> Any:
    import git

    try:
        return git.Repo(settings.root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise ConfigError(
            f"{settings.root} is not inside a git repository",
            fix="legacy.retire removes files with `git rm` so the change is one reviewable commit: run it in the "
            "project's git checkout",
        ) from exc


def _relative(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def _scripts(settings: Settings) -> list[Path]:
    found: set[Path] = set()
    for pattern in settings.legacy_scripts:
        found.update(p for p in settings.root.glob(pattern) if p.is_file())
    return sorted(found)


def _legacy_table(conn: Any, settings: Settings) -> tuple[str | None, int | None]:
    if not settings.legacy_table:
        return None, None
    schema_name, table = schema.split_table_name(settings.legacy_table)
    if not tracking.table_exists(conn, schema_name, table):
        return None, None
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(tracking.table(schema_name, table))).fetchone()
    return f'"{schema_name}"."{table}"', int(count[0]) if count else 0


def gather(settings: Settings) -> RetirePlan:
    """What is left to retire and whether the preconditions hold. Changes nothing."""
    target = server.resolve_target(settings)
    plan = RetirePlan(target.display)
    plan.legacy = list(load_legacy(settings.legacy_dir, settings.root, required=False))
    scripts = _scripts(settings)
    plan.scripts = [_relative(p, settings.root) for p in scripts]
    plan.script_hashes = {_relative(p, settings.root): drizzle_hash(p.read_bytes()) for p in scripts}
    with server.connect(target.url, autocommit=True) as conn:
        rows = tracking.read_rows(conn, settings.migrations_schema, settings.migrations_table)
        plan.table, plan.table_rows = _legacy_table(conn, settings)
    plan.recorded = {r.hash: (r.id, r.created_at) for r in rows}
    if not (plan.legacy or plan.scripts or plan.table):
        plan.outcome = NOTHING
        return plan

    repo = _repo(settings)
    plan.head = repo.head.commit.hexsha if repo.head.is_valid() else None
    unrecorded = [m for m in plan.legacy if m.hash not in plan.recorded]
    plan.checks.append(
        Check(
            "legacy files ran",
            not unrecorded,
            f"{len(plan.legacy) - len(unrecorded)} of {len(plan.legacy)} legacy file(s) have a tracking row with their hash"
            + (f"; not proven to have run: {', '.join(m.path for m in unrecorded)}" if unrecorded else ""),
            None if not unrecorded else "run `inv db.bootstrap`: it runs each legacy file that has no row and records it "
            "(a legacy runner's own table, or the tables that exist, prove nothing)",
        )
    )
    report = drift.check(settings)
    plan.checks.append(
        Check(
            "no drift (db.check)",
            not report.drifted,
            "the database schema is what the migrations and legacy files produce"
            if not report.drifted
            else f"{len(report.diff.differences)} schema difference(s), {sum(p.blocking for p in report.problems)} tracking problem(s)",
            None if not report.drifted else "run `inv db.check` to see each difference; usually `inv db.bootstrap` "
            "(legacy files that never ran), or put a manual change into a migration",
        )
    )
    dirty = _dirty(repo)
    plan.checks.append(
        Check(
            "working tree clean",
            not dirty,
            "nothing to commit" if not dirty else f"{len(dirty)} changed or untracked path(s): {', '.join(dirty[:5])}",
            None if not dirty else "commit or stash your changes first, so the retirement is one reviewable commit",
        )
    )
    untracked = [p for p in [*(m.path for m in plan.legacy), *plan.scripts] if not _tracked_by_git(repo, settings, p)]
    if untracked:
        plan.checks.append(
            Check("legacy files in git", False, f"not tracked by git: {', '.join(untracked)}",
                  "commit them first: the retirement removes files with `git rm`, so git keeps them")  # fmt: skip
        )
    if plan.legacy:
        plan.fold_when = _fold_when(settings, rows)
        stamp = utc_stamp(plan.fold_when)
        plan.fold = _relative(settings.consolidated_dir, settings.root) + f"/{stamp}_{FOLD_NAME}.sql"
    plan.build_edits = _build_edits(settings, plan.scripts)
    plan.mentions = _mentions(settings, plan)
    return plan


def _dirty(repo: Any) -> list[str]:
    return [line[3:] for line in repo.git.status("--porcelain", "--untracked-files=all").splitlines() if line.strip()]


def _tracked_by_git(repo: Any, settings: Settings, path: str) -> bool:
    return bool(repo.git.ls_files("--", str((settings.root / path).resolve())).strip())


def _fold_when(settings: Settings, rows: Sequence[Any]) -> int:
    """After every journal `when` and every tracked created_at, so fresh databases run the fold after the Mode 1
    migrations (where the legacy files always ran) and Drizzle never skips a later journal migration."""
    folder = load_folder(settings.migrations_dir, settings.root)
    newest = max([m.when for m in folder.migrations] + [r.created_at or 0 for r in rows] + [0])
    return max(int(time.time() * 1000), newest + 1)


# ------------------------------------------------------------------------------------------ build command
_SEPARATORS = re.compile(r"(\s*(?:&&|\|\||;)\s*)")


def switch_command(command: str, scripts: Sequence[str]) -> str:
    """`command` with each `&&`/`||`/`;` segment that runs a legacy script replaced by `migrakit db.migrate`."""
    names = {s for s in scripts} | {Path(s).name for s in scripts}
    parts = _SEPARATORS.split(command)
    for i in range(0, len(parts), 2):
        segment = parts[i]
        if any(re.search(rf"(?:^|[\s/\"'=]){re.escape(n)}(?:$|[\s\"'])", segment) for n in names):
            lead = segment[: len(segment) - len(segment.lstrip())]
            tail = segment[len(segment.rstrip()):]
            parts[i] = f"{lead}{REPLACEMENT}{tail}"
    return "".join(parts)


def _build_edits(settings: Settings, scripts: Sequence[str]) -> list[BuildEdit]:
    if not scripts:
        return []
    edits: list[BuildEdit] = []
    package = settings.root / "package.json"
    if package.is_file():
        try:
            data = json.loads(package.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = {}
        for name, command in (data.get("scripts") or {}).items():
            if isinstance(command, str) and (new := switch_command(command, scripts)) != command:
                edits.append(BuildEdit("package.json", f"scripts.{name}", command, new))
    pyproject = settings.root / "pyproject.toml"
    if pyproject.is_file():
        app = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("migrakit", {}).get("app", {})
        for name, command in app.items():
            if isinstance(command, str) and (new := switch_command(command, scripts)) != command:
                edits.append(BuildEdit("pyproject.toml", f"[tool.migrakit.app] {name}", command, new))
    return edits


def _apply_build_edit(root: Path, edit: BuildEdit) -> bool:
    """Replace the command's text in place (the rest of the file byte for byte); False when it is not found
    verbatim (escaped in the file): then it is left for the user, and listed."""
    path = root / edit.file
    text = path.read_text(encoding="utf-8")
    quoted_before, quoted_after = json.dumps(edit.before, ensure_ascii=False), json.dumps(edit.after, ensure_ascii=False)
    if quoted_before in text:
        path.write_text(text.replace(quoted_before, quoted_after, 1), encoding="utf-8")
        return True
    return False


def _mentions(settings: Settings, plan: RetirePlan) -> list[str]:
    """Tracked files (other than the ones removed or switched) that still name a legacy script."""
    import git

    names = sorted({Path(s).name for s in plan.scripts})
    if not names:
        return []
    skip = set(plan.scripts) | {e.file for e in plan.build_edits}
    out: list[str] = []
    for name in names:
        try:
            hits = git.Git(str(settings.root)).grep("-n", "-F", "-I", "-e", name, "--", ".").splitlines()
        except git.GitCommandError:  # git grep exits 1 when nothing matches
            continue
        out += [h.split(":", 2)[0] + ":" + h.split(":", 2)[1] for h in hits if h.split(":", 1)[0] not in skip]
    return sorted(set(out))


# ------------------------------------------------------------------------------------------ acting
def fold_text(legacy: Sequence[Migration]) -> str:
    """The legacy files in run order, each under a header naming it and its hash, bytes unchanged."""
    parts = [
        "-- migrakit: the retired legacy folder, file by file in the order they ran. Runs as one transaction on a\n"
        "-- fresh database; a database that ran every file below (their hashes are tracked) only records it.\n"
    ]
    for m in legacy:
        body = m.text if m.text.endswith("\n") else m.text + "\n"
        parts.append(f"\n-- legacy file {m.path} (sha256 {m.hash})\n{body}")
    return "".join(parts)


def retire(settings: Settings, *, yes: bool = False) -> RetirePlan:
    """Print the plan; with `yes`, and only when every precondition holds, retire the legacy system."""
    plan = gather(settings)
    if plan.outcome == NOTHING:
        return plan
    failed = [c for c in plan.checks if not c.ok]
    if failed:
        error = DriftError if any(c.name != "working tree clean" for c in failed) else MigrakitError
        raise error(
            f"cannot retire the legacy system: {len(failed)} precondition(s) failed ({', '.join(c.name for c in failed)})",
            state="nothing was changed",
            fix=failed[0].fix,
            details=check_lines(plan.checks),
        )
    fold_file = _fold_files(settings, plan)
    _prove_fold(settings, plan, fold_file)
    if not yes:
        return plan
    _act(settings, plan, fold_file)
    plan.outcome = RETIRED
    return plan


def _fold_files(settings: Settings, plan: RetirePlan) -> tuple[str, str] | None:
    """(sql text, manifest text) of the fold, or None when there are no legacy files."""
    if not plan.legacy or plan.fold is None or plan.fold_when is None:
        return None
    text = fold_text(plan.legacy)
    replaces = [Replaced(tag=m.tag, when=m.when, hash=m.hash) for m in plan.legacy]
    manifest = render_manifest(Path(plan.fold).name, plan.fold_when, drizzle_hash(text.encode("utf-8")), replaces)
    return text, manifest


def _prove_fold(settings: Settings, plan: RetirePlan, fold: tuple[str, str] | None) -> None:
    """All migrations plus the fold, without the legacy folder, on a shadow database == the target's schema."""
    if fold is None:
        return
    target = server.resolve_target(settings)
    with tempfile.TemporaryDirectory(prefix="migrakit-retire-") as tmp:
        consolidated = Path(tmp) / "consolidated"
        if settings.consolidated_dir.is_dir():
            shutil.copytree(settings.consolidated_dir, consolidated)
        consolidated.mkdir(exist_ok=True)
        _write_fold(consolidated, plan, fold)
        after = settings.with_overrides(consolidated_dir=str(consolidated))
        after = after.with_overrides(legacy_dir=str(Path(tmp) / "no-legacy"))
        with shadow.shadow(settings) as url:
            shadow.build(after, url)
            diff = schema.compare(url, target.url, ignore_tables=drift.ignored_tables(settings))
    plan.checks.append(
        Check("fold reproduces the schema", diff.equal,
              "all migrations plus the fold, without the legacy folder, give exactly this database's schema"
              if diff.equal else f"{len(diff.differences)} difference(s) without the legacy folder")  # fmt: skip
    )
    if not diff.equal:
        raise DriftError(
            "cannot retire the legacy system: without the legacy folder, the migrations plus the fold would not "
            "give this database's schema",
            file=plan.fold,
            state="nothing was changed",
            fix="the differences below would be lost for fresh databases; this usually means migrakit cannot yet run "
            "consolidated files here. Report it; keep the legacy folder meanwhile",
            details=[line for d in diff.differences for line in schema.render_difference(d)],
        )


def _write_fold(folder: Path, plan: RetirePlan, fold: tuple[str, str]) -> list[Path]:
    assert plan.fold is not None
    sql_path = folder / Path(plan.fold).name
    toml_path = sql_path.with_suffix(".toml")
    folder.mkdir(parents=True, exist_ok=True)
    sql_path.write_bytes(fold[0].encode("utf-8"))
    toml_path.write_text(fold[1], encoding="utf-8")
    return [sql_path, toml_path]


def _act(settings: Settings, plan: RetirePlan, fold: tuple[str, str] | None) -> None:
    """Files first (undone from git if anything fails: the tree was clean), then the database in one transaction."""
    repo = _repo(settings)
    root = settings.root
    added: list[Path] = []
    edited: list[str] = []
    removed = [*(m.path for m in plan.legacy), *plan.scripts]
    new_dirs = [d for d in (settings.consolidated_dir, (root / RECORD).parent) if not d.exists()]
    try:
        if fold is not None:
            added += _write_fold(settings.consolidated_dir, plan, fold)
        for edit in plan.build_edits:
            if _apply_build_edit(root, edit):
                edited.append(edit.file)
            else:
                plan.mentions.append(f"{edit.file} ({edit.where}: edit by hand, the command is escaped in the file)")
        record = root / RECORD
        new_record = not record.exists()
        record.parent.mkdir(parents=True, exist_ok=True)
        with record.open("a", encoding="utf-8") as out:
            out.write(render_record(plan, new_file=new_record))
        if new_record:
            added.append(record)
        else:
            edited.append(_relative(record, root))
        if removed:  # absolute paths: the project may sit below the repository's top folder
            repo.git.rm("-q", "--", *[str(root / p) for p in removed])
        repo.git.add("--", *[str(p) for p in added], *[str(root / e) for e in edited])
        _retire_in_database(settings, plan, fold)
    except BaseException:
        _undo(repo, root, added, edited, removed)
        for d in new_dirs:
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        raise


def _undo(repo: Any, root: Path, added: list[Path], edited: list[str], removed: list[str]) -> None:
    """Put the files back as HEAD has them (the tree was clean before): unstage, restore, delete new files."""
    paths = [str(p) for p in added if p.exists()] + [str(root / p) for p in edited + removed]
    if paths:
        repo.git.reset("-q", "HEAD", "--", *paths)
    restore = [str(root / p) for p in edited + removed]
    if restore:
        repo.git.checkout("HEAD", "--", *restore)
    for p in added:
        p.unlink(missing_ok=True)


def _retire_in_database(settings: Settings, plan: RetirePlan, fold: tuple[str, str] | None) -> None:
    """One transaction: the fold's tracking row (its replaced files are proven run by hash) and DROP TABLE."""
    try:
        _record_and_drop(settings, plan, fold, server.resolve_target(settings).url)
    except psycopg.Error as exc:
        raise MigrakitError(
            "cannot retire the legacy system: the database step failed",
            cause=f"{exc.diag.message_primary or str(exc).splitlines()[0]} ({exc.diag.sqlstate})",
            state="nothing was changed: the database transaction was rolled back and every file was put back",
            fix="resolve the cause (e.g. drop what still depends on the legacy table), then run `inv legacy.retire` again",
            details=[f"detail: {exc.diag.message_detail}"] if exc.diag.message_detail else [],
        ) from exc


def _record_and_drop(settings: Settings, plan: RetirePlan, fold: tuple[str, str] | None, url: str) -> None:
    schema_name, table = settings.migrations_schema, settings.migrations_table
    v1 = load_folder(settings.migrations_dir, settings.root).layout == V1
    with server.connect(url, autocommit=True) as conn:
        # one migrator at a time: a deploy must not race the retirement
        with migration_lock(conn, schema_name, table, timeout=settings.lock_wait_timeout):
            if fold is not None:
                tracking.ensure_table(conn, schema_name, table, v1=v1)
            with conn.transaction():
                if fold is not None and plan.fold is not None and plan.fold_when is not None:
                    stem = Path(plan.fold).stem
                    digest = drizzle_hash(fold[0].encode("utf-8"))
                    row = Migration(tag=stem, when=plan.fold_when, path=plan.fold, text=fold[0], hash=digest, mode=CONSOLIDATED)
                    conn.execute(tracking.insert_sql(schema_name, table, v1=v1), tracking.insert_params(row, v1=v1))
                if plan.table:
                    s, t = schema.split_table_name(settings.legacy_table)
                    conn.execute(sql.SQL("DROP TABLE {}").format(tracking.table(s, t)))


# ------------------------------------------------------------------------------------------ output
def render_record(plan: RetirePlan, *, new_file: bool) -> str:
    """The section written to docs/legacy-migration-retirement.md."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = ["# Legacy migration retirement", ""] if new_file else [""]
    lines += [
        f"## Retired on {now}",
        "",
        f"By `inv legacy.retire --yes` (migrakit {__version__}) against {plan.target}"
        + (f", from commit {plan.head[:12]}." if plan.head else "."),
        "",
        "**Why.** Two migration systems owned one schema, and the legacy runner's own table could say a file was "
        "applied when it never ran. migrakit now runs and tracks every migration in Drizzle's tracking table, "
        "where a row exists only after its SQL ran. Before retiring, each file below was proven run (a tracking "
        "row carries its sha256) and `db.check` found no drift, so the legacy runner is no longer needed.",
        "",
    ]
    if plan.legacy:
        lines += [
            f"**Legacy files** (removed; their SQL lives on byte for byte in `{plan.fold}`, which fresh databases "
            "run and databases that ran these files only record):",
            "",
            "| file | sha256 | tracking row id | created_at |",
            "|---|---|---|---|",
        ]
        for m in plan.legacy:
            row_id, created = plan.recorded.get(m.hash, (None, None))
            lines.append(f"| `{m.path}` | `{m.hash}` | {row_id} | {created} |")
        lines.append("")
    if plan.scripts:
        lines += ["**Legacy scripts** (removed):", ""]
        lines += [f"- `{s}` (sha256 `{plan.script_hashes.get(s, '?')}`)" for s in plan.scripts]
        lines.append("")
    if plan.table:
        lines += [f"**Legacy tracking table** `{plan.table}` ({plan.table_rows} row(s)) dropped.", ""]
    if plan.build_edits:
        lines += ["**Build command** switched to migrakit:", ""]
        lines += [f"- `{e.file}` {e.where}: `{e.before}` -> `{e.after}`" for e in plan.build_edits]
        lines.append("")
    lines += ["**Checks:**", ""] + [f"- {c.name}: {c.found}" for c in plan.checks] + [""]
    return "\n".join(lines)


def render_retire(plan: RetirePlan, fmt: str = "plain") -> str:
    """Text; JSON is render/json.py's `retire`."""
    lines = [f"database: {plan.target}"]
    if plan.outcome == NOTHING:
        lines.append("nothing left to retire: no legacy files, no legacy scripts, no legacy tracking table")
        return "\n".join(lines)
    verb = "removed" if plan.outcome == RETIRED else "will remove"
    if plan.legacy:
        lines.append(f"{'folded' if plan.outcome == RETIRED else 'will fold'} {len(plan.legacy)} legacy file(s) into {plan.fold} "
                     "(Mode 2; databases that ran them only record it)")  # fmt: skip
    for m in plan.legacy:
        lines.append(f"  {verb} (git rm) {m.path}  sha256 {m.hash[:16]}")
    for s in plan.scripts:
        lines.append(f"  {verb} (git rm) {s}")
    if plan.table:
        lines.append(f"{'dropped' if plan.outcome == RETIRED else 'will drop'} table {plan.table} ({plan.table_rows} row(s))")
    for e in plan.build_edits:
        lines.append(f"{'switched' if plan.outcome == RETIRED else 'will switch'} {e.file} {e.where}: {e.before!r} -> {e.after!r}")
    if not plan.build_edits:
        lines.append("build command: no package.json script or [tool.migrakit.app] command calls a legacy script")
    lines += [f"still names a legacy script (edit it before committing): {m}" for m in plan.mentions]
    lines.append("checks:")
    lines += [f"  {line}" for line in check_lines(plan.checks)]
    if plan.outcome == RETIRED:
        lines.append(f"wrote {plan.record}; the change is staged, not committed: review `git diff --cached`, then")
        lines.append("  git commit -m 'Retire the legacy migration system'")
    else:
        lines.append(f"nothing was changed: run again with --yes to retire (and write {plan.record})")
    return "\n".join(lines)
