"""Typed results of the Store API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.config import SubscriptionFilter
from bot.mail.models import ParsedMail
from bot.series.models import Event


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IngestResult(_Frozen):
    message_id: str
    new: bool  # False: this Message-ID was stored before; nothing changed
    variant: bool = False  # not new, and its body differs from the stored one's: kept as a variant
    kind: str
    series_id: int | None = None
    events: tuple[Event, ...] = ()
    errors: tuple[str, ...] = ()  # parse or tracking problems (the mail is kept)


@dataclass
class IngestStats:
    read: int = 0
    new: int = 0
    duplicates: int = 0  # Message-IDs already stored (or repeated in the input)
    variants: int = 0  # of the duplicates, those with another body: kept in mail_variants
    unparsed: int = 0
    series_created: int = 0
    events: int = 0
    batches: int = 0
    fallbacks: int = 0  # batches retried mail by mail after an error
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


@dataclass
class ReparseStats:
    mails: int = 0
    unparsed: int = 0
    series: int = 0
    lineages: int = 0
    posts_moved: int = 0  # Discord posts that followed their series to a new id
    posts_dropped: int = 0  # posts of series that are gone or merged into another
    seconds: float = 0.0


class StoredMail(_Frozen):
    seq: int
    message_id: str
    source: str
    source_ref: str | None
    received_at: datetime
    parsed: ParsedMail


class UnparsedMail(_Frozen):
    seq: int
    message_id: str
    source: str
    source_ref: str | None
    received_at: datetime
    size: int
    errors: tuple[str, ...]


class SubscriptionRow(_Frozen):
    """A stored subscription with its bookkeeping (notify's `Subscription` is what routing reads of it)."""

    id: int
    guild_id: int
    channel_id: int
    filter: SubscriptionFilter
    threads: bool
    single_threads: bool
    alert_channel_id: int | None
    alert_role_id: int | None
    enabled: bool
    origin: str  # config | cli | slash
    disabled_reason: str | None
    created_at: datetime


class DeliveryRow(_Frozen):
    """One (event, channel) delivery and where it stands."""

    event_id: int
    channel_id: int
    subscription_id: int | None
    status: str  # pending | done | failed | parked (refused with a 403, kept for a retry)
    attempts: int
    error: str | None
    discord_message_id: int | None
    updated_at: datetime
    posted_in: int | None = None  # the channel or thread holding discord_message_id


class PostRow(_Frozen):
    """The card and thread a series has in a channel (notify's `Post` is one message's content)."""

    series_id: int
    channel_id: int
    card_message_id: int | None
    thread_id: int | None
    rendered_hash: str | None
    thread_name: str | None = None  # as last set (None: unknown, e.g. posted before it was kept)
    removals: int = 0  # times the card was taken down here (a new card needs new nonces)


class VariantMail(_Frozen):
    """A mail that reused a stored Message-ID with another body."""

    id: int
    message_id: str
    source: str
    source_ref: str | None
    received_at: datetime
    size: int
    body_hash: str


class ListMail(_Frozen):
    """Mail from the list's software (a subscription confirmation, a bounce), for the operator."""

    id: int
    kind: str  # bot.ingest.listmail.ListMailKind
    mail_from: str
    sender: str
    subject: str
    source_ref: str | None
    received_at: datetime
    size: int
