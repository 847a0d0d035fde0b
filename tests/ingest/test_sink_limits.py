"""The sink's limits over real sockets: connections in total and per client,
idle connections (NOOP does not keep one forever), DATA held in memory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import SmtpSettings
from bot.ingest.smtp import MailMeta, SmtpSink
from bot.ingest.smtpdata import DataBudget
from bot.ingest.smtpguard import ConnectionGate

from .test_smtp import send


@pytest.fixture
async def sink_factory() -> AsyncIterator[Any]:
    made: list[SmtpSink] = []

    async def make(got: list[bytes] | None = None, **smtp: Any) -> SmtpSink:
        async def deliver(raw: bytes, meta: MailMeta) -> None:
            if got is not None:
                got.append(raw)

        sink = SmtpSink(SmtpSettings(port=0, **smtp), deliver)
        await sink.start()
        made.append(sink)
        return sink

    yield make
    for sink in made:
        await sink.stop()


async def _reply(reader: asyncio.StreamReader) -> bytes:
    line = await reader.readline()
    while line[3:4] == b"-":
        line = await reader.readline()
    return line


async def _connect(sink: SmtpSink) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection(*sink.address)
    return reader, writer, await _reply(reader)


async def test_50_idle_connections_are_closed_and_cannot_lock_the_sink_out(sink_factory: Any, seed_mails: list[bytes]) -> None:
    idle = 1.0
    got: list[bytes] = []
    sink = await sink_factory(got, max_connections=50, max_connections_per_client=50, idle_timeout_seconds=idle)
    conns = [await _connect(sink) for _ in range(50)]
    assert {greeting[:3] for _, _, greeting in conns} == {b"220"}
    for _, writer, _ in conns:
        writer.write(b"EHLO idle.test\r\n")
    assert {(await _reply(r))[:3] for r, _, _ in conns} == {b"250"}
    assert sink.gate.open == 50

    # The 51st is turned away while they hold every slot.
    reader, writer, greeting = await _connect(sink)
    assert greeting.startswith(b"421 4.7.0") and await reader.read() == b""
    writer.close()

    async def noop_until_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        """A client keeping its connection open with NOOPs: aiosmtpd's timeout restarts at each."""
        last = b""
        while not reader.at_eof():
            writer.write(b"NOOP\r\n")
            line = await _reply(reader)
            if not line:
                break
            last = line
            if line.startswith(b"421"):
                break
            await asyncio.sleep(idle / 5)  # pacing the client, well inside the timeout
        return last

    async def quiet_until_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
        return (await reader.read()).strip()

    start = time.monotonic()
    lasts = await asyncio.wait_for(
        asyncio.gather(*(noop_until_closed(r, w) if i < 10 else quiet_until_closed(r, w) for i, (r, w, _) in enumerate(conns))),
        timeout=30,
    )
    took = time.monotonic() - start
    assert all(last.startswith(b"421 4.4.2") for last in lasts), set(lasts)
    assert took < 10 * idle  # the NOOP clients too: not kept open by their NOOPs
    for _, writer, _ in conns:
        writer.close()
    assert sink.gate.open == 0
    await send(sink, seed_mails[0])  # room again for the list server
    assert len(got) == 1


class _WatchedGate(ConnectionGate):
    """The real gate, telling when a connection has been released."""

    def __init__(self, total: int, per_client: int) -> None:
        super().__init__(total, per_client)
        self.released = asyncio.Event()

    def release(self, host: str) -> None:
        super().release(host)
        self.released.set()


async def test_connections_per_client_host_are_capped(sink_factory: Any) -> None:
    sink = await sink_factory(max_connections=10, max_connections_per_client=2)
    sink.gate = gate = _WatchedGate(10, 2)  # the protocols made from now on count here
    a = await _connect(sink)
    b = await _connect(sink)
    reader, writer, greeting = await _connect(sink)
    assert greeting.startswith(b"421 4.7.0") and b"from your host" in greeting
    writer.close()
    assert (a[2][:3], b[2][:3]) == (b"220", b"220")
    a[1].close()
    await asyncio.wait_for(gate.released.wait(), 30)  # the server saw it go
    c = await _connect(sink)
    assert c[2][:3] == b"220"
    for conn in (b, c):
        conn[1].close()


class _Watched(DataBudget):
    """The real budget, telling when DATA held reaches a mark."""

    def __init__(self, limit: int, mark: int) -> None:
        super().__init__(limit)
        self.mark = mark
        self.reached = asyncio.Event()

    def take(self, n: int) -> bool:
        ok = super().take(n)
        if self.used >= self.mark:
            self.reached.set()
        return ok


async def test_data_held_by_all_sessions_is_capped_with_451(sink_factory: Any) -> None:
    mib = 1024 * 1024
    got: list[bytes] = []
    sink = await sink_factory(got, max_buffered_data=mib, max_message_size=4 * mib)
    # The protocols made from now on share it. The reader hands DATA on in
    # pieces of CHUNK (256 KiB): of 900 KiB sent, 768 KiB are held, the rest buffered.
    sink.budget = budget = _Watched(mib, 700 * 1024)

    async def envelope() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer, _ = await _connect(sink)
        for cmd in (b"EHLO t\r\n", b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<kvm@localhost>\r\n", b"DATA\r\n"):
            writer.write(cmd)
            await _reply(reader)
        return reader, writer

    line = b"x" * 78 + b"\r\n"
    slow_r, slow_w = await envelope()
    slow_w.write(b"S: slow\r\n\r\n" + line * (900 * 1024 // 80))  # 900 KiB, no end yet
    await asyncio.wait_for(budget.reached.wait(), 30)

    fast_r, fast_w = await envelope()
    fast_w.write(b"S: fast\r\n\r\n" + line * (700 * 1024 // 80) + b".\r\n")
    assert (await _reply(fast_r)).startswith(b"451 4.3.1")

    slow_w.write(b".\r\n")
    assert (await _reply(slow_r)).startswith(b"250")
    assert budget.used == 0
    fast_w.write(b"MAIL FROM:<a@b>\r\n")  # the retry, on the same session
    await _reply(fast_r)
    fast_w.write(b"RCPT TO:<kvm@localhost>\r\nDATA\r\n")
    await _reply(fast_r)
    await _reply(fast_r)
    fast_w.write(b"S: fast\r\n\r\n" + line * (700 * 1024 // 80) + b".\r\n")
    assert (await _reply(fast_r)).startswith(b"250")
    assert [m[:7] for m in got] == [b"S: slow", b"S: fast"]
    for w in (slow_w, fast_w):
        w.close()


def _non_loopback_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    import socket

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: it only picks the route's source address
        addr = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if addr.startswith("127.") else addr


async def test_only_loopback_clients_by_default(sink_factory: Any, seed_mails: list[bytes]) -> None:
    import smtplib

    assert [str(n) for n in SmtpSettings().client_networks] == ["127.0.0.0/8", "::1/128"]
    addr = _non_loopback_address()
    if addr is None:
        pytest.skip("this machine has no address but loopback")
    sink = await sink_factory(host="0.0.0.0")

    def from_outside() -> int:
        with smtplib.SMTP(addr, sink.address[1], local_hostname="c.test", timeout=30) as c:
            c.ehlo()
            return c.mail("a@b")[0]

    assert await asyncio.to_thread(from_outside) == 550
    await send(sink, seed_mails[0])  # 127.0.0.1 is in
