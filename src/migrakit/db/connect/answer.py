"""A client-side bound on every round trip: a server that stops answering ends the wait, exit 6. [I/O]

TCP keepalives and `tcp_user_timeout` (server.connect) notice a peer that is gone, not one that is frozen: a
proxy that stops forwarding while its kernel keeps the sockets open acknowledges every keepalive and every byte
sent. And a statement that runs (a migration's own work, unbounded by default) is, from the client, the same
silence as a frozen network. So every wait for the server on a connection opened by server.connect is watched:
once `seconds` (the `network_timeout` setting) went by without a byte from the server, a new connection to the
same address is opened beside the wait, sends the first message of every PostgreSQL client (SSLRequest), and
is given `seconds` for any answer. The server (or a pooler) answers it at once, before any authentication (a
slow LDAP server or a full pool does not delay it) and without starting a session; refused counts as an answer
too. A live server answers and the wait goes on, so a long statement is never cut; a byte arriving on the
waiting connection meanwhile ends the check too. No answer either: the waiting connection's socket is shut down
(libpq reports it lost, as a server restart would be) and NoAnswer is raised, psycopg's ConnectionFailure saying
"no answer from <host:port> for N s", within 2 x `seconds` of the start of the silence. Every handler of a lost
connection reports it (exit 6); session._lost, `told` and tasks' run_core lead with it.

Waits watched: psycopg's own (execute, fetch, commit, a pipeline's sync: Answering.wait) and migrakit's socket
loops (simple_query, pipeline's drain and Commands: Quiet.select). Connecting is bounded by `connect_timeout`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import selectors
import socket
import struct
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from time import monotonic
from typing import Any, TypeVar

import psycopg

from migrakit.errors import DatabaseUnavailable

RV = TypeVar("RV")

DEFAULT_SECONDS = 30.0  # core.settings.Settings.network_timeout's default
_PROBE_STEP = 0.1  # how often a pending check is looked at (the waiting connection is watched meanwhile)
_seconds = DEFAULT_SECONDS


def within(seconds: float) -> None:
    """The bound of connections opened from now on in this process: the command's `network_timeout` (0: none).
    session.resolve_target sets it from the settings of every command that connects."""
    global _seconds
    _seconds = seconds


def where(conn: psycopg.Connection[Any]) -> str:
    """`host:port` of `conn` (the unix socket's path for a local one): no user, no password."""
    host, port = conn.info.host, conn.info.port
    return f"{host}/.s.PGSQL.{port}" if host.startswith(("/", "@")) else f"{host}:{port}"


def _address(conn: psycopg.Connection[Any]) -> tuple[int, Any]:
    """(address family, socket address) of the server `conn` is connected to: the same route, the same host
    of a multi-host URL (libpq's hostaddr, no new name lookup when it has one)."""
    info = conn.info
    host, port = info.host, int(info.port)
    if host.startswith("/"):
        return socket.AF_UNIX, f"{host}/.s.PGSQL.{port}"
    if host.startswith("@"):  # Linux's abstract namespace
        return socket.AF_UNIX, f"\0{host[1:]}/.s.PGSQL.{port}"
    family, _, _, _, address = socket.getaddrinfo(info.hostaddr or host, port, type=socket.SOCK_STREAM)[0]
    return family, address


_SSL_REQUEST = struct.pack("!ii", 8, 80877103)  # the protocol's SSLRequest: length 8, code 1234.5679


class NoAnswer(psycopg.errors.ConnectionFailure):
    """The server at `where` sent nothing for `seconds` while migrakit waited, and a new connection to it got no
    answer within `seconds` either. The connection is lost (libpq's status is BAD): a lost connection to every
    handler, whose text says why."""

    def __init__(self, where: str, seconds: float) -> None:
        super().__init__(
            f"no answer from {where} for {seconds:g} s, and a new connection to it got none within {seconds:g} s"
        )
        self.where, self.seconds = where, seconds

    def __reduce__(self) -> Any:  # pickles (multiprocessing, pytest-xdist) as its two fields
        return (NoAnswer, (self.where, self.seconds))

    @property
    def headline(self) -> str:
        return f"no answer from {self.where} for {self.seconds:g} s"

    @property
    def fix(self) -> str:
        return (
            "the server or something on the way (a proxy, a load balancer, the network) stopped answering while the "
            "TCP connection stayed open; find out why, then run the command again (`inv db.status` shows what is "
            f"applied); network_timeout={self.seconds:g}s: raise it if the route is only slow"
        )

    def unavailable(self, state: str) -> DatabaseUnavailable:
        """This as the error a command ends with (exit 6)."""
        cause = f"a new connection to {self.where} got no answer within {self.seconds:g} s either"
        return DatabaseUnavailable(self.headline, cause=cause, state=state, fix=self.fix)


# The state a NoAnswer that no step of the command translated ends with (tasks/_run.py, the fleet's targets).
STOPPED = (
    "the command stopped at that wait: a transaction it had open is rolled back by the server once it sees the "
    "connection close; what it printed above is what it did (`inv db.status` shows what is applied)"
)


class Quiet:
    """One wait for the server on `conn`: how long it has gone without a byte, and the check (a new connection)
    started once that reached `seconds`. `seconds` 0: never checks."""

    def __init__(self, conn: psycopg.Connection[Any], seconds: float) -> None:
        self.conn, self.seconds = conn, seconds
        self.heard_at = monotonic()
        self._check: socket.socket | None = None
        self._asked = False  # the check's SSLRequest is sent
        self._check_until = 0.0

    def __enter__(self) -> Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def heard(self) -> None:
        """A byte came from the server: the clock starts again, a pending check is dropped."""
        self.heard_at = monotonic()
        self.close()

    def step(self) -> float | None:
        """How long the wait may sleep before `tick` has something to do (None: no bound)."""
        if not self.seconds:
            return None
        if self._check is not None:
            return _PROBE_STEP
        return max(0.0, self.heard_at + self.seconds - monotonic())

    def tick(self) -> None:
        """Start the check once `seconds` went by without a byte, advance it; an answered one restarts the clock.
        Raise NoAnswer (the socket shut down) when it got no answer within `seconds` either."""
        if not self.seconds:
            return
        now = monotonic()
        if self._check is None:
            if now - self.heard_at >= self.seconds:
                self._start(now)
            return
        if self._answered():
            self.heard()
        elif now >= self._check_until:
            self.close()
            raise self._fire()

    def select(self, read: bool = True, write: bool = False, seconds: float = 1.0) -> tuple[bool, bool]:
        """select() on the connection's socket for at most `seconds`, watched: (readable, writable)."""
        sock = self.conn.pgconn.socket
        step = self.step()
        readable, writable, _ = select.select(
            [sock] if read else [], [sock] if write else [], [], seconds if step is None else min(seconds, step)
        )
        if readable:
            self.heard()
        else:
            self.tick()
        return bool(readable), bool(writable)

    def close(self) -> None:
        """Drop a pending check (its socket closed now)."""
        if self._check is not None:
            self._check.close()
            self._check = None

    def _start(self, now: float) -> None:
        """Connect a socket to the server's address without waiting; refused at once is an answer."""
        try:
            family, address = _address(self.conn)
            self._check = socket.socket(family, socket.SOCK_STREAM)
            self._check.setblocking(False)
            if self._check.connect_ex(address) not in (0, errno.EINPROGRESS, errno.EAGAIN):
                raise ConnectionRefusedError
        except (OSError, psycopg.Error, ValueError):
            self.close()
            self.heard_at = now
            return
        self._asked = False
        self._check_until = now + self.seconds

    def _answered(self) -> bool:
        """Whether the check got an answer, looked at without waiting: its connection refused or ended, or any
        byte in answer to its SSLRequest (the first message of every PostgreSQL client; the server, or a
        pooler, answers it at once, before any authentication, and no session starts)."""
        sock = self._check
        assert sock is not None
        try:
            if not self._asked:
                if not select.select([], [sock], [], 0)[1]:
                    return False  # still connecting
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    return True  # refused or unreachable: an answer (a dead route is the keepalives' to find)
                sock.send(_SSL_REQUEST)
                self._asked = True
            if not select.select([sock], [], [], 0)[0]:
                return False
            sock.recv(1)  # 'S', 'N', an error, or the end: all answers
        except OSError:
            pass
        return True

    def _fire(self) -> NoAnswer:
        """Shut the socket down both ways and let libpq see it (the connection is lost, its status BAD)."""
        err = NoAnswer(where(self.conn), self.seconds)
        with contextlib.suppress(OSError, psycopg.Error):
            sock = socket.socket(fileno=os.dup(self.conn.pgconn.socket))
            try:
                sock.shutdown(socket.SHUT_RDWR)
            finally:
                sock.close()
        with contextlib.suppress(OSError, psycopg.Error):
            self.conn.pgconn.consume_input()
        if isinstance(self.conn, Answering):
            self.conn.no_answer = err
        return err


def quiet(conn: psycopg.Connection[Any]) -> Quiet:
    """A watched wait on `conn`: its bound when server.connect opened it, none otherwise."""
    return Quiet(conn, conn.answer_seconds if isinstance(conn, Answering) else 0.0)


class Answering(psycopg.Connection[Any]):
    """A psycopg connection whose waits for the server are watched (module docstring). `no_answer`: the
    NoAnswer that ended it, if one did."""

    answer_seconds = 0.0
    no_answer: NoAnswer | None = None

    def wait(self, gen: Generator[Any, Any, RV], *args: Any, **kwargs: Any) -> RV:
        if not self.answer_seconds:
            return super().wait(gen, *args, **kwargs)
        watch = Quiet(self, self.answer_seconds)
        try:
            return super().wait(_watched(gen, watch), *args, **kwargs)
        finally:
            watch.close()


def open_watched(conninfo: str, **options: Any) -> Answering:
    """psycopg.connect(conninfo, **options), its waits watched with the bound set by `within` (server.connect
    adds its defaults to the options)."""
    conn = Answering.connect(conninfo, **options)
    conn.answer_seconds = _seconds
    return conn


def _watched(gen: Generator[Any, Any, RV], watch: Quiet) -> Generator[Any, Any, RV]:
    """`gen` as psycopg's wait drives it: a byte to read tells `watch` the server is heard; every other wake-up
    (psycopg wakes the generator every 0.1 s to let a Ctrl-C in) ticks it. A Ctrl-C that lands in the tick is
    handled as psycopg handles one in its wait: the statement is cancelled, the generator runs to its end (the
    cancel's error, or NoAnswer), then the interrupt is raised."""
    interrupted: BaseException | None = None
    try:
        waiting = next(gen)
        while True:
            ready = yield waiting
            if ready and ready & selectors.EVENT_READ:
                watch.heard()
            else:
                try:
                    watch.tick()  # also while a cancel is awaited: a silent server ends that wait too
                except KeyboardInterrupt as exc:
                    if interrupted is None:
                        interrupted = exc
                        with contextlib.suppress(psycopg.Error, OSError):
                            watch.conn.cancel_safe(timeout=5.0)
            waiting = gen.send(ready)
    except StopIteration as end:
        if interrupted is not None:
            raise interrupted from None
        return end.value
    except psycopg.Error:
        if interrupted is not None:
            raise interrupted from None
        raise


@contextmanager
def told(*conns: Any) -> Iterator[None]:
    """A lost-connection error (DatabaseUnavailable) raised in the block, when silence on one of `conns` ended
    it, leads with that ("no answer from ... for N s: <the error, with what it says of the state>"); a NoAnswer
    no step translated is the error, with the state STOPPED."""
    try:
        yield
    except NoAnswer as exc:
        raise exc.unavailable(STOPPED) from None
    except DatabaseUnavailable as err:
        silent = next((c.no_answer for c in conns if isinstance(c, Answering) and c.no_answer), None)
        if silent is None or err.message.startswith(silent.headline):
            raise
        err.message = f"{silent.headline}: {err.message}"
        err.fix = silent.fix
        raise
