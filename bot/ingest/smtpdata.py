"""aiosmtpd's SMTP with DATA read in bulk rather than line by line.

aiosmtpd 1.4.6 reads DATA with one `readuntil(CRLF)` per line (about 190 for a
typical patch mail): a third of the sink's CPU per mail. This reads up to each
".CRLF" instead and keeps aiosmtpd's rules: only CRLF "." CRLF ends the data
(a bare-LF dot does not: no SMTP smuggling), leading dots are unstuffed, over
`data_size_limit` answers 552 once the data has ended, a line over 1000 octets
answers 500, and a connection lost mid-DATA stops the session.
"""

from __future__ import annotations

import asyncio
import re

from aiosmtpd.smtp import MISSING, SMTP, syntax

_DOT_CRLF = b".\r\n"
_CRLF = b"\r\n"
# A dot at the start of any line but the first (handled apart): dot-stuffing.
_STUFFED = re.compile(rb"(?<=\r\n)\.")
_HARD_CAP = 64 * 1024 * 1024  # the reader's limit when data_size_limit is None


def unstuff(data: bytes) -> bytes:
    if data.startswith(b"."):
        data = data[1:]
    return _STUFFED.sub(b"", data) if b"\r\n." in data else data


class BulkDataSMTP(SMTP):
    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            data, too_big = await self._read_data()
        except asyncio.CancelledError:
            self._writer.close()  # the connection went away during DATA
            raise
        if too_big:
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
        if max(map(len, data.split(_CRLF))) > self.line_length_limit - 2:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            self._set_post_data_state()
            return
        content = unstuff(data)
        self.envelope.content = content
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA") if "DATA" in self._handle_hooks else MISSING
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def _read_data(self) -> tuple[bytes, bool]:
        """(the data before CRLF.CRLF with its last CRLF, whether it was over the limit)."""
        reader = self._reader
        limit = self.data_size_limit
        # StreamReader's limit (a private attribute; aiosmtpd sets it to the
        # command line limit) must cover a whole mail for one readuntil.
        saved = reader._limit  # type: ignore[attr-defined]
        reader._limit = (limit or _HARD_CAP) + len(_DOT_CRLF)  # type: ignore[attr-defined]
        parts: list[bytes] = []
        size = 0
        too_big = False
        at_line_start = True  # just after DATA, and after every CRLF
        try:
            while True:
                try:
                    chunk = await reader.readuntil(_DOT_CRLF)
                except asyncio.LimitOverrunError as err:
                    # Over the limit without an end in sight: drop what we have.
                    chunk = await reader.readexactly(err.consumed)
                    too_big = True
                    parts.clear()
                    at_line_start = chunk.endswith(_CRLF)
                    continue
                except asyncio.IncompleteReadError as err:
                    raise ConnectionResetError("connection closed during DATA") from err
                body = chunk[: -len(_DOT_CRLF)]
                # ".CRLF" ends the data only as a line of its own.
                ends = body.endswith(_CRLF) or (not body and at_line_start)
                size += len(body) if ends else len(chunk)
                if limit and size > limit:
                    too_big = True
                    parts.clear()
                if not too_big:
                    parts.append(body if ends else chunk)
                if ends:
                    return b"".join(parts), too_big
                at_line_start = True  # the chunk ended with CRLF
        finally:
            reader._limit = saved  # type: ignore[attr-defined]
