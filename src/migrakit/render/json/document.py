"""Every task's `--json` output, built by typed serializers registered by report class (render/json/shapes.serializes), one module per command family: the contract in docs/json.md.

Every document is one JSON object with `schema_version` (SCHEMA_VERSION), `task`, `ok`, `exit_code`,
`database` (display text, or null), `database_url` (the URL with its password redacted, or null), `changed`,
`problems`, `warnings`, `notes` and `error` (null, or the error object), then the task's own fields. A field
has one type everywhere: lists of migrations are lists of tags (`applied`, `pending`, ...), counts are
separate `*_count` integers, a problem is always a Problem object, a migration always a Migration object.
Nothing here prints; `tasks/_run.py` prints what `document` and `error_document` return.
"""

from __future__ import annotations

import json
from typing import Any

from migrakit.errors import MigrakitError
from migrakit.render.json.shapes import SERIALIZERS, Data, error

SCHEMA_VERSION = 1
EMBEDDED_MARK = " (embedded, data in "  # session.resolve_target's display of the embedded server: "<url> (embedded, …)"


def dumps(data: Data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def url_of(display: str | None, shown_url: str | None) -> str | None:
    """The redacted URL: the configured one (`shown_url`, redacted by the caller: tasks/_run.py), else the
    embedded server's (the display text before its mark)."""
    if shown_url:
        return shown_url
    if display and EMBEDDED_MARK in display:
        return display.split(EMBEDDED_MARK, 1)[0]
    return None


def _envelope(task: str, *, exit_code: int, display: str | None, shown_url: str | None) -> Data:
    return {
        "schema_version": SCHEMA_VERSION,
        "task": task,
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "database": display,
        "database_url": url_of(display, shown_url) if display or shown_url else None,
    }


def document(task: str, result: Any, *, exit_code: int, shown_url: str | None = None) -> Data:
    """The whole document for a task's result; `shown_url`: the configured database URL, already redacted."""
    body = serialize(result)
    display = body.pop("database", None)
    base = _envelope(task, exit_code=exit_code, display=display, shown_url=shown_url if display else None)
    doc = {**base, "changed": False, "problems": [], "warnings": [], "notes": [], "error": None}
    doc.update(body)
    return doc


def error_document(task: str, err: MigrakitError, *, shown_url: str | None = None) -> Data:
    """The document of a task that failed; `shown_url`: the configured database URL, already redacted."""
    return {**_envelope(task, exit_code=err.exit_code, display=shown_url, shown_url=shown_url), "error": error(err)}


def serializer_of(cls: type) -> Any:
    """The serializer registered for `cls` (or the nearest base class). A task's renderer imports its family's
    serializers (render/check.py imports render/json/check.py, ...); any other caller gets every family loaded here
    on first use. A report class without one is a bug."""
    for klass in cls.__mro__:
        if klass in SERIALIZERS:
            return SERIALIZERS[klass]
    load_families()
    for klass in cls.__mro__:
        if klass in SERIALIZERS:
            return SERIALIZERS[klass]
    raise TypeError(f"no JSON serializer registered for {cls.__qualname__}")


def load_families() -> None:
    """Import every command family's serializers (each registers its report classes)."""
    from migrakit.render.json import (  # noqa: F401
        baseline,
        check,
        consolidate,
        embedded,
        env,
        fleet,
        generate,
        lint,
        retire,
        rollback,
        run,
        upgrade,
    )


def serialize(result: Any) -> Data:
    """The task's own fields for a report, by its class's registered serializer."""
    return serializer_of(type(result))(result)
