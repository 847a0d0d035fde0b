"""aiosmtpd's SMTP with DATA read in bulk rather than line by line.

aiosmtpd 1.4.6 reads DATA with one `readuntil(CRLF)` per line (about 190 for a
typical patch mail): a third of the sink's CPU per mail. This reads up to each
".CRLF" instead, in pieces of at most `CHUNK` bytes, and keeps aiosmtpd's
rules: only CRLF "." CRLF ends the data (a bare-LF dot does not: no SMTP
smuggling), leading dots are unstuffed, over `data_size_limit` answers 552
once the data has ended, and a connection lost mid-DATA stops the session.

Unlike aiosmtpd it accepts what a real MTA relays: a line over 1,000 octets
and a mail in bare LF lines are data like any other (aiosmtpd answers 500,
permanent, and the list server bounces the mail and may unsubscribe us). The
DATA held in memory by all sessions together is bounded by a `DataBudget`:
past it, a mail is answered 451 4.3.1 (try again later), not buffered.

It reaches into aiosmtpd's (and asyncio's) private names; `_check_private_names`
below fails at import on a version that lacks them, and pyproject pins the
aiosmtpd versions it was read against.
"""

from __future__ import annotations

import asyncio
import re

import aiosmtpd
from aiosmtpd.smtp import MISSING, SMTP, syntax

_DOT_CRLF = b".\r\n"
_CRLF = b"\r\n"
# A dot at the start of any line but the first (handled apart): dot-stuffing.
_STUFFED = re.compile(rb"(?<=\r\n)\.")
# The reader's limit during DATA: at most about twice this is buffered by the
# stream per connection (it pauses reading there) beyond the mail's own parts.
CHUNK = 256 * 1024

TOO_BIG = "552 Error: Too much mail data"
NO_ROOM = "451 4.3.1 Too much mail in progress, try again later"

# What bot.ingest uses of aiosmtpd's SMTP beyond its documented API (read
# against aiosmtpd 1.4.6), and of asyncio.StreamReader: methods of the class,
# and attributes its methods set (checked without making an instance, which
# would need an event loop).
AIOSMTPD_METHODS = ("_set_post_data_state", "_call_handler_hook", "_reset_timeout", "_timeout_cb",
                    "_handle_client", "_cb_client_connected", "check_helo_needed", "check_auth_needed", "push")
AIOSMTPD_ATTRIBUTES = {"__init__": ("_handle_hooks", "_timeout_duration"), "_cb_client_connected": ("_reader", "_writer")}
STREAMREADER_ATTRIBUTES = ("_limit", "_buffer")


def _sets(func: object, names: tuple[str, ...]) -> list[str]:
    code = getattr(func, "__code__", None)
    return [n for n in names if code is None or n not in code.co_names]


def _check_private_names() -> None:
    missing = [n for n in AIOSMTPD_METHODS if not callable(getattr(SMTP, n, None))]
    for method, names in AIOSMTPD_ATTRIBUTES.items():
        missing += _sets(getattr(SMTP, method, None), names)
    missing += [f"StreamReader.{n}" for n in _sets(asyncio.StreamReader.__init__, STREAMREADER_ATTRIBUTES)]
    if missing:
        raise ImportError(
            f"aiosmtpd {getattr(aiosmtpd, '__version__', '?')} lacks what bot.ingest relies on: "
            f"{', '.join(missing)}; install the version pyproject.toml pins (aiosmtpd>=1.4.6,<1.5)"
        )


_check_private_names()


def unstuff(data: bytes) -> bytes:
    if data.startswith(b"."):
        data = data[1:]
    return _STUFFED.sub(b"", data) if b"\r\n." in data else data


class DataBudget:
    """The bytes of DATA held in memory by every session together, capped."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used -= n


class BulkDataSMTP(SMTP):
    def __init__(self, handler: object, *, data_budget: DataBudget | None = None, **kwargs: object) -> None:
        super().__init__(handler, **kwargs)  # type: ignore[arg-type]
        self._budget = data_budget or DataBudget(1 << 62)

    def data_started(self) -> None:
        """Called at the 354: the client is making progress (see smtpguard)."""

    def data_finished(self) -> None:
        """Called once the DATA's reply is sent."""

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
        self.data_started()
        held = 0
        try:
            try:
                data, refusal, held = await self._read_data()
            except asyncio.CancelledError:
                self._writer.close()  # the connection went away during DATA
                raise
            if refusal is not None:
                await self.push(refusal)
                self._set_post_data_state()
                return
            content = unstuff(data)
            del data
            self.envelope.content = content
            self.envelope.original_content = content
            status = await self._call_handler_hook("DATA") if "DATA" in self._handle_hooks else MISSING
            self._set_post_data_state()
            await self.push("250 OK" if status is MISSING else status)
        finally:
            self._budget.give(held)  # the mail is committed (or refused): no longer ours to hold
            self.data_finished()

    async def _read_data(self) -> tuple[bytes, str | None, int]:
        """(the data before CRLF.CRLF with its last CRLF, a refusal or None, bytes
        taken from the budget). Over the size limit or the budget, the rest is
        read and dropped, so the session can go on."""
        reader = self._reader
        limit = self.data_size_limit
        budget = self._budget
        saved = reader._limit  # type: ignore[attr-defined]
        reader._limit = CHUNK  # type: ignore[attr-defined]
        parts: list[bytes] = []
        size = held = 0
        refusal: str | None = None
        at_line_start = True  # just after DATA, and after every CRLF
        after_cr = False  # the last piece ended in CR: its LF may start the next
        try:
            while True:
                try:
                    chunk = await reader.readuntil(_DOT_CRLF)
                    body = chunk[: -len(_DOT_CRLF)]
                    # ".CRLF" ends the data only as a line of its own.
                    ends = body.endswith(_CRLF) or (not body and at_line_start) or (body == b"\n" and after_cr)
                except asyncio.LimitOverrunError as err:
                    # No end within CHUNK bytes: take what can be taken without
                    # splitting a ".CRLF", and look again.
                    chunk = body = await reader.readexactly(err.consumed)
                    ends = False
                except asyncio.IncompleteReadError as err:
                    raise ConnectionResetError("connection closed during DATA") from err
                piece = body if ends else chunk
                size += len(piece)
                if refusal is None:
                    if limit and size > limit:
                        refusal = TOO_BIG
                    elif not budget.take(len(piece)):
                        refusal = NO_ROOM
                    if refusal is None:
                        held += len(piece)
                        parts.append(piece)
                    else:
                        parts.clear()
                        budget.give(held)
                        held = 0
                if ends:
                    return b"".join(parts), refusal, held
                at_line_start = piece.endswith(_CRLF)
                after_cr = piece.endswith(b"\r")
        except BaseException:
            budget.give(held)
            raise
        finally:
            reader._limit = saved  # type: ignore[attr-defined]
