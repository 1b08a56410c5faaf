"""Stopping worker threads on a signal as the main thread stops on one (a fleet's targets, workflows/fleet/).

Python runs signal handlers in the main thread only: there, errors.Signalled (a KeyboardInterrupt) stops the
wait in progress, psycopg cancels the statement it waits for, and the migration's transaction is rolled back.
A thread inside `stoppable()` gets the same: `stop(signum)` raises Signalled in it (CPython's asynchronous
exception, seen at its next Python instruction) and sends libpq's cancel request for each connection it
opened through server.connect, so a statement it waits for ends at once and the exception is raised right
after. From there the thread's run ends exactly as a single run ends on Ctrl-C (steps/apply.interrupted)."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from migrakit.errors import Signalled

_lock = threading.Lock()
_threads: dict[int, list[Any]] = {}  # stoppable thread id -> the connections it opened
_kinds: dict[int, type[Signalled]] = {}  # one Signalled class per signal (an asynchronous exception is a class)


@contextmanager
def stoppable() -> Iterator[None]:
    """The current thread may be stopped by `stop` while inside."""
    ident = threading.get_ident()
    with _lock:
        _threads[ident] = []
    try:
        yield
    finally:
        with _lock:
            _threads.pop(ident, None)


def opened(conn: Any) -> None:
    """server.connect opened `conn` in this thread: a stop cancels its statement."""
    with _lock:
        conns = _threads.get(threading.get_ident())
        if conns is not None:
            conns.append(conn)


def stop(signum: int) -> int:
    """Raise Signalled(signum) in every stoppable thread and cancel the statement each of its open connections
    runs (each cancel request waits at most 5 s for the server's answer). Returns how many threads it stopped."""
    with _lock:
        stopped = dict(_threads)
        for ident in stopped:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(_kind(signum)))
    for conns in stopped.values():
        for conn in list(conns):
            try:
                if not conn.closed:
                    conn.cancel_safe(timeout=5.0)
            except (psycopg.Error, OSError):
                pass  # a connection closing meanwhile: its session rolls back on the server's side
    return len(stopped)


def _kind(signum: int) -> type[Signalled]:
    if signum not in _kinds:

        def init(self: Signalled) -> None:
            Signalled.__init__(self, signum)

        _kinds[signum] = type(f"Signalled{signum}", (Signalled,), {"__init__": init})
    return _kinds[signum]
