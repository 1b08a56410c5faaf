"""The fleet's targets: a TOML targets file (`[[targets]]` with `name`, `url`, optional `schema`) or the rows of a
`--targets-query`, checked and turned into Target values. Pure: text and rows in, values out.

Every message names a target by its name or its position, never by its URL unredacted (core.redact masks the
password by structure); the text of the file itself is never echoed, since it holds passwords.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from migrakit.core import redact
from migrakit.core.postgres import pgvalues
from migrakit.errors import ConfigError

_STATE = "nothing was run: the targets are checked before any target is connected to"
_KEYS = ("name", "url", "schema")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,127}")
EXAMPLE = '[[targets]]\nname = "t001"\nurl = "postgresql://app@db1/t001"\n# schema = "t001"  (schema-per-tenant)'


@dataclass(frozen=True)
class Target:
    """One database (or one schema of one) the fleet migrates. `display` is safe to print."""

    name: str
    url: str
    schema: str | None = None

    @property
    def display(self) -> str:
        shown = (
            redact.redact_url(self.url)
            if redact.scheme(self.url) or redact.is_dsn(self.url)
            else redact.summarize(self.url)
        )
        return shown + (f" (schema {self.schema})" if self.schema else "")


def parse_file(text: str, source: str) -> list[Target]:
    """The targets of a TOML targets file's text; `source` names the file in messages. ConfigError (exit 2) for
    a file that is not TOML, has no `[[targets]]`, an unknown key, a missing or non-string value, a name used
    twice, a schema that cannot name a schema, or a target listed twice (same URL and schema)."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ConfigError(f"cannot read {_label(source)}: it is nested too deep", file=source, state=_STATE,
                          fix="write one [[targets]] table per database:\n" + EXAMPLE) from None  # fmt: skip
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        raise ConfigError(
            f"cannot read {_label(source)}: it is not valid TOML",
            file=source,
            line=int(where.group(1)) if where else None,
            col=int(where.group(2)) if where else None,
            cause=re.sub(r"\s*\(at line.*", "", str(exc)),  # the parser's words, not the line (it may hold a password)
            state=_STATE,
            fix="write one [[targets]] table per database:\n" + EXAMPLE,
        ) from None
    unknown = sorted(set(data) - {"targets"})
    if unknown:
        raise _bad(
            source,
            f"has an unknown top-level key {unknown[0]!r}",
            "put every target in a [[targets]] table:\n" + EXAMPLE,
        )
    entries = data.get("targets")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise _bad(
            source,
            "lists no target" if not entries else "has `targets` that is not an array of tables",
            "write one [[targets]] table per database:\n" + EXAMPLE,
        )
    return check(
        [_entry(e, i, source) for i, e in enumerate(entries, 1)],
        source,
    )


def from_rows(rows: Sequence[Sequence[Any]], columns: Sequence[str], source: str) -> list[Target]:
    """The targets of a `--targets-query`'s result: columns `name` and `url`, optionally `schema` (by name; other
    columns are refused so a typo does not go unnoticed). No row is an error: a fleet run that migrates
    nothing by mistake must not look green."""
    cols = [c.lower() for c in columns]
    missing = [c for c in ("name", "url") if c not in cols]
    extra = [c for c in cols if c not in _KEYS]
    if missing or extra:
        raise _bad(
            source,
            f"returns the columns {', '.join(cols) or '(none)'}; "
            + (f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(extra)}"),
            "select exactly `name` and `url` (and optionally `schema`), e.g. "
            "SELECT slug AS name, dsn AS url FROM tenants ORDER BY slug",
        )
    if not rows:
        raise _bad(source, "returned no row", "check the query's WHERE clause; a fleet run needs at least one target")
    entries = [_entry(dict(zip(cols, r, strict=True)), i, source) for i, r in enumerate(rows, 1)]
    return check(entries, source)


def check(targets: list[Target], source: str) -> list[Target]:
    """Names unique; no database+schema listed twice (two entries would race for one tracking table)."""
    seen: dict[str, int] = {}
    places: dict[tuple[str, str | None], str] = {}
    for i, t in enumerate(targets, 1):
        if t.name in seen:
            raise _bad(
                source,
                f"names two targets {t.name!r} (entries {seen[t.name]} and {i})",
                "give each target its own name",
            )
        seen[t.name] = i
        key = (t.url, t.schema)
        if key in places:
            raise _bad(
                source,
                f"lists the same database{' and schema' if t.schema else ''} twice: {places[key]!r} and {t.name!r} "
                f"({t.display})",
                "remove one of them: each database (or schema) is migrated once per run",
            )
        places[key] = t.name
    return targets


def _entry(entry: dict[str, Any], number: int, source: str) -> Target:
    label = f"target {number}" + (f" ({entry['name']!r})" if isinstance(entry.get("name"), str) else "")
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise _bad(
            source, f"{label} has an unknown key {unknown[0]!r}", "a target has `name`, `url` and optionally `schema`"
        )
    values: dict[str, Any] = {}
    for key in _KEYS:
        value = entry.get(key)
        if value is None and key == "schema":
            continue
        if not isinstance(value, str) or not value.strip():
            raise _bad(
                source,
                f"{label} has " + (f"no {key}" if value is None or value == "" else f"a {key} that is not a string"),
                f'write {key} = "..."' + (" (a postgresql:// URL)" if key == "url" else ""),
            )
        values[key] = value.strip() if key != "url" else value
    if not _NAME.fullmatch(values["name"]):
        raise _bad(source, f"{label}: the name {values['name']!r} is not a plain name",
                   "use letters, digits and _ . : @ - (at most 128 characters)")  # fmt: skip
    url = values["url"]
    if not (redact.scheme(url) in redact.POSTGRES_SCHEMES or redact.is_dsn(url)):
        raise _bad(source, f"{label}: its url {redact.summarize(url)} is not a PostgreSQL URL",
                   "write url = \"postgresql://<user>:<password>@<host>:<port>/<database>\"")  # fmt: skip
    schema = values.get("schema")
    if schema is not None:
        problem = pgvalues.identifier_problem(schema)
        if problem:
            raise _bad(
                source, f"{label}: schema {schema!r} cannot name a schema", "use a plain schema name", cause=problem
            )
    return Target(values["name"], url, schema)


def _label(source: str) -> str:
    """`source` is a file's path, or `--targets-query` for the rows of the query."""
    return source if source.startswith("--") else f"the targets file {source}"


def _bad(source: str, problem: str, fix: str, cause: str | None = None) -> ConfigError:
    return ConfigError(f"{_label(source)} {problem}", file=source if not source.startswith("--") else None,
                       cause=cause, state=_STATE, fix=fix)  # fmt: skip
