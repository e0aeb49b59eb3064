"""A small fault-injecting TCP proxy (asyncio, in a thread of the test process): toxiproxy is in none
of the registries this project reaches, so this plays its part in front of moto's S3 server, WordPress
and Redis.

Faults, switched at any time from the test:

- ``down()``: the port refuses connections and every open connection is cut (the service is gone);
  ``up()`` listens again on the same port.
- ``latency(seconds)``: every chunk, both ways, waits that long (a slow network or a slow service).
- ``hang()``: connections are accepted and read, nothing is forwarded or answered (a black hole);
  ``heal()`` ends every fault.
"""
from __future__ import annotations

import asyncio
import threading

from tests.conftest import free_port


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, port: int | None = None):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.delay = 0.0
        self.hanging = False
        self.connections = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name=f"fault-proxy-{self.port}")
        self._thread.start()
        self.up()

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- faults ----------------------------------------------------------------------------------------
    def up(self) -> None:
        self._call(self._listen())

    def down(self) -> None:
        self._call(self._close())

    def latency(self, seconds: float) -> None:
        self.delay = float(seconds)

    def hang(self) -> None:
        self.hanging = True

    def heal(self) -> None:
        self.delay, self.hanging = 0.0, False
        if self._server is None:
            self.up()

    def close(self) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # --- the loop --------------------------------------------------------------------------------------
    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port, reuse_address=True)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            while self.hanging:
                await asyncio.sleep(0.05)
            if self.delay:
                await asyncio.sleep(self.delay)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
