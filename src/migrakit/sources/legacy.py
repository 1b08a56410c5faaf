"""Legacy folders for `db.bootstrap`: journal-less `.sql` files (e.g. `022_name.sql`) as Mode 2
migrations. [reads files]

Order: by the file name's leading number (`9_a.sql` before `022_b.sql` before `1000_c.sql`), then by name;
files without a leading number come last, by name. Gaps and a first number other than 1 are normal.

created_at: the file's position in that order, 1, 2, 3, ... Drizzle's 0.x migrator reads only the row with
the newest created_at and applies a journal entry when its `when` (epoch milliseconds, ~1.7e12 today) is
later. Positions are milliseconds after 1970-01-01, below any `when` drizzle-kit writes, so a bootstrap row
is never the newest row once any journal migration ran, and on a table holding only bootstrap rows Drizzle
still applies every journal entry. The value is deterministic (same folder, same values), so a second run
matches every row and a file edited after it ran is reported as `edited`. NULL is not an option: Postgres
sorts NULL first in `order by created_at desc`, which would make Drizzle re-run its whole journal.

Nothing here reads a legacy runner's tracking table or looks at which tables exist: a file counts as run
only when a row carries its hash.
"""

from __future__ import annotations

import re
from pathlib import Path

from migrakit.core.migration import LEGACY, Migration
from migrakit.core.settings import MAX_FILE_MB, MIB
from migrakit.errors import ConfigError
from migrakit.sources.folders import display_path
from migrakit.sources.reading import listed_files, read_sql

_LEADING_NUMBER = re.compile(r"^(\d+)")


def order_key(name: str) -> tuple[int, int, str]:
    """Sort key of a legacy file name: leading number first, then the name; unnumbered files last."""
    m = _LEADING_NUMBER.match(name)
    return (0, int(m.group(1)), name) if m else (1, 0, name)


def legacy_files(path: Path) -> list[Path]:
    """The folder's `.sql` files in run order (a FIFO or device among them is listed, to be refused when read)."""
    return sorted(listed_files(path, "*.sql"), key=lambda p: order_key(p.name))


def load_legacy(
    path: Path | None, root: Path | None = None, *, required: bool = True, max_bytes: int = MAX_FILE_MB * MIB
) -> tuple[Migration, ...]:
    """Each legacy file as a Migration (mode legacy, created_at = its 1-based position in run order).

    `required`: a missing or unconfigured folder is a ConfigError (for db.bootstrap); otherwise it holds nothing."""
    if path is None or not path.is_dir():
        if not required:
            return ()
        raise ConfigError(
            "no legacy folder: "
            + ("legacy_dir is not set" if path is None else f"{display_path(path, root)} does not exist"),
            fix="set legacy_dir in [tool.migrakit] (e.g. legacy_dir = \"db/legacy\") or pass --legacy-dir",
        )
    out = []
    for position, file in enumerate(legacy_files(path), start=1):
        shown = display_path(file, root)
        text, digest = read_sql(file, shown, file.stem, max_bytes)
        out.append(Migration(tag=file.stem, when=position, path=shown, text=text, hash=digest, mode=LEGACY))
    return tuple(out)
