"""The SMTP sink: the list server delivers here; a mail is acknowledged with 250
only once `deliver` (the store) has committed it.

Runs in the caller's event loop (`loop.create_server`), not in aiosmtpd's
Controller thread. Replies, so a list server retries rather than bounces:

- 550 5.1.1 at RCPT for a recipient we do not serve (never an open relay);
- 550 5.7.1 at MAIL for a client outside `client_networks`;
- 550 5.7.1 at DATA for a mail whose List-Id is not configured (list-management
  mail, which has none, is kept apart for the operator first: bot.ingest.listmail);
- 552 over `max_message_size` (aiosmtpd's own data_size_limit);
- 451 4.3.1 when the DATA buffered by all sessions would pass `max_buffered_data`;
- 421 4.7.0 for a connection over `max_connections` (or `max_connections_per_client`),
  421 4.4.2 for one without progress for `idle_timeout_seconds` (bot.ingest.smtpguard);
- 530 before STARTTLS when `require_tls` (aiosmtpd's require_starttls);
- 451 4.3.0 for any fault of ours (the store is down, a bug): never a 5xx;
- 421 4.3.2 for a new transaction while shutting down.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.ingest.listmail import ListMailInfo, classify
from bot.ingest.policy import AcceptPolicy, list_ids_of
from bot.ingest.smtpdata import BulkDataSMTP, DataBudget
from bot.ingest.smtpguard import ConnectionGate, GuardedSMTP

if TYPE_CHECKING:
    from bot.config import SmtpSettings

log = logging.getLogger(__name__)

IDENT = "kvm-patchbot"
TEMPFAIL = "451 4.3.0 Temporary failure storing the mail, try again later"


@dataclass(frozen=True)
class MailMeta:
    """The SMTP envelope of a received mail, for the store's provenance."""

    peer: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    tls: bool = False
    received_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def source_ref(self) -> str:
        return f"smtp {self.peer} from <{self.mail_from}>"


Deliver = Callable[[bytes, MailMeta], Awaitable[None]]
# Keeps a list-management mail (a subscription confirmation, a bounce) for the operator.
KeepListMail = Callable[[bytes, MailMeta, ListMailInfo], Awaitable[None]]


def _peer_text(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class SinkHandler:
    """aiosmtpd hooks: policy checks and the hand-over to `deliver`.

    Each delivery runs as its own task, shielded: a client that hangs up
    mid-commit cannot cancel a half-done transaction, and shutdown waits for it.
    """

    def __init__(self, policy: AcceptPolicy, deliver: Deliver, keep_list_mail: KeepListMail | None = None) -> None:
        self.policy = policy
        self._deliver = deliver
        self._keep_list_mail = keep_list_mail
        self._inflight: set[asyncio.Task[None]] = set()
        self.closing = False
        self.delivered = 0

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.closing:
            return "421 4.3.2 Service shutting down, try again later"
        if not self.policy.client_ok(session.peer):
            log.warning("refused client %s (not in client_networks)", _peer_text(session.peer))
            return "550 5.7.1 Client host not permitted to deliver here"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.policy.recipient_ok(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected: not served here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # Stored as Unix text, byte for byte as the list archives hold it.
        raw = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        meta = MailMeta(
            peer=_peer_text(session.peer),
            mail_from="" if envelope.mail_from in (None, "<>") else envelope.mail_from,  # "": a bounce
            rcpt_tos=tuple(envelope.rcpt_tos),
            tls=session.ssl is not None,
        )
        management = classify(raw, meta.mail_from) if self._keep_list_mail is not None else None
        if management is None and self.policy.list_ids and not self.policy.list_id_ok(list_ids_of(raw)):
            return "550 5.7.1 List-Id not accepted here"
        if management is not None and self._keep_list_mail is not None:
            log.warning(
                "list-management mail (%s) from %s: %r; it is not list traffic: see `kvm-patchbot list-mail`",
                management.kind, management.sender or meta.mail_from or "<>", management.subject,
            )
            work = self._keep_list_mail(raw, meta, management)
        else:
            work = self._deliver(raw, meta)
        task = asyncio.ensure_future(work)
        self._inflight.add(task)
        task.add_done_callback(self._settled)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            raise  # the client went away; the shielded commit still completes
        except Exception:
            log.exception("storing a %d-byte mail from %s failed", len(raw), meta.peer)
            return TEMPFAIL
        self.delivered += 1
        return "250 2.0.0 OK: stored"

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        # Retrieved here so a failure nobody waited for (the client hung up)
        # is logged once rather than as "exception never retrieved".
        if not task.cancelled() and task.exception() is not None:
            log.debug("delivery failed: %r", task.exception())

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd's default is a permanent 500, which makes list servers bounce.
        log.error("SMTP session fault: %r", error, exc_info=error)
        return TEMPFAIL

    async def drain(self) -> None:
        """Wait until every delivery in progress has committed (or failed)."""
        while self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    # Server side: no client certificates asked for, as aiosmtpd expects.
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    return ctx


class SmtpSink:
    """The listening sink. `start()` binds (port 0 picks a free port); `stop()`
    stops accepting, lets in-flight commits finish, then closes connections."""

    # The tests swap in aiosmtpd's own SMTP (or BulkDataSMTP) as an oracle; those
    # take none (or only some) of the limits.
    protocol_class: type[SMTP] = GuardedSMTP

    def __init__(
        self,
        settings: SmtpSettings,
        deliver: Deliver,
        *,
        keep_list_mail: KeepListMail | None = None,
        hostname: str | None = None,
    ) -> None:
        if settings.require_tls and not (settings.tls_cert and settings.tls_key):
            raise ValueError("smtp.require_tls needs smtp.tls_cert and smtp.tls_key")
        if bool(settings.tls_cert) != bool(settings.tls_key):
            raise ValueError("smtp.tls_cert and smtp.tls_key must be given together")
        self.settings = settings
        self.handler = SinkHandler(
            AcceptPolicy.build(settings.recipients, settings.client_networks, settings.list_ids),
            deliver,
            keep_list_mail,
        )
        self._tls = tls_context(settings.tls_cert, settings.tls_key) if settings.tls_cert and settings.tls_key else None
        # aiosmtpd would call socket.getfqdn() (a DNS lookup) per connection.
        self._hostname = hostname or socket.gethostname()
        self.gate = ConnectionGate(settings.max_connections, settings.max_connections_per_client)
        self.budget = DataBudget(settings.max_buffered_data)
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        # Set once stop() no longer accepts connections (commits may still be finishing).
        self.closed = asyncio.Event()

    def _protocol(self) -> SMTP:
        limits: dict[str, Any] = {}
        if issubclass(self.protocol_class, BulkDataSMTP):
            limits["data_budget"] = self.budget
        if issubclass(self.protocol_class, GuardedSMTP):
            limits.update(gate=self.gate, idle_timeout=self.settings.idle_timeout_seconds)
        proto = self.protocol_class(
            self.handler,
            data_size_limit=self.settings.max_message_size,
            enable_SMTPUTF8=True,
            hostname=self._hostname,
            ident=IDENT,
            tls_context=self._tls,
            require_starttls=self.settings.require_tls,
            **limits,
        )
        self._sessions.add(proto)
        return proto

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host=self.settings.host, port=self.settings.port)
        host, port = self.address
        log.info("SMTP sink listening on %s:%d", host, port)

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the SMTP sink is not listening")
        name = self._server.sockets[0].getsockname()
        return name[0], name[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self.handler.closing = True
        self._server.close()
        self.closed.set()
        await self.handler.drain()
        for proto in list(self._sessions):
            if proto.transport is not None:
                proto.transport.close()
        await self._server.wait_closed()
        self._server = None
        log.info("SMTP sink stopped")
