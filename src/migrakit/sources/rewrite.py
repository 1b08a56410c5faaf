"""Rewriting a migrations folder where migrations become several (db.lint --fix). [writes files]

`split_folder(out, journal, respelled, bodies)` rewrites the folder `out` in place: the `.sql` files of the
entries from the first split one on are written under their new tags (`core/drizzle/naming.split_tags`), the
journal gets an entry per piece (idx numbered on, `when` strictly increasing, each entry's version, breakpoints
and extra keys kept), and drizzle-kit's snapshots follow: a piece after the first gets a copy of its migration's
snapshot with a new id (as `drizzle-kit generate --custom` writes one), and each snapshot's `prevId` names the
snapshot before it, so `drizzle-kit check` and the next `drizzle-kit generate` read the chain.
`split_v1_folder` does the same for the Drizzle 1.0 layout (a folder per piece, `prevIds` chained).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from migrakit.core.drizzle.journal import JOURNAL_PATH, Journal, render_journal
from migrakit.core.drizzle.naming import snapshot_name


def split_folder(
    out: Path, journal: Journal, respelled: list[tuple[str, int, str, int]], bodies: dict[tuple[str, int], str]
) -> list[str]:
    """Rewrite the journal folder `out` (see the module); `bodies[(old tag, piece)]` is a rewritten migration's
    text (an entry without one keeps its file's bytes). Returns the files written."""
    region = list(dict.fromkeys(old for old, _, _, _ in respelled))
    by_tag = {e.tag: e for e in journal.entries}
    texts = {tag: (out / f"{tag}.sql").read_bytes() for tag in region}
    meta = out / "meta"
    snapshots: dict[str, dict[str, Any]] = {}
    for tag in region:
        path = meta / snapshot_name(tag)
        if path.is_file():
            snapshots[tag] = json.loads(path.read_text(encoding="utf-8"))
    for tag in region:
        (out / f"{tag}.sql").unlink()
        (meta / snapshot_name(tag)).unlink(missing_ok=True)
    written: list[str] = []
    kept = [e for e in journal.entries if e.tag not in region]  # the region is the journal's tail
    idx = kept[-1].idx + 1 if kept else 0
    entries = list(kept)
    last_id: str | None = None
    for old, piece, tag, when in respelled:
        body = bodies.get((old, piece))
        path = out / f"{tag}.sql"
        path.write_bytes(body.encode("utf-8") if body is not None else texts[old])
        written.append(str(path))
        entries.append(replace(by_tag[old], idx=idx, when=when, tag=tag))
        idx += 1
        snap = meta / snapshot_name(tag)
        if old in snapshots and str(snap) not in written:  # a timestamp prefix: the pieces share one snapshot name
            data = dict(snapshots[old])
            if piece > 0:
                data["id"] = str(uuid.uuid4())
            if last_id is not None and "prevId" in data:
                data["prevId"] = last_id
            last_id = data.get("id")
            snap.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
            written.append(str(snap))
    new_journal = replace(journal, entries=tuple(entries))
    (out / JOURNAL_PATH).write_text(render_journal(new_journal), encoding="utf-8")
    written.append(str(out / JOURNAL_PATH))
    return written


def split_v1_folder(
    out: Path, respelled: list[tuple[str, int, str, int]], bodies: dict[tuple[str, int], str]
) -> list[str]:
    """The Drizzle 1.0 layout's version: a piece after the first is a folder of its own, `<folder>_<n>`, which
    sorts right after its migration's folder (the caller checks the order); its `snapshot.json` is a copy of
    that migration's with a new id, and `prevIds` chain through the pieces to the next folder."""
    written: list[str] = []
    last_id: str | None = None
    for old, piece, name, _ in respelled:
        folder = out / name
        folder.mkdir(exist_ok=True)
        body = bodies.get((old, piece))
        if body is not None:
            (folder / "migration.sql").write_text(body, encoding="utf-8")
            written.append(str(folder / "migration.sql"))
        source = out / old / "snapshot.json"
        if not source.is_file():
            continue
        data = json.loads(source.read_text(encoding="utf-8"))
        if piece > 0:
            data["id"] = str(uuid.uuid4())
        if last_id is not None and isinstance(data.get("prevIds"), list):
            data["prevIds"] = [last_id]
        last_id = data.get("id")
        (folder / "snapshot.json").write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        written.append(str(folder / "snapshot.json"))
    return written
