"""drizzle-kit's `meta/_journal.json`: parse it and render it back exactly as drizzle-kit writes it.

drizzle-kit writes `JSON.stringify(journal, null, 2)`; some teams run a formatter that adds a final
newline. `render_journal(parse_journal(text)) == text` holds for both. Pure: text in, data out.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from migrakit.errors import ConfigError, JournalError

JOURNAL_PATH = "meta/_journal.json"
DIALECTS = ("postgresql", "pg")
BIGINT = (-(1 << 63), (1 << 63) - 1)  # created_at's range: a `when` outside it could never be tracked
_ENTRY_KEYS = frozenset(("idx", "version", "when", "tag", "breakpoints"))  # what drizzle-kit writes in an entry


@dataclass(frozen=True)
class JournalEntry:
    idx: int
    when: int
    tag: str
    version: str = "7"
    breakpoints: bool = True
    extra: tuple[tuple[str, Any], ...] = ()  # keys drizzle-kit does not write, kept in place

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "idx": self.idx,
            "version": self.version,
            "when": self.when,
            "tag": self.tag,
            "breakpoints": self.breakpoints,
        }
        data.update(self.extra)
        return data


@dataclass(frozen=True)
class Journal:
    version: str = "7"
    dialect: str = "postgresql"
    entries: tuple[JournalEntry, ...] = ()
    trailing: str = ""  # whitespace after the closing brace, as found
    key_order: tuple[str, ...] = ("version", "dialect", "entries")
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def with_entry(self, tag: str, when: int, breakpoints: bool = True) -> Journal:
        """A journal with one more entry, numbered as drizzle-kit numbers it (last idx + 1)."""
        idx = self.entries[-1].idx + 1 if self.entries else 0
        version = self.entries[-1].version if self.entries else self.version
        entry = JournalEntry(idx=idx, when=when, tag=tag, version=version, breakpoints=breakpoints)
        return Journal(self.version, self.dialect, (*self.entries, entry), self.trailing, self.key_order, self.extra)

    def without(self, tags: set[str]) -> Journal:
        kept = tuple(e for e in self.entries if e.tag not in tags)
        return Journal(self.version, self.dialect, kept, self.trailing, self.key_order, self.extra)


def nested_too_deep(file: str, what: str, fix: str) -> ConfigError:
    """A JSON or TOML file nested deeper than Python's parser recurses (thousands of levels: no tool writes that)."""
    return ConfigError(
        f"{what} is nested too deep to read (arrays or objects thousands of levels deep)",
        file=file,
        state="nothing was run: the files are read before anything is sent to the database",
        fix=fix,
    )


def tag_problem(tag: str) -> str | None:
    """Why a journal tag cannot name a file of its folder: a NUL byte, or a path that leaves the folder (absolute,
    or `..` climbing above it). Drizzle reads `<folder>/<tag>.sql`; drizzle-kit writes `0001_name`."""
    if "\0" in tag:
        return "holds a NUL byte"
    parts = PurePosixPath(tag).parts
    if parts and parts[0] == "/":
        return "is an absolute path"
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return "climbs out of the migrations folder (`..`)"
    return None


def parse_journal(text: str, path: str = JOURNAL_PATH) -> Journal:
    """Parse a journal; raise JournalError naming `path` and the fix for anything Drizzle would trip on, and
    ConfigError (exit 2) for what no drizzle-kit journal holds and an adversary's may: a tag that is no file of
    the folder (`../outside/x`, a NUL byte), JSON nested too deep for the parser."""
    fix_json = "restore the file from git (`git checkout -- <file>`) or fix the JSON by hand"
    try:
        data = json.loads(text)
    except RecursionError:
        raise nested_too_deep(path, "journal", fix_json) from None
    except json.JSONDecodeError as exc:
        raise JournalError(
            f"journal is not valid JSON (truncated, or a merge conflict?): {exc.msg}",
            file=path,
            line=exc.lineno,
            col=exc.colno,
            fix=fix_json,
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise JournalError("journal has no `entries` list", file=path, fix=fix_json)
    dialect = data.get("dialect", "postgresql")
    if dialect not in DIALECTS:
        raise JournalError(
            f"journal dialect is {dialect!r}; migrakit runs PostgreSQL folders only ({' or '.join(DIALECTS)})",
            file=path,
            fix="point --migrations-dir at a PostgreSQL drizzle-kit folder",
        )
    entries: list[JournalEntry] = []
    seen: dict[str, int] = {}
    default_version = data.get("version", "7")
    for pos, raw in enumerate(data["entries"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("tag"), str) or not isinstance(raw.get("when"), int):
            raise JournalError(
                f"journal entry #{pos} lacks a string `tag` or an integer `when`",
                file=path,
                fix="each entry needs idx, version, when, tag, breakpoints as drizzle-kit writes them",
            )
        tag, when = raw["tag"], raw["when"]
        problem = tag_problem(tag)
        if problem:
            raise ConfigError(
                f"journal entry #{pos}: tag {tag!r} {problem}",
                file=path,
                migration=tag,
                state="nothing was run: the files are read before anything is sent to the database",
                fix="a tag names a file in the migrations folder (`0001_name`, as drizzle-kit writes it): restore "
                "the journal from git",
            )
        if not BIGINT[0] <= when <= BIGINT[1]:
            raise JournalError(
                f"journal entry #{pos} ({tag}): `when` {when} is outside the range of the tracking table's "
                "created_at (bigint)",
                file=path,
                migration=tag,
                fix="`when` is the migration's creation time in epoch milliseconds (drizzle-kit writes e.g. "
                "1738907559174): restore the journal from git, or set it to a time after the previous entry's",
            )
        if tag in seen:
            raise JournalError(
                f"tag {tag!r} appears twice in the journal (entries #{seen[tag]} and #{pos})",
                file=path,
                migration=tag,
                fix="remove the duplicate entry; each migration file must be listed once",
            )
        seen[tag] = pos
        entries.append(
            JournalEntry(
                idx=int(raw.get("idx", pos)),
                when=when,
                tag=tag,
                version=str(raw.get("version", default_version)),
                breakpoints=bool(raw.get("breakpoints", True)),
                extra=_extra_keys(raw),
            )
        )
    stripped = text.rstrip()
    return Journal(
        version=str(data.get("version", "7")),
        dialect=dialect,
        entries=tuple(entries),
        trailing=text[len(stripped) :],
        key_order=tuple(data.keys()),
        extra=tuple((k, v) for k, v in data.items() if k not in ("version", "dialect", "entries")),
    )


def _extra_keys(raw: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """An entry's keys drizzle-kit does not write, in place; a set comparison first, as drizzle-kit's entries
    have no other key (db.status reads 10,000 of them)."""
    if raw.keys() <= _ENTRY_KEYS:
        return ()
    return tuple((k, v) for k, v in raw.items() if k not in _ENTRY_KEYS)


def render_journal(journal: Journal) -> str:
    """The journal as drizzle-kit writes it (`JSON.stringify(x, null, 2)`), plus the original trailing text."""
    values: dict[str, Any] = {
        "version": journal.version,
        "dialect": journal.dialect,
        "entries": [e.as_json() for e in journal.entries],
        **dict(journal.extra),
    }
    ordered = {k: values[k] for k in journal.key_order if k in values}
    ordered.update({k: v for k, v in values.items() if k not in ordered})
    return json.dumps(ordered, indent=2, separators=(",", ": "), ensure_ascii=False) + journal.trailing


def journal_warnings(journal: Journal) -> list[str]:
    """Things Drizzle accepts but a reader should know: gaps in idx, `when` not increasing."""
    notes: list[str] = []
    for prev, cur in itertools.pairwise(journal.entries):
        if cur.idx != prev.idx + 1:
            notes.append(f"idx jumps from {prev.idx} to {cur.idx} at {cur.tag} (harmless: Drizzle ignores idx)")
        if cur.when <= prev.when:
            notes.append(
                f"`when` of {cur.tag} ({cur.when}) is not after {prev.tag}'s ({prev.when}); "
                "Drizzle's migrator may skip it on databases that already ran the later one"
            )
    return notes
