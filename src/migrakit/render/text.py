"""Plain-text helpers shared by every renderer: tables, long lists folded, repeated notes grouped. Pure (rich is
imported only when a table is drawn for a terminal)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

FOLD_ABOVE = 10  # a list longer than this is folded ...
FOLD_HEAD = 3  # ... to its first 3 items,
FOLD_TAIL = 2  # "… N more …" and its last 2
GROUP_AT = 3  # notes that differ only in their migration are grouped from this many on


def fold(items: Sequence[str], *, above: int = FOLD_ABOVE, head: int = FOLD_HEAD, tail: int = FOLD_TAIL) -> str:
    """`a, b, c` for short lists; `a, b, c, … 181 more …, y, z` for long ones (the total stays in the caller's
    count: "applied 186 migration(s): …"). JSON output never folds."""
    items = list(items)
    if len(items) <= above:
        return ", ".join(items)
    hidden = len(items) - head - tail
    return ", ".join([*items[:head], f"… {hidden} more …", *items[-tail:]])


def group_notes(notes: Iterable[str], subjects: Iterable[tuple[str, str]], *, at: int = GROUP_AT) -> list[str]:
    """Notes that say the same thing about different migrations become one line:
    `12 migrations: its file holds no SQL … (0000_a, 0001_b, 0002_c, … 7 more …, 0010_k, 0011_l)`.

    `subjects` are (file, tag) pairs; a note is about the first subject whose file (else tag, as a whole
    word) it names. Notes about no subject, and groups smaller than `at`, stay as they are, in order."""
    notes = list(notes)
    if not notes:  # nothing to group: skip indexing the subjects (10,000 migrations in db.status)
        return []
    subjects = [(f, t) for f, t in subjects if t]
    by_file = {f: t for f, t in subjects if f}
    tags_by_word = {t for _, t in subjects}
    keyed: list[tuple[str, str | None, str]] = []  # (template or note, tag, note)
    for note in notes:
        tag = None
        template = note
        found = next((w for w in re.findall(r"[^\s`'\"(),;:]+", note) if w in by_file), None)
        if found is not None:
            tag = by_file[found]
            template = note.replace(found, "\0F")
        if tag is None:  # a tag named as a whole word (tags hold letters, digits, _ and -)
            tag = next((w for w in re.findall(r"[\w-]+", note) if w in tags_by_word), None)
        if tag is not None:
            template = re.sub(r"(?<![\w.-])" + re.escape(tag) + r"(?![\w-])", "\0T", template)
        keyed.append((template, tag, note))
    counts: dict[str, list[str]] = {}
    for template, tag, _ in keyed:
        if tag is not None:
            counts.setdefault(template, []).append(tag)
    out: list[str] = []
    done: set[str] = set()
    for template, tag, note in keyed:
        tags = counts.get(template, [])
        if tag is None or len(tags) < at:
            out.append(note)
        elif template not in done:
            done.add(template)
            generic = template.replace("\0F", "its file").replace("\0T", "it")
            out.append(f"{len(tags)} migrations: {generic} ({fold(tags)})")
    return out


RICH_MAX_ROWS = 200  # above this many rows a terminal gets the plain columns (rich takes ~1.3 ms a row)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], fmt: str) -> str:
    """Rows under their headers: a rich table on a terminal (fmt "rich"), aligned plain columns otherwise.

    A table of more than RICH_MAX_ROWS rows is drawn as plain columns on a terminal too, every row kept: rich
    needs 13 s for db.status's 10,000 rows, the plain columns 20 ms."""
    if fmt == "rich" and len(rows) <= RICH_MAX_ROWS:
        from rich.console import Console
        from rich.table import Table

        t = Table(*headers)
        for r in rows:
            t.add_row(*r)
        console = Console(record=True, width=max(100, Console().width))
        with console.capture() as cap:
            console.print(t)
        return cap.get().rstrip("\n")
    columns = zip(*rows, strict=False) if rows else ([] for _ in headers)  # a column at a time: 10,000 rows
    widths = [max([len(h), *map(len, column)]) for h, column in zip(headers, columns, strict=False)]
    fmt_row = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt_row.format(*r).rstrip() for r in [list(headers), *rows])


def subjects(migrations: Iterable[Any]) -> list[tuple[str, str]]:
    """(file, tag) of each migration: what `group_notes` groups notes by."""
    return [(m.path, m.tag) for m in migrations]
