"""Drizzle's naming, ordering and time rules: folder names, created_at, Node's localeCompare order. Pure."""

from __future__ import annotations

import datetime
import itertools
import re
import unicodedata
from collections.abc import Iterable

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def utc_stamp(when: int) -> str:
    """`when` (epoch milliseconds, as in the journal and created_at) as drizzle-kit's 14-digit UTC prefix
    `YYYYMMDDHHMMSS` (milliseconds dropped)."""
    return f"{_EPOCH + datetime.timedelta(milliseconds=when):%Y%m%d%H%M%S}"


def v1_when(folder_name: str) -> int:
    """Drizzle 1.0's created_at: `Date.UTC` of the folder's 14-digit prefix, in milliseconds.

    As `Date.UTC` does: a year 0-99 means 1900-1999, and out-of-range fields carry over (month 13 is January
    of the next year, day 0 the last day of the previous month)."""
    stamp = folder_name[:14]
    spans = ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))
    year, month, day, hour, minute, second = (int(stamp[i:j]) for i, j in spans)
    year += 1900 if 0 <= year <= 99 else 0
    year, month0 = year + (month - 1) // 12, (month - 1) % 12
    days = datetime.date(year, month0 + 1, 1).toordinal() - _EPOCH_ORDINAL + day - 1
    return (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000


_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


# ICU's root collation of printable ASCII, the order of Node's `String.prototype.localeCompare` (Drizzle 1.0
# sorts folders with it): punctuation, then digits, then letters with lower case first. Checked against node
# in tests/interop/test_interop_v1.py.
_ICU_ASCII = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ"


_ICU_PRIMARY = {c: i for i, c in enumerate(_ICU_ASCII)}
_ICU_PRIMARY.update({c: _ICU_PRIMARY[c.lower()] for c in _ICU_ASCII if c.isupper()})


def locale_key(name: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """A sort key ordering strings as `a.localeCompare(b)` does in Node (ICU root, three levels: base
    letters, then accents, then case). Exact for ASCII; beyond ASCII an approximation (Node's order also
    depends on the process locale there)."""
    primary: list[int] = []
    secondary: list[int] = []
    tertiary: list[int] = []
    for ch in unicodedata.normalize("NFD", name):
        if unicodedata.combining(ch):
            if secondary:
                secondary[-1] = secondary[-1] * 1024 + ord(ch) % 1024
            continue
        if ord(ch) < 32:
            continue  # control characters are ignorable in ICU
        primary.append(_ICU_PRIMARY.get(ch, 1000 + ord(ch)))
        secondary.append(0)
        tertiary.append(1 if ch.isupper() else 0)
    return tuple(primary), tuple(secondary), tuple(tertiary)


_ASCII_STAMP = re.compile(r"[0-9]{14}_")


def v1_sorted(names: Iterable[str]) -> list[str]:
    """`sorted(names, key=locale_key)`, computing locale_key only where two names share their 14-digit prefix.

    Drizzle 1.0 folder names start with 14 ASCII digits and `_`; ICU orders digits as their values, so two such
    names with different prefixes are in prefix order. Any other name: every name is keyed, as before (10,000
    folders: 0.2 s of locale_key saved in db.status). Stable, as `sorted` is."""
    names = list(names)
    if not all(_ASCII_STAMP.match(n) for n in names):
        return sorted(names, key=locale_key)
    ordered: list[str] = []
    for _, same in itertools.groupby(sorted(names, key=lambda n: n[:14]), key=lambda n: n[:14]):
        group = list(same)
        ordered += sorted(group, key=locale_key) if len(group) > 1 else group
    return ordered


def v1_folder_name(when: int, tag: str) -> str:
    """drizzle-kit up's folder name for a journal entry: `<YYYYMMDDHHMMSS>_<tag minus its prefix>`."""
    _, _, rest = tag.partition("_")
    return f"{utc_stamp(when)}_{rest}"


def snapshot_name(tag: str) -> str:
    """drizzle-kit's snapshot file for a journal tag: `<prefix>_snapshot.json` (`0007`, `20250508083758`): the
    tag's part before its first `_`."""
    return f"{tag.split('_', 1)[0]}_snapshot.json"


def quoted_table(schema: str, name: str) -> str:
    """A table as SQL and messages name it, each part double-quoted: `"drizzle"."__drizzle_migrations"`."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in (schema, name))


_INDEX_PREFIX = re.compile(r"^(\d{4,6})_(.*)$")  # 0007_name; not a 10- or 14-digit time


def split_tags(entries: list[tuple[str, int]], pieces: dict[str, int]) -> list[tuple[str, int, str, int]]:
    """Journal entries `(tag, when)` re-spelled where entry `tag` becomes `pieces[tag]` migrations (db.lint --fix):
    `(old tag, piece number from 0, new tag, new when)` for each new entry, in order.

    A piece after the first is named `<tag>_<n>` (n from 2). With drizzle-kit's index prefixes (`0007_name`) the
    pieces and every later entry are numbered on from the first entry's number, as drizzle-kit would have;
    other prefixes (timestamps, none) are kept. `when` stays strictly increasing (Drizzle's migrator skips an
    entry whose `when` is not after the newest applied one)."""
    out: list[tuple[str, int, str, int]] = []
    number: int | None = None
    width = 4
    previous: int | None = None
    for tag, when in entries:
        m = _INDEX_PREFIX.match(tag)
        if number is None and m:
            number, width = int(m.group(1)), len(m.group(1))
        for piece in range(pieces.get(tag, 1)):
            name = tag if piece == 0 else f"{tag}_{piece + 1}"
            if m and number is not None:
                rest = m.group(2) if piece == 0 else f"{m.group(2)}_{piece + 1}"
                name = f"{number:0{width}d}_{rest}"
                number += 1
            new_when = when if previous is None else max(when, previous + 1)
            out.append((tag, piece, name, new_when))
            previous = new_when
    return out
