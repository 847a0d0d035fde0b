"""The SMTP sink over a real loopback socket into a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.config import SmtpSettings
from bot.ingest.groupcommit import GroupCommit
from bot.ingest.smtp import MailMeta, SmtpSink
from bot.store import Store

from tests.conftest import StoreTarget
from .tcpproxy import TcpProxy

SENDER = "kvm+bounces@vger.kernel.org"


def message_id(raw: bytes) -> str:
    return str(BytesHeaderParser().parsebytes(raw)["Message-ID"]).strip().strip("<>")


@asynccontextmanager
async def running_sink(store: Store, **smtp: Any) -> AsyncIterator[SmtpSink]:
    """The sink wired to the store as bot.app wires it: group commits of ingest_many."""

    async def commit(mails: list[tuple[bytes, str]]) -> None:
        await store.ingest_many(mails, source="smtp")

    commits: GroupCommit[tuple[bytes, str]] = GroupCommit(commit)

    async def deliver(raw: bytes, meta: MailMeta) -> None:
        await commits.submit((raw, meta.source_ref))

    sink = SmtpSink(SmtpSettings(port=0, **smtp), deliver)
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


def wire(raw: bytes) -> bytes:
    """SMTP carries CRLF lines (smtplib sends bytes as given)."""
    return raw.replace(b"\n", b"\r\n")


def _send(port: int, raw: bytes, rcpt: str, tls: ssl.SSLContext | None) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=30) as client:
        if tls is not None:
            client.starttls(context=tls)
        return client.sendmail(SENDER, [rcpt], wire(raw))


async def send(sink: SmtpSink, raw: bytes, rcpt: str = "kvm@localhost", tls: ssl.SSLContext | None = None) -> None:
    """smtplib in a thread, so the sink keeps running in this loop."""
    await asyncio.to_thread(_send, sink.address[1], raw, rcpt, tls)


async def stored_elsewhere(store_target: StoreTarget, mid: str) -> bytes | None:
    """Read the mail through a connection of its own: proves it was committed."""
    if store_target.sqlite_file is not None:
        with sqlite3.connect(store_target.sqlite_file) as con:
            row = con.execute("SELECT message_id FROM mails WHERE message_id = ?", (mid,)).fetchone()
        return row[0].encode() if row else None
    other = await store_target.open()
    try:
        return await other.raw(mid)
    finally:
        await other.close()


async def test_250_only_after_commit(store: Store, store_target: StoreTarget, seed_mails: list[bytes]) -> None:
    raw = seed_mails[0]
    async with running_sink(store) as sink:
        await send(sink, raw)
        # sendmail has returned: the 250 arrived, so the row must already be there.
        assert await stored_elsewhere(store_target, message_id(raw)) is not None
    stored = await store.raw(message_id(raw))
    assert stored == raw  # CRLF on the wire, stored as the archives hold it
    assert sink.handler.delivered == 1


async def test_same_mail_twice_is_stored_once(store: Store, seed_mails: list[bytes]) -> None:
    async with running_sink(store) as sink:
        await send(sink, seed_mails[1])
        await send(sink, seed_mails[1])
        await send(sink, seed_mails[2])
    assert await store.count("mails") == 2


async def test_unknown_recipient_is_550_at_rcpt(store: Store, seed_mails: list[bytes]) -> None:
    async with running_sink(store, recipients=["kvm@bot.example", "@lists.example"]) as sink:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            await send(sink, seed_mails[0], rcpt="kvm@localhost")
        code, text = err.value.recipients["kvm@localhost"]
        assert code == 550 and text.startswith(b"5.1.1")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            await send(sink, seed_mails[0], rcpt="relay@elsewhere.example")
        await send(sink, seed_mails[0], rcpt="KVM@bot.example")
        await send(sink, seed_mails[1], rcpt="anyone@lists.example")
    assert await store.count("mails") == 2


async def test_over_size_limit_is_552(store: Store, seed_mails: list[bytes]) -> None:
    big = seed_mails[0] + (b"y" * 70 + b"\n") * 200  # about 14 KiB more
    async with running_sink(store, max_message_size=8192) as sink:
        # smtplib announces SIZE=...: refused at MAIL.
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            await send(sink, big)
        assert err.value.smtp_code == 552

        # A client that does not announce the size is refused after DATA.
        def unannounced() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", sink.address[1], local_hostname="c.test", timeout=30) as c:
                c.ehlo()
                assert c.mail(SENDER)[0] == 250
                assert c.rcpt("kvm@localhost")[0] == 250
                return c.data(wire(big))

        code, _ = await asyncio.to_thread(unannounced)
        assert code == 552
        await send(sink, seed_mails[0])  # under the limit: accepted
    assert await store.count("mails") == 1


async def test_list_id_filter(store: Store, seed_mails: list[bytes]) -> None:
    other = seed_mails[1].replace(b"List-Id: <kvm.vger.kernel.org>", b"List-Id: Other <netdev.vger.kernel.org>")
    missing = seed_mails[2].replace(b"List-Id: <kvm.vger.kernel.org>\n", b"")
    async with running_sink(store, list_ids=["KVM.vger.kernel.org"]) as sink:
        await send(sink, seed_mails[0])
        for raw in (other, missing):
            with pytest.raises(smtplib.SMTPDataError) as err:
                await send(sink, raw)
            assert err.value.smtp_code == 550 and err.value.smtp_error.startswith(b"5.7.1")
    assert await store.count("mails") == 1


async def test_client_network_filter(store: Store, seed_mails: list[bytes]) -> None:
    async with running_sink(store, client_networks=["10.0.0.0/8", "fd00::/8"]) as sink:
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            await send(sink, seed_mails[0])
        assert err.value.smtp_code == 550
    async with running_sink(store, client_networks=["10.0.0.0/8", "127.0.0.0/8"]) as sink:
        await send(sink, seed_mails[0])
    assert await store.count("mails") == 1


async def test_starttls_required(store: Store, seed_mails: list[bytes], self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    async with running_sink(store, tls_cert=cert, tls_key=key, require_tls=True) as sink:
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            await send(sink, seed_mails[0])
        assert err.value.smtp_code == 530
        assert await store.count("mails") == 0
        # The client verifies our self-signed certificate against itself.
        await send(sink, seed_mails[0], tls=ssl.create_default_context(cafile=str(cert)))
    assert await store.count("mails") == 1
    (ref,) = [m.source_ref for m in await store.mails()]
    assert ref is not None and ref.startswith("smtp 127.0.0.1:")


async def test_451_while_the_database_is_down_then_lands_once(
    store_target: StoreTarget, seed_mails: list[bytes]
) -> None:
    raw = seed_mails[3]
    if store_target.sqlite_file is not None:
        store = await store_target.open()
        # Another process holds the write lock: the store's writes time out.
        blocker = sqlite3.connect(store_target.sqlite_file, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")

        async def restore() -> None:
            blocker.execute("ROLLBACK")
            blocker.close()
    else:
        # PostgreSQL behind a loopback forwarder that we cut: connections refused.
        url = make_url(store_target.url)
        proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        await proxy.start()
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        store = await store_target.open(proxied)
        await proxy.cut()

        async def restore() -> None:
            await proxy.start()

    try:
        async with running_sink(store) as sink:
            with pytest.raises(smtplib.SMTPDataError) as err:
                await send(sink, raw)
            assert err.value.smtp_code == 451 and err.value.smtp_error.startswith(b"4.3.0")
            await restore()
            await send(sink, raw)  # the list server's retry
            await send(sink, raw)  # and a duplicate retry changes nothing
        assert await store.count("mails") == 1
        assert await store.raw(message_id(raw)) == raw
    finally:
        await store.close()


async def test_client_hanging_up_mid_commit_still_commits(tmp_path: Path, seed_mails: list[bytes]) -> None:
    db = tmp_path / "hangup.db"
    store = await Store.open(f"sqlite+aiosqlite:///{db}")
    started = asyncio.Event()

    async def deliver(raw: bytes, meta: MailMeta) -> None:
        started.set()
        await store.ingest(raw, source="smtp", source_ref=meta.source_ref)

    sink = SmtpSink(SmtpSettings(port=0), deliver)
    await sink.start()
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the commit has to wait
    try:
        reader, writer = await asyncio.open_connection(*sink.address)
        for line in (b"EHLO t\r\n", b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<kvm@localhost>\r\n", b"DATA\r\n"):
            writer.write(line)
        writer.write(wire(seed_mails[7]) + b".\r\n")
        await asyncio.wait_for(started.wait(), 30)
        writer.close()  # gone before the 250
        blocker.execute("ROLLBACK")
        await asyncio.wait_for(sink.handler.drain(), 30)
        assert await store.raw(message_id(seed_mails[7])) == seed_mails[7]
    finally:
        blocker.close()
        await sink.stop()
        await store.close()
