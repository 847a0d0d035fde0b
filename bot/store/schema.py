"""The database schema (SQLAlchemy Core). Alembic migrations create it; this is
what the store's queries are written against. Series and lineage ids are
assigned by the store (one writer), every other id by the database."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


mails = Table(
    "mails",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # arrival order
    Column("message_id", Text, nullable=False, unique=True),
    Column("raw", LargeBinary, nullable=False),  # the bytes as received, compressed (rawcodec)
    Column("size", Integer, nullable=False),
    Column("source", String(32), nullable=False),
    Column("source_ref", Text),  # e.g. the public-inbox commit id
    Column("received_at", UtcDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("author_name", Text, nullable=False, default=""),
    Column("author_email", Text, nullable=False, default=""),
    Column("date", UtcDateTime),
    Column("list_id", Text),
    Column("in_reply_to", Text),
    Column("series_id", Integer),  # the series it posted into or replied within
    Column("errors", JSON(none_as_null=True)),  # parse (or tracking) errors; SQL NULL when none
    # Kept but not understood: the parser gave up, or tracking it failed.
    Column("unparsed", Boolean, nullable=False, default=False),
    # bot.store.rows.body_hash: tells a re-delivery from a variant; NULL on rows
    # stored before revision 0004 (computed from `raw` when needed).
    Column("body_hash", Text),
    Index("ix_mails_received_at", "received_at"),
    Index("ix_mails_source_ref", "source_ref"),
    Index("ix_mails_date", "date"),
    Index("ix_mails_in_reply_to", "in_reply_to"),  # replies that arrived before their patch
)

# A mail whose Message-ID is already stored but whose body differs: kept, and
# reported (`kvm-patchbot variants`), never silently dropped.
mail_variants = Table(
    "mail_variants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Text, nullable=False),
    Column("body_hash", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),  # compressed (rawcodec)
    Column("size", Integer, nullable=False),
    Column("source", String(32), nullable=False),
    Column("source_ref", Text),
    Column("received_at", UtcDateTime, nullable=False),
    UniqueConstraint("message_id", "body_hash", name="uq_mail_variants_key"),
)

# Mail from the list's software rather than list traffic (subscription
# confirmations, bounces, probes): for the operator (`kvm-patchbot list-mail`).
list_mail = Table(
    "list_mail",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # bot.ingest.listmail.ListMailKind
    Column("mail_from", Text, nullable=False),  # the SMTP envelope sender ("" for a bounce)
    Column("sender", Text, nullable=False),  # the From header
    Column("subject", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),  # compressed (rawcodec)
    Column("size", Integer, nullable=False),
    Column("source_ref", Text),
    Column("received_at", UtcDateTime, nullable=False),
)

lineages = Table(
    "lineages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("created_at", UtcDateTime, nullable=False),
)

series = Table(
    "series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("lineage_id", Integer, ForeignKey("lineages.id"), nullable=False),
    Column("title", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("subsystem", Text),
    Column("prefixes", JSON, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("version_label", Text),
    Column("version_explicit", Boolean, nullable=False),
    Column("declared_total", Integer),
    Column("total", Integer, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("rfc", Boolean, nullable=False),
    Column("resend", Boolean, nullable=False),
    Column("pull", Boolean, nullable=False),
    Column("partial", Boolean, nullable=False),
    # A stable backport (AUTOSEL, `[PATCH 6.6 12/40]`): no card unless a filter asks (0006).
    Column("backport", Boolean, nullable=False, server_default=false()),
    Column("author_name", Text, nullable=False),
    Column("author_email", Text, nullable=False),
    Column("list_id", Text),
    Column("cover", Text),
    Column("title_slot", Integer, nullable=False),
    Column("change_id", Text),
    Column("supersedes", Integer),
    Column("superseded_by", Integer),
    Column("duplicate_of", Integer),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("last_seen", UtcDateTime, nullable=False),
    Index("ix_series_lineage", "lineage_id"),
    Index("ix_series_first_seen", "first_seen"),
    Index("ix_series_author_email", "author_email"),
    Index("ix_series_change_id", "change_id"),
    Index("ix_series_last_seen", "last_seen"),  # the tracker window's recent series
)

# One row per cover (slot 0) or patch (slot k) of a series.
patches = Table(
    "patches",
    metadata,
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("idx", Integer),  # the k of k/N as written; null for an unnumbered patch
    Column("message_id", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("author_name", Text, nullable=False),
    Column("author_email", Text, nullable=False),
    Column("date", UtcDateTime),
    Column("diffstat", JSON(none_as_null=True)),
    Column("files", JSON, nullable=False),
    Column("fixes", JSON, nullable=False),
    Column("stable", JSON, nullable=False),
    # bot.series.diffhash of the patch's diff (NULL: no diff, or stored before 0006).
    Column("diff_hash", Text),
    Column("file_hashes", JSON(none_as_null=True)),
    PrimaryKeyConstraint("series_id", "slot"),
)

# Message ids a series' members named: a parent arriving later joins that series.
series_refs = Table(
    "series_refs",
    metadata,
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", Text, nullable=False),
    PrimaryKeyConstraint("series_id", "message_id"),
    Index("ix_series_refs_message_id", "message_id"),
)

trailers = Table(
    "trailers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    Column("slot", Integer, nullable=False),  # 0: given on the cover, counts for all
    Column("name", Text, nullable=False),
    Column("giver", Text, nullable=False),
    Column("giver_email", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("from_reply", Boolean, nullable=False),
    UniqueConstraint("series_id", "slot", "name", "giver_email", name="uq_trailers_key"),
)

fixes = Table(
    "fixes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("sha", Text, nullable=False),
    Column("subject", Text),
    Index("ix_fixes_sha", "sha"),
)

stable_requests = Table(
    "stable_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("versions", JSON, nullable=False),
    Column("noautosel", Boolean, nullable=False),
    Column("embargoed", Boolean, nullable=False),
    Index("ix_stable_requests_series_id", "series_id"),  # the stable queue joins by series
)

applied = Table(
    "applied",
    metadata,
    Column("series_id", Integer, ForeignKey("series.id", ondelete="CASCADE"), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("idx", Integer),
    Column("title", Text, nullable=False),
    Column("commit", Text),
    Column("url", Text),
    Column("tree", Text),
    Column("branch", Text),
    Column("dest", Text),  # the destination as written: "kvm-x86 svm", "stable" (0006)
    Column("message_id", Text, nullable=False),
    PrimaryKeyConstraint("series_id", "slot"),
)

# The outbox: every event, in order, for notify to route and deliver.
events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("series_id", Integer, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("patch_index", Integer),
    Column("data", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_events_series_id", "series_id"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guild_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("filter", JSON, nullable=False),  # bot.config.SubscriptionFilter
    Column("threads", Boolean, nullable=False),
    # A thread (and per-patch message) even for a single patch (0006).
    Column("single_threads", Boolean, nullable=False, server_default=false()),
    Column("alert_channel_id", BigInteger),
    Column("alert_role_id", BigInteger),
    Column("enabled", Boolean, nullable=False),
    Column("origin", String(16), nullable=False),  # config | cli | slash
    Column("disabled_reason", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_subscriptions_channel_id", "channel_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("event_id", BigInteger, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("subscription_id", Integer),
    Column("status", String(16), nullable=False),  # pending | done | failed | parked
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Column("discord_message_id", BigInteger),
    Column("updated_at", UtcDateTime, nullable=False),
    # The channel or thread holding discord_message_id (0010; NULL before).
    Column("posted_in", BigInteger),
    PrimaryKeyConstraint("event_id", "channel_id"),
    Index("ix_deliveries_status", "status"),
    Index("ix_deliveries_updated_at", "updated_at"),  # the deliveries made since the last metrics scrape
)

posts = Table(
    "posts",
    metadata,
    Column("series_id", Integer, nullable=False),
    Column("channel_id", BigInteger, nullable=False),
    Column("card_message_id", BigInteger),
    Column("thread_id", BigInteger),
    Column("rendered_hash", Text),
    Column("thread_name", Text),  # as last set: a better title renames the thread
    # Times the card was taken down here (0010): a new card needs new nonces.
    Column("removals", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("series_id", "channel_id"),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# Mail taken by a process that does not track (several processes on one
# PostgreSQL, migration 0008): raw bytes (zstd, as mails.raw), taken by the tracker in id order.
inbox = Table(
    "inbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("raw", LargeBinary, nullable=False),
    Column("source", String(32), nullable=False),
    Column("source_ref", Text),
    Column("received_at", UtcDateTime, nullable=False),
)

# Replies whose applied notice names a patch of their series that has not
# arrived: decided again when a patch joins that series (bot.store.store).
pending_replies = Table(
    "pending_replies",
    metadata,
    Column("message_id", Text, primary_key=True),
    Column("series_id", Integer, nullable=False),
    Index("ix_pending_replies_series_id", "series_id"),
)

# Search structures the migrations create outside this metadata (see migration
# 0005): SQLite's FTS5 table over series titles (and its shadow tables), and
# PostgreSQL's generated column series.title_tsv and its index. The tables'
# own queries never name them (only bot.store.queries' search does).
SEARCH_OBJECTS = ("series_fts", "ix_series_title_tsv", "title_tsv")
# Also outside it: migration 0007's expression index, an author's series by
# lower(author_email), for the tracker window's look-ups (bot.store.window).
WINDOW_OBJECTS = ("ix_series_author_lower",)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's comparison hook: leave the search structures out of schema diffs."""
    return not (name or "").startswith(SEARCH_OBJECTS + WINDOW_OBJECTS)


# Derived from the stored mails; `reparse` empties and rebuilds these.
DERIVED = (pending_replies, applied, stable_requests, fixes, trailers, series_refs, patches, series, lineages)
