"""`db.consolidate`: fold a run of Mode 1 migrations into one Mode 2 file, proven equivalent first.

`plan_consolidation` is pure: it decides the consolidated file's text, its manifest, the journal without
the replaced entries and which files go. `consolidate` does the I/O: it picks the migrations (the branch's
new ones, or `--from`/`--to`), and with `yes` proves on two fresh shadow databases that the originals and
the consolidated file give the same schema, then writes. Without `yes` it changes nothing.

Rules (also in docs/MIGRATION_GUIDE.md):
- The consolidation's `when` is the newest `when` of the migrations it replaces, so after it ran the newest
  created_at in the tracking table is what it would be after the originals: Drizzle's decision for every
  later journal entry is unchanged. It sorts right before the first Mode 1 migration whose `when` is later.
- Its file name is `<YYYYMMDDHHMMSS of when, UTC>_<name>.sql` (+ `.toml`), in the consolidated folder.
- drizzle-kit snapshots: the replaced migrations' snapshots are deleted; when the latest snapshot (by file
  name, which is how drizzle-kit picks the one to diff against) belonged to a replaced migration, it is kept
  under the snapshot name of the journal's new last entry, so `drizzle-kit generate` still diffs against
  the current schema and its next snapshot sorts after it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from migrakit.core.drizzle.journal import JOURNAL_PATH, Journal, render_journal
from migrakit.core.drizzle.naming import snapshot_name as snapshot_name
from migrakit.core.drizzle.naming import utc_stamp
from migrakit.core.migration import CONSOLIDATED, Migration, Replaced, drizzle_hash
from migrakit.core.plan.planner import order_sequence
from migrakit.core.reports.write import ConsolidationPlan, ConsolidationReport
from migrakit.core.settings import Settings
from migrakit.db import tracking
from migrakit.db.connect import server, session
from migrakit.db.inspect import schema_diff as schema
from migrakit.db.run.executor import Executor
from migrakit.errors import ConfigError, JournalError, MigrakitError
from migrakit.sources.consolidated import load_consolidated, render_manifest
from migrakit.sources.folders import JOURNAL, Folder, check_folders, display_path, down_path, load_folder
from migrakit.workflows.steps.options import executor_options, target_options

DEFAULT_NAME = "consolidated"


class NotEquivalent(MigrakitError):
    """The consolidated file does not give the schema the originals give."""

    kind = "not-equivalent"


# ------------------------------------------------------------------------------------------------ pure
def stamp(when: int) -> str:
    """`when` (epoch ms) as UTC YYYYMMDDHHMMSS."""
    return utc_stamp(when)


def _statement_sql(text: str) -> str:
    """One statement, terminated. The `;` goes on its own line when the last line holds `--` (a comment)."""
    body = text.strip()
    return body + ("\n;" if "--" in body.rsplit("\n", 1)[-1] else ";")


def consolidated_text(stem: str, replaced: Sequence[Migration]) -> str:
    """Each original migration's statements, in order, under a header naming its tag and hash."""
    out = [
        f"-- migrakit consolidated migration {stem}: Mode 2, the whole file runs in one transaction.",
        f"-- It replaces {len(replaced)} Mode 1 migration(s), {replaced[0].tag} to {replaced[-1].tag} "
        f"(see {stem}.toml).",
        "",
    ]
    for m in replaced:
        out.append(f"-- >>> {m.tag} (sha256 {m.hash})")
        out.extend(_statement_sql(s.text) for s in m.statements)
        out.append("")
    return "\n".join(out)


def select_range(folder: Folder, from_tag: str | None, to_tag: str | None) -> tuple[str, ...]:
    """Tags from `from_tag` to `to_tag` inclusive, in journal order (missing ends: the journal's ends)."""
    tags = [m.tag for m in folder.migrations]
    for t in (from_tag, to_tag):
        if t is not None and t not in tags:
            raise JournalError(
                f"{t} is not in the journal",
                file=display_path(folder.path / JOURNAL_PATH),
                fix="name journal tags as `inv db.status` lists them",
            )
    start = tags.index(from_tag) if from_tag else 0
    end = tags.index(to_tag) if to_tag else len(tags) - 1
    if start > end:
        raise ConfigError(f"--from {from_tag} comes after --to {to_tag} in the journal", fix="swap them")
    return tuple(tags[start : end + 1])


def plan_consolidation(
    folder: Folder,
    tags: Sequence[str],
    *,
    consolidated_dir: Path,
    name: str = DEFAULT_NAME,
    selection: str = "",
    snapshots: Sequence[str] = (),
    existing: Sequence[str] = (),
) -> ConsolidationPlan:
    """Decide everything `db.consolidate --yes` writes and removes. Pure: `snapshots` are the file names in
    meta/ and `existing` the stems already in the consolidated folder."""
    if folder.layout != JOURNAL or folder.journal is None:
        raise ConfigError(
            f"{folder.path.name}/ is not a drizzle-kit journal folder (layout: {folder.layout})",
            fix="db.consolidate works on drizzle-kit 0.x folders (meta/_journal.json)",
        )
    if not tags:
        raise ConfigError(
            f"no migrations to consolidate ({selection or 'empty selection'})", fix="pick some with --from/--to"
        )
    order = [m.tag for m in folder.migrations]
    positions = sorted(order.index(t) for t in tags)
    if positions != list(range(positions[0], positions[0] + len(positions))):
        raise ConfigError(
            f"the migrations to consolidate are not one unbroken run of the journal ({', '.join(tags)})",
            fix="other migrations sit between them (e.g. merged from the base branch); choose a run with --from/--to",
        )
    replaced = tuple(folder.migrations[p] for p in positions)
    outside = next((m for m in replaced if m.runs_outside_transaction), None)
    if outside is not None:
        raise MigrakitError(
            f"{outside.tag} must run outside a transaction (its own BEGIN/COMMIT, or CREATE INDEX CONCURRENTLY), "
            "so it cannot be part of a consolidation",
            file=outside.path,
            migration=outside.tag,
            state="nothing was written",
            fix="consolidate the runs before and after it separately (--from/--to) and keep it as a Mode 1 migration",
        )
    when = max(m.when for m in replaced)
    stem = f"{stamp(when)}_{name}"
    if stem in existing:
        raise ConfigError(f"{consolidated_dir.name}/{stem}.sql already exists", fix="pick another --name")
    text = consolidated_text(stem, replaced)
    sql_path = consolidated_dir / f"{stem}.sql"
    manifest = render_manifest(
        sql_path.name, when, drizzle_hash(text.encode("utf-8")), [Replaced(m.tag, m.when, m.hash) for m in replaced]
    )
    # one transaction must hold it all: no BEGIN/COMMIT, no CREATE INDEX CONCURRENTLY
    # (raises before anything is written)
    Migration(tag=stem, when=when, path=str(sql_path), text=text, hash="", mode=CONSOLIDATED).check_runnable()

    journal: Journal = folder.journal.without(set(tags))
    meta = folder.path / "meta"
    remaining_snaps = {snapshot_name(e.tag) for e in journal.entries}
    gone = [
        s for s in dict.fromkeys(snapshot_name(m.tag) for m in replaced) if s in snapshots and s not in remaining_snaps
    ]
    notes = [f"no snapshot for {m.tag} in meta/" for m in replaced if snapshot_name(m.tag) not in snapshots]
    move = None
    latest = sorted(snapshots)[-1] if snapshots else None
    if latest is not None and latest in gone:
        keep_as = snapshot_name(journal.entries[-1].tag) if journal.entries else snapshot_name(replaced[0].tag)
        gone.remove(latest)
        move = (meta / latest, meta / keep_as)
        notes.append(
            f"the latest snapshot {latest} is kept as {keep_as}"
            + (" (replacing that file)" if keep_as in snapshots else "")
            + ": drizzle-kit generate diffs against it, and its next snapshot sorts after it"
        )
    if downs := [m.tag for m in replaced if m.down is not None]:
        notes.append(
            f"the down files of {', '.join(downs)} go with them: db.rollback does not undo a consolidation "
            "(one tracking row stands for all of them); roll back to a migration after it"
        )
    notes.append(
        "consolidate only migrations no shared database (staging, production) has run in part: a database that ran "
        "all of them records the consolidation without running it, one that ran only some refuses it"
    )
    return ConsolidationPlan(
        stem=stem,
        when=when,
        selection=selection,
        replaced=replaced,
        sql_path=sql_path,
        sql_text=text,
        manifest_path=consolidated_dir / f"{stem}.toml",
        manifest_text=manifest,
        journal_path=folder.path / JOURNAL_PATH,
        journal_text=render_journal(journal),
        delete=tuple(folder.path / f"{m.tag}.sql" for m in replaced)
        + tuple(down_path(folder.path, m, JOURNAL) for m in replaced if m.down is not None)
        + tuple(meta / s for s in gone),
        snapshot_move=move,
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------------------------------ I/O
def _apply(settings: Settings, url: str, migrations: Sequence[Migration]) -> None:
    """Run `migrations` on the empty database at `url`, tracked as db.migrate tracks them."""
    with server.connect(url, autocommit=True) as conn:
        tracking.ensure_table(conn, settings.migrations_schema, settings.migrations_table)
        Executor(conn, executor_options(settings, v1=False)).apply(migrations)


def prove_equivalent(settings: Settings, before: Sequence[Migration], plan: ConsolidationPlan) -> str:
    """Apply `before` + the originals to one fresh database and `before` + the consolidated file to another;
    raise NotEquivalent (with the difference) unless their schemas are equal."""
    admin = session.resolve_target(target_options(settings)).url
    try:
        with server.shadow_database(admin, "migrakit_orig") as a, server.shadow_database(admin, "migrakit_cons") as b:
            _apply(settings, a, [*before, *plan.replaced])
            _apply(settings, b, [*before, plan.migration])
            diff = schema.diff_statements(a, b)
    except MigrakitError as err:
        err.state = "while proving equivalence on a shadow database (dropped again); nothing was written"
        raise
    if diff:
        raise NotEquivalent(
            f"{plan.stem} would not give the schema its {len(plan.replaced)} original migrations give",
            file=str(plan.sql_path),
            state="nothing was written",
            fix="consolidate a shorter run (--from/--to) and look at the statements below; a migration that depends "
            "on being split (data written between two DDL steps) cannot be consolidated",
            details=["to turn the originals' schema into the consolidated file's:", *diff[:40]]
            + ([f"... and {len(diff) - 40} more"] if len(diff) > 40 else []),
        )
    return (
        f"same schema: the {len(plan.replaced)} originals and {plan.stem} on two fresh databases "
        "(schema diff is empty)"
    )


def _write(plan: ConsolidationPlan) -> None:
    """New files first, then the journal, then removals: an interruption leaves a state `db.status` explains."""
    plan.sql_path.parent.mkdir(parents=True, exist_ok=True)
    plan.sql_path.write_bytes(plan.sql_text.encode("utf-8"))
    plan.manifest_path.write_bytes(plan.manifest_text.encode("utf-8"))
    plan.journal_path.write_bytes(plan.journal_text.encode("utf-8"))
    if plan.snapshot_move:
        src, dst = plan.snapshot_move
        src.replace(dst)
    for path in plan.delete:
        path.unlink(missing_ok=True)


def consolidate(
    settings: Settings,
    *,
    from_tag: str | None = None,
    to_tag: str | None = None,
    name: str = DEFAULT_NAME,
    base: str | None = None,
    yes: bool = False,
    env: Mapping[str, str] | None = None,
) -> ConsolidationReport:
    """Plan a consolidation (the branch's new migrations, or --from/--to); with `yes` prove it and write it."""
    check_folders(settings, consolidated=False)  # the first consolidation creates consolidated_dir
    folder = load_folder(settings.migrations_dir, settings.root, max_bytes=settings.max_file_bytes)
    existing = load_consolidated(
        settings.consolidated_dir, settings.root, [m.tag for m in folder.migrations], max_bytes=settings.max_file_bytes
    )
    if from_tag or to_tag:
        tags = select_range(folder, from_tag, to_tag)
        selection = f"--from {tags[0]} --to {tags[-1]}" if tags else "--from/--to"
    else:
        from migrakit.sources.git import branch_migrations

        found = branch_migrations(settings, base=base, env=env)
        tags = found.tags
        selection = f"new on {found.head} since it left {found.base} (merge base {found.merge_base[:7]})"
    meta = settings.migrations_dir / "meta"
    snapshots = sorted(p.name for p in meta.glob("*.json") if not p.name.startswith("_")) if meta.is_dir() else []
    plan = plan_consolidation(
        folder,
        tags,
        consolidated_dir=settings.consolidated_dir,
        name=name,
        selection=selection,
        snapshots=snapshots,
        existing=[m.tag for m in existing],
    )
    paths = [plan.sql_path, plan.manifest_path, plan.journal_path, *plan.delete, *(plan.snapshot_move or ())]
    report = ConsolidationReport(plan, shown_paths={p: display_path(p, settings.root) for p in paths})
    if not yes:
        return report
    sequence = order_sequence(folder.migrations, existing)
    first = next(i for i, m in enumerate(sequence) if m.tag == plan.replaced[0].tag)
    report.proof = prove_equivalent(settings, sequence[:first], plan)
    _write(plan)
    limit = settings.max_file_bytes
    after = load_folder(settings.migrations_dir, settings.root, max_bytes=limit)  # re-read: both must load cleanly
    load_consolidated(settings.consolidated_dir, settings.root, [m.tag for m in after.migrations], max_bytes=limit)
    report.written = True
    return report
