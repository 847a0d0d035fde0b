"""The sink's limits on its clients: how many connections (in total and per
client host), and how long a connection may go without progress.

aiosmtpd's own timeout restarts at every command, so a client sending NOOP
every minute keeps its connection (and a slot) forever. Here a connection has
`idle_timeout` seconds from its start, and again from the start and the end of
each DATA, to make progress; NOOP, RSET, HELP, VRFY and a MAIL that is never
followed by DATA do not count. A connection over either limit is answered
421 (a temporary refusal: the MTA retries later) and closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from bot.ingest.smtpdata import BulkDataSMTP, DataBudget

log = logging.getLogger(__name__)

BUSY = "421 4.7.0 Too many connections, try again later"
BUSY_CLIENT = "421 4.7.0 Too many connections from your host, try again later"
IDLE = b"421 4.4.2 Idle for too long, closing connection\r\n"


class ConnectionGate:
    """Counts open connections, in total and per client host."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.open = 0
        self._by_host: Counter[str] = Counter()

    def admit(self, host: str) -> str | None:
        """None (and counted) if there is room, else the 421 reply."""
        if self.open >= self.total:
            return BUSY
        if self._by_host[host] >= self.per_client:
            return BUSY_CLIENT
        self.open += 1
        self._by_host[host] += 1
        return None

    def release(self, host: str) -> None:
        self.open -= 1
        self._by_host[host] -= 1
        if self._by_host[host] <= 0:
            del self._by_host[host]


def _host(peer: object) -> str:
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


class GuardedSMTP(BulkDataSMTP):
    def __init__(
        self,
        handler: object,
        *,
        gate: ConnectionGate,
        idle_timeout: float,
        data_budget: DataBudget | None = None,
        **kwargs: object,
    ) -> None:
        # aiosmtpd's per-command timeout is the same span, capped by the deadline below.
        super().__init__(handler, data_budget=data_budget, timeout=idle_timeout, **kwargs)
        self._gate = gate
        self._idle = idle_timeout
        self._deadline = 0.0
        self._counted: str | None = None  # the host this connection is counted under
        self._refusal: str | None = None

    def _progress(self) -> None:
        self._deadline = self.loop.time() + self._idle

    def data_started(self) -> None:
        self._progress()
        self._reset_timeout()

    def data_finished(self) -> None:
        self._progress()
        self._reset_timeout()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # a new connection, not the switch to TLS
            host = _host(transport.get_extra_info("peername"))
            self._refusal = self._gate.admit(host)
            if self._refusal is None:
                self._counted = host
            self._progress()
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted is not None:
            self._gate.release(self._counted)
            self._counted = None
        super().connection_lost(error)

    def _reset_timeout(self, duration: float | None = None) -> None:
        # Every command restarts aiosmtpd's timer; none may push it past the deadline.
        left = self._deadline - self.loop.time()
        super()._reset_timeout(max(min(duration or self._timeout_duration, left), 0.001))

    def _timeout_cb(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            log.info("closing idle SMTP connection from %s", _host(self.session.peer if self.session else None))
            self._writer.write(IDLE)
        super()._timeout_cb()

    async def _handle_client(self) -> None:
        if self._refusal is not None:
            assert self.transport is not None
            log.warning("refused SMTP connection from %s: %s (%d open)",
                        _host(self.session.peer if self.session else None), self._refusal, self._gate.open)
            await self.push(self._refusal)
            self.transport.close()
            return
        await super()._handle_client()
