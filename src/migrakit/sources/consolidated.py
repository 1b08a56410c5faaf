"""Mode 2 folders (`migrations-consolidated/`): one `.sql` file and one TOML manifest per consolidation. [reads files]

A consolidation `<stem>.sql` runs as one multi-statement message in one transaction and is tracked by one
row (its hash, its `when`). Its manifest `<stem>.toml` records that `when`, the file's hash and the Mode 1
migrations it replaces, each with the tag, `when` and hash it had in the journal:

    format = 1
    file = "20250506213131_consolidated.sql"
    when = 1746566491575
    hash = "<sha256 of the .sql file's bytes>"

    [[replaces]]
    tag = "0001_greedy_darkhawk"
    when = 1738907559174
    hash = "<sha256 of 0001_greedy_darkhawk.sql>"

Those hashes are the proof the planner uses to record a consolidation without running it on a database
that already ran every replaced migration. A manifest that does not match its file is a JournalError.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from migrakit.core.drizzle.journal import nested_too_deep
from migrakit.core.migration import CONSOLIDATED, Migration, Replaced
from migrakit.core.settings import MAX_FILE_MB, MIB
from migrakit.errors import JournalError
from migrakit.sources.folders import display_path
from migrakit.sources.reading import listed_files, read_bytes, read_sql

FORMAT = 1
MANIFEST_HEADER = (
    "# migrakit consolidation manifest, written by `inv db.consolidate`.\n"
    "# `replaces` lists the Mode 1 migrations this file stands for; their hashes prove that a database which\n"
    "# ran all of them needs only a tracking row for this file. Do not edit by hand.\n"
)
_HASH = re.compile(r"^[0-9a-f]{64}$")


def render_manifest(file_name: str, when: int, digest: str, replaces: Sequence[Replaced]) -> str:
    """The manifest text for a consolidation (TOML, deterministic)."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "file": file_name,
        "when": when,
        "hash": digest,
        "replaces": [{"tag": r.tag, "when": r.when, "hash": r.hash} for r in replaces],
    }
    import tomli_w  # here: only db.consolidate writes a manifest

    return MANIFEST_HEADER + tomli_w.dumps(data)


def _bad(message: str, manifest: str, fix: str, **extra: Any) -> JournalError:
    return JournalError(message, file=manifest, state="nothing was run", fix=fix, **extra)


def parse_manifest(text: str, shown: str) -> tuple[str, int, str, tuple[Replaced, ...]]:
    """(file name, when, hash, replaced) from a manifest's text; JournalError naming `shown` when malformed."""
    fix = (
        "restore the manifest from git (`git checkout -- <file>`), "
        "or re-create the consolidation with `inv db.consolidate`"
    )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(f"manifest is not valid TOML: {exc}", shown, fix) from exc
    except RecursionError:  # arrays or tables nested thousands deep: no manifest db.consolidate writes
        raise nested_too_deep(shown, "manifest", fix) from None
    if data.get("format") != FORMAT:
        raise _bad(f"manifest format is {data.get('format')!r}; this migrakit reads format {FORMAT}", shown, fix)
    file_name, when, digest, raw = data.get("file"), data.get("when"), data.get("hash"), data.get("replaces")
    if (
        not isinstance(file_name, str)
        or not isinstance(when, int)
        or not isinstance(digest, str)
        or not _HASH.match(digest)
    ):
        raise _bad("manifest needs `file` (string), `when` (integer) and `hash` (64 hex digits)", shown, fix)
    if not isinstance(raw, list) or not raw:
        raise _bad("manifest lists no replaced migrations (`[[replaces]]`)", shown, fix)
    replaced = []
    for pos, r in enumerate(raw):
        if not (isinstance(r, dict) and isinstance(r.get("tag"), str) and isinstance(r.get("when"), int)
                and isinstance(r.get("hash"), str) and _HASH.match(r["hash"])):
            raise _bad(
                f"replaces entry #{pos} needs `tag` (string), `when` (integer) and `hash` (64 hex digits)", shown, fix
            )
        replaced.append(Replaced(tag=r["tag"], when=r["when"], hash=r["hash"]))
    return file_name, when, digest, tuple(replaced)


def load_consolidated(
    path: Path, root: Path | None = None, journal_tags: Sequence[str] = (), *, max_bytes: int = MAX_FILE_MB * MIB
) -> tuple[Migration, ...]:
    """Every consolidation in `path` (sorted by `when`, then name) as a Mode 2 Migration.

    Checks, each a JournalError naming both files and the fix: every `.sql` has its manifest and every
    manifest its `.sql`; the manifest's hash is the file's; no migration is replaced twice; no replaced
    migration is still in the Mode 1 journal (`journal_tags`). A missing folder holds no consolidations."""
    if not path.is_dir():
        return ()
    sqls = {p.stem: p for p in listed_files(path, "*.sql")}
    manifests = {p.stem: p for p in listed_files(path, "*.toml")}
    for stem in sorted(set(sqls) - set(manifests)):
        shown = display_path(sqls[stem], root)
        raise JournalError(
            f"consolidated file {sqls[stem].name} has no manifest {stem}.toml",
            file=shown,
            migration=stem,
            state="nothing was run",
            fix=f"restore {display_path(path / (stem + '.toml'), root)} from git; a Mode 2 file without its manifest "
            "cannot be matched to the migrations it replaced",
        )
    out: list[Migration] = []
    replaced_by: dict[str, str] = {}
    in_journal = set(journal_tags)
    for stem in sorted(manifests):
        manifest = manifests[stem]
        shown_manifest = display_path(manifest, root)
        try:
            text = read_bytes(manifest, shown_manifest, max_bytes, stem).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _bad("manifest is not valid UTF-8", shown_manifest, "restore it from git", migration=stem) from exc
        file_name, when, digest, replaces = parse_manifest(text, shown_manifest)
        sql_path = path / file_name
        shown_sql = display_path(sql_path, root)
        if file_name != f"{stem}.sql" or stem not in sqls:
            raise _bad(
                f"manifest {manifest.name} names {file_name}, but the consolidated file is "
                + (f"{stem}.sql" if stem in sqls else "missing"),
                shown_manifest,
                f"restore {shown_sql} from git, or make `file` in {shown_manifest} name {stem}.sql",
                migration=stem,
            )
        sql_text, actual = read_sql(sql_path, shown_sql, stem, max_bytes)
        if actual != digest:
            raise _bad(
                f"{shown_sql} does not match its manifest {shown_manifest}: the manifest records hash {digest[:12]}, "
                f"the file's hash is {actual[:12]}",
                shown_manifest,
                f"restore {shown_sql} from git (`git checkout -- {shown_sql}`); a consolidated file is never edited "
                "after a database ran it. If no database ran it yet, re-create it with `inv db.consolidate`",
                migration=stem,
                details=[f"consolidated file: {shown_sql}", f"manifest: {shown_manifest}"],
            )
        for r in replaces:
            if r.tag in replaced_by:
                raise _bad(
                    f"{r.tag} is replaced by two consolidations: {replaced_by[r.tag]} and {stem}",
                    shown_manifest,
                    "keep one of the two consolidations (restore the folder from git)",
                    migration=stem,
                )
            replaced_by[r.tag] = stem
            if r.tag in in_journal:
                raise _bad(
                    f"{r.tag} is still in the Mode 1 journal, but {shown_manifest} says {stem} replaces it",
                    shown_manifest,
                    f"remove {r.tag} from meta/_journal.json and its .sql file (as `inv db.consolidate` does), or "
                    f"delete {shown_sql} and {shown_manifest} if the consolidation was abandoned",
                    migration=stem,
                    details=[f"consolidated file: {shown_sql}", f"manifest: {shown_manifest}"],
                )
        out.append(
            Migration(
                tag=stem, when=when, path=shown_sql, text=sql_text, hash=actual, mode=CONSOLIDATED, replaces=replaces
            )
        )
    return tuple(sorted(out, key=lambda m: (m.when, m.tag)))
