"""Bulk DATA reading against aiosmtpd's own line-by-line DATA: same replies, same bytes.

Raw sockets, so the tests choose how the bytes are split across writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiosmtpd.smtp import SMTP

from bot.config import SmtpSettings
from bot.ingest.smtp import MailMeta, SmtpSink
from bot.ingest.smtpdata import BulkDataSMTP

LIMIT = 4096


@pytest.fixture(params=[SMTP, BulkDataSMTP], ids=["aiosmtpd", "bulk"])
async def sink(request: pytest.FixtureRequest) -> AsyncIterator[tuple[SmtpSink, list[bytes]]]:
    got: list[bytes] = []

    async def deliver(raw: bytes, meta: MailMeta) -> None:
        got.append(raw)

    s = SmtpSink(SmtpSettings(port=0, max_message_size=LIMIT), deliver)
    s.protocol_class = request.param
    await s.start()
    yield s, got
    await s.stop()


async def _session(port: int, pieces: list[bytes]) -> list[bytes]:
    """Send an envelope, then `pieces` (one write each) after the 354; the replies."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies = []

    async def reply() -> bytes:
        line = await reader.readline()
        while line[3:4] == b"-":
            line = await reader.readline()
        return line

    await reply()
    for cmd in (b"EHLO t\r\n", b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<kvm@localhost>\r\n", b"DATA\r\n"):
        writer.write(cmd)
        replies.append(await reply())
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
    replies.append(await reply())
    writer.write(b"NOOP\r\n")  # the session goes on after DATA
    replies.append(await reply())
    writer.close()
    return [r[:3] for r in replies]


CASES = {
    "plain": ([b"Subject: x\r\n\r\nbody\r\n.\r\n"], b"Subject: x\n\nbody\n"),
    "dot-stuffed": ([b"Subject: x\r\n\r\n..a\r\n...\r\nThanks.\r\n.\r\n"], b"Subject: x\n\n.a\n..\nThanks.\n"),
    "empty": ([b".\r\n"], b""),
    "first line stuffed": ([b"..x\r\n.\r\n"], b".x\n"),
    "split terminator": ([b"Subject: y\r\n\r\nok.\r", b"\n.", b"\r\n"], b"Subject: y\n\nok.\n"),
    "bare LF dot is data": ([b"S: z\r\n\r\na\n.\nb\r\n.\r\n"], b"S: z\n\na\n.\nb\n"),
    "dot line then end": ([b"S: z\r\n\r\nEnd.\r\n", b".\r\n"], b"S: z\n\nEnd.\n"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_same_bytes_as_aiosmtpd(sink: tuple[SmtpSink, list[bytes]], case: str) -> None:
    s, got = sink
    pieces, stored = CASES[case]
    assert await _session(s.address[1], pieces) == [b"250", b"250", b"250", b"354", b"250", b"250"]
    assert got == [stored]


async def test_over_limit_is_552_and_the_session_goes_on(sink: tuple[SmtpSink, list[bytes]]) -> None:
    s, got = sink
    big = [b"S: big\r\n\r\n"] + [b"x" * 70 + b"\r\n"] * (2 * LIMIT // 72) + [b".\r\n"]
    assert (await _session(s.address[1], big))[-2:] == [b"552", b"250"]
    huge = [b"S: huge\r\n\r\n" + (b"y" * 70 + b"\r\n") * (40 * LIMIT // 72) + b".\r\n"]  # past the reader limit
    assert (await _session(s.address[1], huge))[-2:] == [b"552", b"250"]
    assert got == []
    assert (await _session(s.address[1], [b"S: ok\r\n\r\nfits\r\n.\r\n"]))[-2] == b"250"
    assert got == [b"S: ok\n\nfits\n"]


async def test_long_lines_and_bare_lf_are_data_stored_as_received() -> None:
    """What a real MTA relays: a 3,000-octet line, and a mail in bare LF lines
    (one "line" of 2 KB for SMTP). aiosmtpd answers 500, a permanent refusal."""
    got: list[bytes] = []

    async def deliver(raw: bytes, meta: MailMeta) -> None:
        got.append(raw)

    s = SmtpSink(SmtpSettings(port=0), deliver)
    await s.start()
    try:
        long_line = b"S: l\r\n\r\n" + b"z" * 3000 + b"\r\nend\r\n.\r\n"
        bare_lf = b"S: b\n\n" + b"".join(b"line %d of a bare-LF mail\n" % i for i in range(80)) + b"\r\n.\r\n"
        assert len(bare_lf) > 2000
        for data in (long_line, bare_lf):
            assert await _session(s.address[1], [data]) == [b"250", b"250", b"250", b"354", b"250", b"250"]
    finally:
        await s.stop()
    assert got == [b"S: l\n\n" + b"z" * 3000 + b"\nend\n", bare_lf[:-5] + b"\n"]


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 4, 5, 6])
async def test_a_mail_bigger_than_a_read_chunk_ends_where_its_terminator_is(cut: int) -> None:
    """A mail several reader chunks long, its CRLF.CRLF split across writes at
    every place: same bytes as the mail (and no end found in a bare-LF dot)."""
    from bot.ingest.smtpdata import CHUNK

    got: list[bytes] = []

    async def deliver(raw: bytes, meta: MailMeta) -> None:
        got.append(raw)

    s = SmtpSink(SmtpSettings(port=0, max_message_size=4 * CHUNK), deliver)
    await s.start()
    try:
        lines = b"".join(b"..%06d stuffed, then text to fill the line\r\n" % i for i in range(CHUNK // 24))
        data = b"S: big\r\n\r\n" + lines + b"a\n.\nb" + b"\r\n.\r\n"
        end = len(data) - 5 + cut
        assert await _session(s.address[1], [data[:end], data[end:]]) == [b"250"] * 3 + [b"354", b"250", b"250"]
    finally:
        await s.stop()
    unstuffed = (b"S: big\r\n\r\n" + lines).replace(b"\r\n..", b"\r\n.")
    assert got == [(unstuffed + b"a\n.\nb\r\n").replace(b"\r\n", b"\n")]


def test_the_private_aiosmtpd_names_are_checked_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.ingest import smtpdata

    smtpdata._check_private_names()  # the installed aiosmtpd has them all
    monkeypatch.setattr(smtpdata, "AIOSMTPD_METHODS", smtpdata.AIOSMTPD_METHODS + ("_gone_in_a_new_release",))
    monkeypatch.setattr(smtpdata, "AIOSMTPD_ATTRIBUTES", {"__init__": ("_handle_hooks", "_renamed_attr")})
    with pytest.raises(ImportError, match=r"lacks what bot.ingest relies on: _gone_in_a_new_release, _renamed_attr;"):
        smtpdata._check_private_names()
