"""A loopback TCP proxy that adds a fixed one-way delay in each direction, for latency benchmarks.

    with LatencyProxy(upstream_port=5432, delay=0.010) as proxy:   # +20 ms round trip
        connect(f"postgresql://...@127.0.0.1:{proxy.port}/db")

Bytes read at time t are written at t + delay, in the order read (one FIFO per direction, so nothing
is reordered). Bounded: at most `max_connections` at once (more are closed at once), and each direction
holds at most `max_chunks` reads of at most `chunk` bytes; when full it stops reading, and TCP flow
control slows the sender. It listens on 127.0.0.1 only and runs its event loop in a daemon thread.

`turns` counts client-to-server bursts (data from the client after data from the server, or first on a
connection), summed over connections: about the number of round trips the client waited for. Of them,
`setup_turns` open connections (SSLRequest, StartupMessage) and `close_turns` only close one (Terminate);
the rest are the queries.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

TRACE_BYTES = 64 * 1024


class LatencyProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        upstream_host: str = "127.0.0.1",  # or a unix socket directory (starts with /)
        delay: float = 0.010,
        max_connections: int = 16,
        chunk: int = 64 * 1024,
        max_chunks: int = 64,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.max_connections = max_connections
        self.chunk = chunk
        self.max_chunks = max_chunks
        self.port = 0
        self.connections = 0  # accepted and served so far
        self.turns = 0
        self.setup_turns = 0  # bursts that open a connection (SSLRequest, StartupMessage: no type letter, first byte 0)
        self.close_turns = 0  # bursts that are only a Terminate ('X'): nothing is waited for
        # set to [] to keep (connection, its first TRACE_BYTES) of each client-to-server burst
        self.trace: list[tuple[int, bytes]] | None = None
        # True: a frozen network with TCP alive. Nothing is forwarded either way and new connections are accepted
        # but not connected upstream; every socket stays open (its kernel still answers keepalives). False again:
        # what was held back goes on.
        self.frozen = False
        self._active = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="latency-proxy", daemon=True)
        self._error: BaseException | None = None

    # ------------------------------------------------------------------------------ thread side
    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        if not self._ready.wait(10) or self._error:
            raise RuntimeError(f"latency proxy did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until every connection the clients closed is closed here too (its last bytes counted)."""
        deadline = time.monotonic() + timeout
        while self._active and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._active:
            raise TimeoutError(f"{self._active} connection(s) still open through the proxy after {timeout:g}s")

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by __enter__ when it happens before ready
            self._error = exc
            self._ready.set()

    # ------------------------------------------------------------------------------- loop side
    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        handlers: set[asyncio.Task[Any]] = set()

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await self._handle(reader, writer)
            finally:
                handlers.discard(task)

        srv = await asyncio.start_server(accept, "127.0.0.1", 0, limit=self.chunk)
        self.port = srv.sockets[0].getsockname()[1]
        self._ready.set()
        async with srv:
            await self._stop.wait()
            srv.close()
            for task in list(handlers):
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._active >= self.max_connections:
            client_w.close()
            return
        self._active += 1
        self.connections += 1
        upstream_w = None
        try:
            number = self.connections
            await self._thaw()
            host, port = self.upstream
            if host.startswith("/"):  # a unix socket directory, as libpq names it
                upstream_r, upstream_w = await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}", limit=self.chunk)
            else:
                upstream_r, upstream_w = await asyncio.open_connection(host, port, limit=self.chunk)
            last = ["", number, None]  # which way data went last on this connection, its number, its burst in trace
            pipes = [
                asyncio.create_task(self._pipe(client_r, upstream_w, last, "up")),
                asyncio.create_task(self._pipe(upstream_r, client_w, last, "down")),
            ]
            try:
                done, _ = await asyncio.wait(pipes, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    task.result()  # a reset on one side ends both
            finally:
                for task in pipes:
                    task.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
        except (ConnectionError, OSError):
            pass
        finally:
            self._active -= 1
            for w in (client_w, upstream_w):
                if w is not None:
                    w.close()

    async def _thaw(self) -> None:
        while self.frozen:
            await asyncio.sleep(0.02)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, last: list[Any], way: str) -> None:
        """Copy `reader` to `writer`, each read delivered `delay` seconds after it arrived."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(self.max_chunks)

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._thaw()
                if not data:  # EOF: half-close, as the sender did
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                data = await reader.read(self.chunk)
                if data and last[0] != way:
                    self.turns += way == "up"
                    self.setup_turns += way == "up" and data[:1] == b"\x00"
                    self.close_turns += way == "up" and data == b"X\x00\x00\x00\x04"
                    if way == "up" and self.trace is not None:
                        last[2] = len(self.trace)
                        self.trace.append((last[1], b""))
                    last[0] = way
                if data and way == "up" and self.trace is not None and last[2] is not None:
                    number, seen = self.trace[last[2]]
                    if len(seen) < TRACE_BYTES:
                        self.trace[last[2]] = (number, seen + data[: TRACE_BYTES - len(seen)])
                await queue.put((loop.time() + self.delay, data))
                if not data:
                    break
            await sender
        finally:
            sender.cancel()
