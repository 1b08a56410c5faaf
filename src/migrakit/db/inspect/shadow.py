"""Shadow databases: throwaway databases that hold what the migrations produce. [I/O]

A shadow lives on the embedded server by default, or on the server of `--shadow-url` / `shadow_url`
(an admin URL: migrakit creates and drops databases there, e.g. the target's own server, to match its
version and extensions). It is dropped afterwards, also when building it fails.

Building one ("all migrations" applied to it) is a step of the workflows: workflows/steps/shadow_build.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from migrakit.core.options import ShadowOptions
from migrakit.db.connect import server
from migrakit.errors import MigrakitError


def shadow_server(options: ShadowOptions) -> str:
    """Admin URL of the server that holds shadow databases: `shadow_url`, else the embedded server's (started if
    needed, left running)."""
    if options.shadow_url:
        return options.shadow_url
    from migrakit.db.connect.embedded import ensure_running

    return ensure_running(options.embedded_dir)


@contextmanager
def shadow(options: ShadowOptions, *, wait_drop: bool = True) -> Iterator[str]:
    """An empty throwaway database on the shadow server; yields its URL, drops it afterwards (without waiting for
    the server to finish when not `wait_drop`: db.lint's output does not wait for it)."""
    with server.shadow_database(shadow_server(options), wait_drop=wait_drop) as url:
        yield url


CREATE_SECONDS = 120.0  # a bound for waiting on a shadow database made on a thread


@contextmanager
def shadow_ahead(options: ShadowOptions, *, wait_drop: bool = True) -> Iterator[Callable[[], str]]:
    """`shadow`, made on a thread while the caller reads the target: yields a function returning its URL once it
    exists (a bounded wait; the thread's error, if creating it failed). Dropped afterwards. The server is found
    (the embedded one started) here first: the thread only sends CREATE DATABASE."""
    from concurrent.futures import ThreadPoolExecutor

    made = server.shadow_database(shadow_server(options), wait_drop=wait_drop)
    with ThreadPoolExecutor(1, thread_name_prefix="migrakit-shadow") as pool:
        future = pool.submit(made.__enter__)
        try:
            yield lambda: future.result(timeout=CREATE_SECONDS)
        finally:
            if future.exception(timeout=CREATE_SECONDS) is None:  # it exists: drop it
                made.__exit__(None, None, None)


@contextmanager
def failures_on_shadow() -> Iterator[None]:
    """A MigrakitError raised while building a shadow says so in its state, and its fix names --shadow-url."""
    try:
        yield
    except MigrakitError as err:
        err.state = "on a shadow database (dropped again); the target database was not touched"
        err.fix = (
            f"{err.fix or 'fix the migration'}; if the shadow server lacks an extension the migrations need, point "
            "--shadow-url (or MIGRAKIT_SHADOW_URL) at a server that has it, e.g. the target's own server"
        )
        raise


def version_note(target_url: str, shadow_url: str) -> str | None:
    """A note when the shadow server's major version differs from the target's (definitions may print
    differently across versions and show up as differences)."""
    with server.connect(target_url) as a, server.connect(shadow_url) as b:
        va, vb = server.server_version(a) // 10000, server.server_version(b) // 10000
    if va == vb:
        return None
    return (
        f"the shadow server runs PostgreSQL {vb}, the target {va}: some differences may only be how each version "
        "prints a definition; use --shadow-url with a server of the target's version to be sure"
    )
