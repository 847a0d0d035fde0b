"""The gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME with
replay of missed events, dispatches filtered by intents, and the drops,
reconnect requests and session invalidations tests inject.

Rules kept (discord-api-docs developers/events/gateway.mdx and
developers/topics/opcodes-and-status-codes.mdx, "Gateway Close Event Codes"):
* "The connection with your app will be closed if it passes invalid intents
  (4013 close code), or a privileged intent that hasn't been configured or
  approved for your app (4014 close code)"; the privileged ones are
  GUILD_MEMBERS, GUILD_PRESENCES and MESSAGE_CONTENT ("Privileged Intents");
* "If your app fails to send a heartbeat event in time, your connection will be
  closed and you will be forced to Resume": closed with 4000, session kept;
* "Discord may request additional heartbeats from your app by sending a
  Heartbeat (opcode 1) event": `request_heartbeat()`;
* "Apps can send 120 gateway events per connection every 60 seconds ... Apps
  that surpass the limit are immediately disconnected": 4008;
* a payload before IDENTIFY other than a heartbeat is 4003 "Not authenticated".

Sharding (discord-api-docs developers/events/gateway.mdx, "Sharding", and the
close codes table):
* IDENTIFY's `shard` is "[shard_id, num_shards]"; a guild is on shard
  "shard_id = (guild_id >> 22) % num_shards", and "each shard will only receive
  Gateway events for the guilds it's assigned to": READY lists, GUILD_CREATE
  and every guild event go only to the owning shard's sessions;
* "4010 Invalid shard: You sent an invalid shard when identifying" (not two
  integers, num_shards below 1, shard_id not below num_shards);
* "4011 Sharding required: The session would have handled too many guilds -
  you are required to shard your connection in order to connect" (more than
  "2,500 guilds" on one session: `max_guilds_per_shard`).

Frames are sent compressed as the client asks: zstd-stream (what discord.py
asks for when zstandard is installed) or zlib-stream, else as text.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from collections import deque
from collections.abc import Callable

import zstandard
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from . import payloads
from .state import FakeState

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE, RESUME = 0, 1, 2, 3, 6
RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 7, 8, 9, 10, 11
GUILDS_INTENT = 1 << 0
# The intents gateway.mdx lists ("List of Intents"): bits 0-16, 20, 21, 24, 25.
VALID_INTENTS = sum(1 << b for b in (*range(17), 20, 21, 24, 25))
ALL_INTENTS = VALID_INTENTS
GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT = 1 << 1, 1 << 8, 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
BACKLOG = 1000  # dispatches kept per session for RESUME
MAX_GUILDS_PER_SHARD = 2500  # gateway.mdx "Sharding": "maximum of 2,500 guilds" per shard
SEND_LIMIT = (120, 60.0)  # events a client may send per connection per window
HEARTBEAT_GRACE = 1.5  # a heartbeat is late after interval * this (Discord allows for latency)


def _stream_compressor(scheme: str | None) -> Callable[[bytes], bytes] | None:
    """One connection's compressor: each frame flushed whole, as Discord sends them."""
    if scheme == "zstd-stream":
        zstd = zstandard.ZstdCompressor().compressobj()
        return lambda raw: zstd.compress(raw) + zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    if scheme == "zlib-stream":
        deflate = zlib.compressobj()
        return lambda raw: deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH)
    return None


class Connection:
    """One websocket; frames go through a queue so dispatch order is kept."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: str | None, path: str) -> None:
        self.ws = ws
        self.path = path
        self.received: deque[float] = deque()  # when the client's frames came (the send limit)
        self.heartbeats = 0
        self.heartbeat_due: float | None = None  # loop time by which the next heartbeat must come
        self.compressed = compress  # "zstd-stream", "zlib-stream" or None
        self._compressor = _stream_compressor(compress)
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write())
        self.session: Session | None = None

    def send(self, frame: dict[str, Any]) -> None:
        self._queue.put_nowait(frame)

    async def _write(self) -> None:
        while (frame := await self._queue.get()) is not None:
            raw = json.dumps(frame).encode()
            try:
                if self._compressor is None:
                    await self.ws.send_str(raw.decode())
                else:
                    await self.ws.send_bytes(self._compressor(raw))
            except (ConnectionError, RuntimeError):
                return  # the socket went away; the session keeps the backlog for RESUME

    async def close(self, code: int) -> None:
        self._queue.put_nowait(None)
        await self._writer
        await self.ws.close(code=code)

    async def stop(self) -> None:
        self._queue.put_nowait(None)
        await self._writer


@dataclass
class Session:
    id: str
    intents: int
    shard: list[int]
    seq: int = 0
    resumable: bool = True
    backlog: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None

    def owns(self, guild_id: int) -> bool:
        """The guild is on this session's shard (gateway.mdx "Sharding Formula")."""
        shard_id, num_shards = self.shard
        return (guild_id >> 22) % num_shards == shard_id

    def frame(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.backlog.append(frame)
        del self.backlog[:-BACKLOG]
        return frame


class Gateway:
    def __init__(
        self,
        state: FakeState,
        *,
        token: str | None,
        heartbeat_interval_ms: int = 41250,
        privileged_intents: int = 0,
        send_limit: tuple[int, float] = SEND_LIMIT,
        max_guilds_per_shard: int = MAX_GUILDS_PER_SHARD,
    ) -> None:
        self.state = state
        self.max_guilds_per_shard = max_guilds_per_shard
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        # The privileged intents "enabled in the Developer Portal" for this app.
        self.privileged_intents = privileged_intents
        self.send_limit = send_limit
        self.ack_heartbeats = True  # False makes a "zombie" connection
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.resume_gateway_url = ""  # set once the server is bound

    # -- dispatch ------------------------------------------------------------
    def dispatch(self, event: str, data: dict[str, Any], intent: int | None) -> None:
        """Send an event to every session that wants it (buffered while disconnected)."""
        self.state.gateway_events.append((event, data))
        guild = data.get("guild_id") if isinstance(data, dict) else None
        for session in self.sessions.values():
            if intent is not None and not session.intents & intent:
                continue
            if guild is not None and not session.owns(int(guild)):
                continue  # another shard's guild
            frame = session.frame(event, data)
            if session.connection is not None:
                session.connection.send(frame)

    # -- injected faults -------------------------------------------------------
    async def drop(self, *, resume: bool = True, code: int | None = None) -> int:
        """Close every connection; with resume=False the sessions can no longer RESUME."""
        live = list(self.connections)
        for conn in live:
            if conn.session is not None:
                conn.session.connection = None
                if not resume:
                    self._forget(conn.session)
            # 4000 "unknown error" invites a RESUME; 4009 "session timed out" does not.
            await conn.close(code if code is not None else (4000 if resume else 4009))
        return len(live)

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: the client closes and RESUMEs."""
        for conn in self.connections:
            conn.send({"op": RECONNECT, "d": None})

    def request_heartbeat(self) -> int:
        """Send op 1: every live connection must answer with a heartbeat at once."""
        for conn in self.connections:
            conn.send({"op": HEARTBEAT, "d": None})
        return len(self.connections)

    def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION to every live connection."""
        for conn in self.connections:
            if conn.session is not None and not resumable:
                self._forget(conn.session)
            conn.send({"op": INVALID_SESSION, "d": resumable})

    def _forget(self, session: Session) -> None:
        """A session that can no longer RESUME stops collecting events."""
        session.resumable = False
        self.sessions.pop(session.id, None)

    # -- the websocket handler -------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws, compress=request.query.get("compress"), path=request.path)
        self.connections.add(conn)
        conn.send({"op": HELLO, "s": None, "t": None, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        # The first heartbeat is due within one interval (clients wait interval * jitter).
        loop = asyncio.get_running_loop()
        conn.heartbeat_due = loop.time() + self._heartbeat_deadline()
        watchdog = asyncio.create_task(self._watch_heartbeats(conn))
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    await conn.close(4002)  # decode error
                    break
                if await self._on_frame(conn, frame) is False:
                    break
        finally:
            watchdog.cancel()
            self.connections.discard(conn)
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            await conn.stop()
            self.state.changed()
        return ws

    def _heartbeat_deadline(self) -> float:
        return self.heartbeat_interval_ms / 1000 * HEARTBEAT_GRACE

    async def _watch_heartbeats(self, conn: Connection) -> None:
        """Close a connection whose client stopped heartbeating (it may RESUME)."""
        loop = asyncio.get_running_loop()
        while conn.heartbeat_due is not None:
            late_in = conn.heartbeat_due - loop.time()
            if late_in > 0:
                await asyncio.sleep(late_in)
                continue
            self.state.gateway_closes.append(4000)
            await conn.close(4000)
            return

    def _over_send_limit(self, conn: Connection) -> bool:
        count, window = self.send_limit
        now = asyncio.get_running_loop().time()
        conn.received.append(now)
        while conn.received and now - conn.received[0] >= window:
            conn.received.popleft()
        return len(conn.received) > count

    async def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> bool:
        op, data = frame.get("op"), frame.get("d")
        if self._over_send_limit(conn):
            self.state.gateway_closes.append(4008)
            await conn.close(4008)  # rate limited
            return False
        if op == HEARTBEAT:
            conn.heartbeats += 1
            conn.heartbeat_due = asyncio.get_running_loop().time() + self._heartbeat_deadline()
            self.state.changed()
            if self.ack_heartbeats:
                conn.send({"op": HEARTBEAT_ACK})
        elif op not in (IDENTIFY, RESUME) and conn.session is None:
            self.state.gateway_closes.append(4003)
            await conn.close(4003)  # not authenticated
            return False
        elif op == IDENTIFY:
            return await self._identify(conn, data or {})
        elif op == RESUME:
            return await self._resume(conn, data or {})
        elif op == REQUEST_MEMBERS:
            self._members_chunk(conn, data or {})
        elif op == PRESENCE:
            pass
        else:
            await conn.close(4001)  # unknown opcode
            return False
        return True

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> bool:
        if conn.session is not None:
            await conn.close(4005)  # already authenticated
            return False
        if self.token is not None and data.get("token") != self.token:
            await conn.close(4004)  # authentication failed
            return False
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~VALID_INTENTS:
            self.state.gateway_closes.append(4013)
            await conn.close(4013)  # invalid intent(s)
            return False
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            self.state.gateway_closes.append(4014)
            await conn.close(4014)  # disallowed intent(s)
            return False
        shard = data.get("shard", [0, 1])
        if not _valid_shard(shard):
            self.state.gateway_closes.append(4010)
            await conn.close(4010)  # invalid shard
            return False
        state = self.state
        session = Session(id=secrets.token_hex(16), intents=intents, shard=list(shard))
        guilds = [g for g in state.guild_ids() if session.owns(g)]
        if len(guilds) > self.max_guilds_per_shard:
            self.state.gateway_closes.append(4011)
            await conn.close(4011)  # sharding required
            return False
        self.sessions[session.id] = session
        session.connection = conn
        conn.session = session
        ready = {
            "v": 10,
            "user": payloads.bot_user(state),
            "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_gateway_url,
            "shard": session.shard,
            "application": {"id": str(state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
        }
        conn.send(session.frame("READY", ready))
        if session.intents & GUILDS_INTENT:
            for g in guilds:
                conn.send(session.frame("GUILD_CREATE", payloads.guild(state, guild_id=g)))
        state.gateway_connects.append(self._record(conn, "identify", session))
        state.changed()
        return True

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> bool:
        session = self.sessions.get(str(data.get("session_id")))
        token_ok = self.token is None or data.get("token") == self.token
        if session is None or not session.resumable or not token_ok:
            conn.send({"op": INVALID_SESSION, "d": False})
            self.state.gateway_connects.append(self._record(conn, "resume-refused", None))
            self.state.changed()
            return True
        old = session.connection
        if old is not None and old is not conn:
            await old.close(4000)
        session.connection = conn
        conn.session = session
        seq = int(data.get("seq") or 0)
        for frame in session.backlog:
            if frame["s"] > seq:
                conn.send(frame)
        conn.send(session.frame("RESUMED", {}))
        self.state.gateway_connects.append(self._record(conn, "resume", session))
        self.state.changed()
        return True

    @staticmethod
    def _record(conn: Connection, kind: str, session: Session | None) -> dict[str, Any]:
        return {
            "path": conn.path,
            "kind": kind,
            "session_id": None if session is None else session.id,
            "shard": None if session is None else list(session.shard),
            "compressed": conn.compressed,
        }

    def _members_chunk(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is None:
            return
        chunk = {
            "guild_id": str(self.state.guild_id),
            "members": [payloads.member(payloads.bot_user(self.state))],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        conn.send(conn.session.frame("GUILD_MEMBERS_CHUNK", chunk))


def _valid_shard(shard: Any) -> bool:
    """[shard_id, num_shards]: two integers, 0 <= shard_id < num_shards."""
    if not isinstance(shard, list) or len(shard) != 2 or not all(type(v) is int for v in shard):
        return False
    shard_id, num_shards = shard
    return num_shards >= 1 and 0 <= shard_id < num_shards
