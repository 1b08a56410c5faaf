"""`db.migrate --to TAG`: which migration TAG names, as Flyway's `target` and Alembic's `upgrade <rev>` do.

A tag names a migration exactly (`0003_add_orders`, a Drizzle 1.0 folder name, a consolidation's name) or by a
prefix that only it starts with (`0003`, `20240101`). Pure: tags in, tag out; ConfigError (exit 2) otherwise.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from migrakit.errors import ConfigError


def resolve_tag(tags: Sequence[str], wanted: str) -> str:
    """The one tag in `tags` equal to `wanted`, else the only one starting with it; ConfigError otherwise."""
    if wanted in tags:
        return wanted
    starting = [t for t in tags if t.startswith(wanted)] if wanted else []
    if len(starting) == 1:
        return starting[0]
    if len(starting) > 1:
        raise ConfigError(
            f"--to {wanted!r} matches {len(starting)} migrations: {', '.join(starting[:5])}"
            + (" ..." if len(starting) > 5 else ""),
            state="nothing was run",
            fix="give the whole tag (`inv db.status` lists them)",
        )
    close = difflib.get_close_matches(wanted, list(tags), n=3, cutoff=0.6)
    raise ConfigError(
        f"--to {wanted!r} names no migration in the folder"
        + (f"; did you mean {' or '.join(close)}?" if close else ""),
        state="nothing was run",
        fix="give a tag `inv db.status` lists (the file name without .sql, or the Drizzle 1.0 folder name)"
        + (f"; the last one is {tags[-1]}" if tags else ""),
    )
