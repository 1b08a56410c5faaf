"""Which file made which schema object, and is a file's effect present in a live schema? Pure.

Input: schema snapshots taken on a shadow database built one file at a time (snapshot 0 before the first
file, snapshot i after file i), each a mapping from an object key (e.g. ("tables", '"public"."t"') or
("columns", '"public"."t"', "c")) to a value compared with `==` (the inspected object), and a snapshot of
the live database. A file's *effect* is what differs between the snapshot before it and the one after it:
the objects it created, changed or dropped, whatever SQL did it (a DO block, dynamic SQL, an implicit
index or sequence). That is exact by construction, which a parse of the file's statements is not (a
parser sees no object a DO block or a function creates, nor the implicit ones).

- `made_by(...)`: for an object, the last file that gave it its final state (created or changed it), and
  for one the shadow lacks, the file that dropped it.
- `prove(...)`: a file is PRESENT in the live schema when every object in its effect is there in a state
  the object has from that file on (the live database may also have run later files that change it again),
  ABSENT when none is, PARTIAL otherwise (the objects that differ are listed), NO_EFFECT when it changes no
  schema object (only data: nothing in a schema proves it ran).

Selectors (`--only 023`, `--adopt 022,024-026`): `parse_selection` matches them against file tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from migrakit.core.differences import describe, key_label
from migrakit.core.migration import Migration

# an object's key in a schema snapshot: (category, name, ...), as db/inspect/schema_diff.py makes it
Key = tuple[str, ...]
Snapshot = Mapping[Key, Any]


class Verb(StrEnum):
    """What a file did to an object."""

    CREATED = "created"
    CHANGED = "changed"
    DROPPED = "dropped"


class Verdict(StrEnum):
    """Whether a file's effect is in the live schema."""

    PRESENT = "present"
    ABSENT = "absent"
    PARTIAL = "partial"
    NO_EFFECT = "no-schema-effect"


CREATED, CHANGED, DROPPED = Verb.CREATED, Verb.CHANGED, Verb.DROPPED
PRESENT, ABSENT, PARTIAL, NO_EFFECT = Verdict.PRESENT, Verdict.ABSENT, Verdict.PARTIAL, Verdict.NO_EFFECT


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


MISSING_OBJECT = _Absent()


def effect(before: Snapshot, after: Snapshot) -> dict[Key, Verb]:
    """The objects one file created, changed or dropped."""
    out: dict[Key, Verb] = {}
    for key, value in after.items():
        if key not in before:
            out[key] = CREATED
        elif before[key] != value:
            out[key] = CHANGED
    for key in before.keys() - after.keys():
        out[key] = DROPPED
    return out


def effects(snapshots: Sequence[Snapshot]) -> list[dict[Key, Verb]]:
    """effects[i] = the effect of file i (0-based): the difference between snapshots[i] and snapshots[i + 1]."""
    return [effect(snapshots[i], snapshots[i + 1]) for i in range(len(snapshots) - 1)]


@dataclass(frozen=True)
class Maker:
    step: int  # 0-based index of the file
    verb: Verb


def made_by(all_effects: Sequence[Mapping[Key, Verb]], key: Key) -> Maker | None:
    """The last file whose effect touched `key` (the one that gave the object its final state, or dropped it)."""
    for step in range(len(all_effects) - 1, -1, -1):
        verb = all_effects[step].get(key)
        if verb is not None:
            return Maker(step, verb)
    return None


@dataclass(frozen=True)
class Provenance:
    """What each file did to the schema of a shadow database built one file at a time (workflows/steps/provenance.py
    builds it): the steps, the snapshot before the first and after each, and each step's effect."""

    steps: tuple[tuple[Migration, ...], ...]  # the files applied in each step, in order (one file per step,
    # except all migrations in one step when only the legacy files are asked about)
    snapshots: tuple[dict[Key, Any], ...]  # len(steps) + 1: before the first step, after each
    effects: tuple[dict[Key, Verb], ...]

    def made_by(self, key: Sequence[Any]) -> tuple[Migration, str] | None:
        """The file that gave the object its final state (created / changed it) or dropped it, and the verb."""
        found = made_by(self.effects, tuple(key))
        return (self.steps[found.step][-1], found.verb) if found else None

    def step_of(self, m: Migration) -> int:
        return next(i for i, step in enumerate(self.steps) if any(f.hash == m.hash and f.tag == m.tag for f in step))


@dataclass(frozen=True)
class ObjectProof:
    key: Key
    verb: Verb  # what the file did to it
    ok: bool
    expected: Any  # the object as the file leaves it (MISSING_OBJECT when it drops it)
    actual: Any  # the object in the live database (MISSING_OBJECT when it has none)


@dataclass(frozen=True)
class FileProof:
    step: int
    verdict: Verdict
    objects: tuple[ObjectProof, ...]

    @property
    def differing(self) -> tuple[ObjectProof, ...]:
        return tuple(o for o in self.objects if not o.ok)


@dataclass(frozen=True)
class LegacyProof:
    """A legacy file's proof (db.check, db.bootstrap --adopt, db.baseline): is its effect in the live schema?"""

    migration: Migration
    verdict: str  # PRESENT / ABSENT / PARTIAL / NO_EFFECT
    objects: tuple[ObjectProof, ...]

    def differing_lines(self, limit: int = 12) -> list[str]:
        """Each object of the file's effect the live schema does not have as the file leaves it."""
        out = []
        bad = [o for o in self.objects if not o.ok]
        for o in bad[:limit]:
            what = {CREATED: "creates", CHANGED: "changes", DROPPED: "drops"}[o.verb]
            out.append(
                f"{key_label(o.key)}: {self.migration.tag} {what} it; "
                f"the file leaves: {_short(describe(o.expected))}; "
                f"the database has: {_short(describe(o.actual))}"
            )
        if len(bad) > limit:
            out.append(f"... and {len(bad) - limit} more object(s)")
        return out


def _short(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _same(a: Any, b: Any) -> bool:
    if a is MISSING_OBJECT or b is MISSING_OBJECT:
        return a is b
    return bool(a == b)


def prove(snapshots: Sequence[Snapshot], step: int, live: Snapshot) -> FileProof:
    """Is file `step`'s effect present in `live`? Each object it touched must be in `live` in one of the
    states it takes from that file on (after file `step`, or after any later file)."""
    touched = effect(snapshots[step], snapshots[step + 1])
    proofs = []
    for key in sorted(touched, key=repr):
        states = [s.get(key, MISSING_OBJECT) for s in snapshots[step + 1 :]]
        actual = live.get(key, MISSING_OBJECT)
        proofs.append(ObjectProof(key, touched[key], any(_same(actual, s) for s in states), states[0], actual))
    if not proofs:
        return FileProof(step, NO_EFFECT, ())
    ok = sum(p.ok for p in proofs)
    verdict = PRESENT if ok == len(proofs) else ABSENT if ok == 0 else PARTIAL
    return FileProof(step, verdict, tuple(proofs))


# ------------------------------------------------------------------------------------------ selectors
_RANGE = re.compile(r"^(\d+)-(\d+)$")
_NUMBER = re.compile(r"^(\d+)")


class SelectionError(ValueError):
    """A selector that names no file (the message says which)."""

    def __init__(self, selector: str) -> None:
        super().__init__(selector)
        self.selector = selector


def split_selectors(values: Sequence[str] | str | None) -> list[str]:
    """`["022,024", "025"]` or `"022, 024"` -> `["022", "024", "025"]` (repeatable options and comma lists)."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def _number(tag: str) -> int | None:
    m = _NUMBER.match(tag)
    return int(m.group(1)) if m else None


def parse_selection(selectors: Sequence[str], tags: Sequence[str]) -> list[str]:
    """The tags (in `tags` order) that the selectors name. A selector is a whole tag (`023_settings_jsonb`),
    a file name (`023_settings_jsonb.sql`), a leading number (`023` or `23`) or a range of leading numbers
    (`024-026`, both ends included). Raises SelectionError for a selector that names no file."""
    chosen: set[str] = set()
    for sel in selectors:
        name = sel[:-4] if sel.endswith(".sql") else sel
        if name in tags:
            chosen.add(name)
            continue
        rng = _RANGE.match(name)
        if rng:
            lo, hi = int(rng.group(1)), int(rng.group(2))
            hits = [t for t in tags if (n := _number(t)) is not None and lo <= n <= hi]
        elif name.isdigit():
            hits = [t for t in tags if _number(t) == int(name)]
        else:
            hits = []
        if not hits:
            raise SelectionError(sel)
        chosen.update(hits)
    return [t for t in tags if t in chosen]


def number_list(tags: Sequence[str]) -> str:
    """`["022_a", "024_b", "025_c"]` -> `"022,024,025"` (leading numbers where every tag has one, else tags)."""
    numbers = [_NUMBER.match(t) for t in tags]
    if all(numbers) and len({m.group(1) for m in numbers if m}) == len(tags):
        return ",".join(m.group(1) for m in numbers if m)
    return ",".join(tags)
