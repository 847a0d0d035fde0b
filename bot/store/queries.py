"""The queries behind the slash commands: series search and look-ups, the stable
queue, fixes of a commit, a guild's subscriptions and the list's activity.

Each answer is a few indexed queries (bench/queries.py measures them on a
100,000-mail store). Title search uses the indexes of migration 0005: FTS5 on
SQLite, a tsvector GIN index on PostgreSQL; both see a title as its words
(runs of letters and digits, lowercased, unstemmed) and a search word as a
prefix, so "harv pir" finds "KVM: VMX: Harvest PIR ...". Results come newest
first by series id (arrival order), which both indexes return cheaply.

Subsystem patterns mean here what they mean in subscription filters
(`bot.notify.filters`): a prefix ending at a boundary ("KVM: x86" matches
"KVM: x86/mmu", not "KVM: x86abc"), or a glob with `*` and `?` over the whole
subsystem, case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, literal_column, or_, select, text, true
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.mail.models import Person
from bot.series.models import SeriesView
from bot.store import schema as t
from bot.store.admin import _subscription
from bot.store.models import PostRow, SubscriptionRow
from bot.store.store import Store
from bot.store.words import WORD as _WORD
from bot.store.words import title_words

State = Literal["open", "applied", "superseded", "all"]
STATES: tuple[State, ...] = ("open", "applied", "superseded", "all")
WORDS_MAX = 8
SUBSYSTEM_BOUNDARY = "/:, "  # what may follow a subsystem prefix (as bot.notify.filters)
_GLOB = re.compile(r"[*?]")
_PG_MATCH = text("series.title_tsv @@ to_tsquery('simple', :fts)")


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class SeriesSearch:
    """`/series search`: every word must start a word of the title."""

    words: tuple[str, ...]
    author: str | None = None  # part of the name or address, or "@domain"
    subsystems: tuple[str, ...] = ()
    state: State = "all"


@dataclass(frozen=True)
class SeriesSummary:
    """A series as a list shows it: one query for a page of them, no patch rows read."""

    series_id: int
    lineage_id: int
    title: str
    subject: str
    version: int
    version_label: str | None
    total: int
    received: int  # numbered patches present
    applied: int  # numbered patches applied
    author: Person
    first_seen: datetime | None
    supersedes: int | None
    superseded_by: int | None
    first_message_id: str  # the cover, else the lowest patch: what lore links to

    @property
    def version_name(self) -> str:
        return f"v{self.version_label or self.version}"

    @property
    def state(self) -> str:
        if self.total and self.applied >= self.total:
            return "applied"
        if self.applied:
            return "partly applied"
        return "superseded" if self.superseded_by is not None else "open"


@dataclass(frozen=True)
class TitleHit:
    """A series as autocomplete offers it."""

    series_id: int
    version: str  # "v3"
    title: str
    total: int


@dataclass(frozen=True)
class PatchEntry:
    """One patch in a list answer (stable queue, fixes): enough to show and link it."""

    series_id: int
    slot: int  # 0: the cover letter
    index: int | None
    total: int
    message_id: str
    subject: str
    author: Person
    date: datetime | None
    series_title: str
    version: str
    state: str  # open | applied | superseded
    applied_commit: str | None = None
    detail: tuple[str, ...] = ()  # stable: the version hints; fixes: the sha and subject as written


@dataclass
class Activity:
    """Raw figures of the list over a window, for `/stats` (pages compute the rest)."""

    since: datetime
    until: datetime
    mail_dates: list[datetime] = field(default_factory=list)
    authors: dict[str, tuple[str, int]] = field(default_factory=dict)  # email -> (name used most, mails)
    series_dates: list[datetime] = field(default_factory=list)
    patches: int = 0
    reviewed: int = 0
    hours_to_first_review: list[float] = field(default_factory=list)


# ------------------------------------------------------------------ predicates


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def subsystem_clause(patterns: tuple[str, ...]) -> ColumnElement[bool]:
    """SQL for "the series' subsystem matches one of `patterns`" (see the module docstring)."""
    col = func.lower(func.coalesce(t.series.c.subsystem, ""))
    parts: list[ColumnElement[bool]] = []
    for raw in patterns:
        p = raw.strip().lower()
        if not p:
            continue
        if _GLOB.search(p):
            like = _like_escape(p).replace("*", "%").replace("?", "_")
            parts.append(col.like(like, escape="\\"))
        elif p[-1] in SUBSYSTEM_BOUNDARY:
            parts.append(col.like(_like_escape(p) + "%", escape="\\"))
        else:
            base = _like_escape(p)
            parts.append(or_(col == p, *(col.like(base + b + "%", escape="\\") for b in SUBSYSTEM_BOUNDARY)))
    return or_(*parts) if parts else true()


def author_clause(author: str) -> ColumnElement[bool]:
    a = author.strip().lower()
    email = func.lower(t.series.c.author_email)
    if a.startswith("@"):
        return email.endswith(a, autoescape=True)
    return or_(email.contains(a, autoescape=True), func.lower(t.series.c.author_name).contains(a, autoescape=True))


def _applied_exists() -> ColumnElement[bool]:
    return exists().where(t.applied.c.series_id == t.series.c.id)


def state_clause(state: State) -> ColumnElement[bool]:
    if state == "applied":
        return _applied_exists()
    if state == "superseded":
        return and_(t.series.c.superseded_by.is_not(None), ~_applied_exists())
    if state == "open":
        return and_(t.series.c.superseded_by.is_(None), ~_applied_exists())
    return true()


def title_clause(conn: AsyncConnection, words: tuple[str, ...]) -> ColumnElement[bool]:
    """Every word starts a word of the title, through the dialect's search index."""
    words = tuple(w for w in words if _WORD.fullmatch(w))[:WORDS_MAX]
    if conn.dialect.name == "postgresql":
        return _PG_MATCH.bindparams(fts=" & ".join(f"{w}:*" for w in words))  # type: ignore[return-value]
    # Quoted FTS5 strings with a trailing * are prefix queries; the words are letters and digits only.
    fts = " ".join(f'"{w}"*' for w in words)
    matching: Select[Any] = select(literal_column("rowid")).select_from(text("series_fts")).where(
        text("series_fts MATCH :fts").bindparams(fts=fts)
    )
    return t.series.c.id.in_(matching)


# ------------------------------------------------------------------ series


def _summary_select() -> Select[Any]:
    s, p, a = t.series, t.patches, t.applied
    received = select(func.count()).where(p.c.series_id == s.c.id, p.c.slot > 0).scalar_subquery()
    applied = select(func.count()).where(a.c.series_id == s.c.id, a.c.slot > 0).scalar_subquery()
    first = select(p.c.message_id).where(p.c.series_id == s.c.id).order_by(p.c.slot).limit(1).scalar_subquery()
    return select(
        s.c.id, s.c.lineage_id, s.c.title, s.c.subject, s.c.version, s.c.version_label, s.c.total,
        s.c.author_name, s.c.author_email, s.c.first_seen, s.c.supersedes, s.c.superseded_by, s.c.cover,
        received.label("received"), applied.label("applied"), first.label("first_mid"),
    )


def _summary(r: Any) -> SeriesSummary:
    return SeriesSummary(
        series_id=r.id, lineage_id=r.lineage_id, title=r.title, subject=r.subject, version=r.version,
        version_label=r.version_label, total=r.total, received=r.received, applied=r.applied,
        author=Person(name=r.author_name, email=r.author_email), first_seen=r.first_seen,
        supersedes=r.supersedes, superseded_by=r.superseded_by, first_message_id=r.cover or r.first_mid or "",
    )


async def search_series(store: Store, search: SeriesSearch, *, limit: int = 10, offset: int = 0) -> list[SeriesSummary]:
    """Series whose titles hold every search word, newest first; duplicate postings left out."""
    if not any(_WORD.fullmatch(w) for w in search.words):
        return []
    async with store.reads.connect() as conn:
        q = _summary_select().where(title_clause(conn, search.words), t.series.c.duplicate_of.is_(None))
        if search.author:
            q = q.where(author_clause(search.author))
        if search.subsystems:
            q = q.where(subsystem_clause(search.subsystems))
        q = q.where(state_clause(search.state)).order_by(t.series.c.id.desc()).limit(limit).offset(offset)
        return [_summary(r) for r in await conn.execute(q)]


def _version_key(v: SeriesSummary) -> tuple[float, datetime, int]:
    try:
        ver = float(v.version_label) if v.version_label else float(v.version)
    except ValueError:
        ver = float(v.version)
    return ver, v.first_seen or datetime.min.replace(tzinfo=timezone.utc), v.series_id


async def lineage_of(store: Store, lineage_id: int) -> list[SeriesSummary]:
    """The versions of one piece of work, oldest version first (as `Store.lineage` orders them)."""
    q = _summary_select().where(t.series.c.lineage_id == lineage_id, t.series.c.duplicate_of.is_(None))
    async with store.reads.connect() as conn:
        return sorted((_summary(r) for r in await conn.execute(q)), key=_version_key)


async def series_titles(store: Store, typed: str, *, limit: int = 25) -> list[TitleHit]:
    """Autocomplete: the newest series whose title starts words with what is typed
    (a series id typed whole comes first); with nothing typed, the newest series."""
    words = title_words(typed)[:WORDS_MAX]
    cols = (t.series.c.id, t.series.c.version, t.series.c.version_label, t.series.c.title, t.series.c.total)
    async with store.reads.connect() as conn:
        hits: list[Any] = []
        stripped = typed.strip().lstrip("#")
        if stripped.isdigit() and len(stripped) < 10:
            hits += (await conn.execute(select(*cols).where(t.series.c.id == int(stripped)))).all()
        q = select(*cols).where(t.series.c.duplicate_of.is_(None))
        if words:
            q = q.where(title_clause(conn, words))
        hits += (await conn.execute(q.order_by(t.series.c.id.desc()).limit(limit))).all()
    seen: set[int] = set()
    out = []
    for sid, version, label, title, total in hits:
        if sid not in seen:
            seen.add(sid)
            out.append(TitleHit(series_id=sid, version=f"v{label or version}", title=title, total=total))
    return out[:limit]


async def series_by_message(store: Store, message_id: str) -> SeriesView | None:
    """The series a Message-ID names (cover, patch, or a reply within it); `<>` optional."""
    mid = message_id.strip()
    if mid.startswith("<") and mid.endswith(">"):
        mid = mid[1:-1]
    return await store.series_for_message(mid)


async def posts_of(store: Store, series_ids: list[int], channel_ids: list[int]) -> list[PostRow]:
    """Cards posted for these series in these channels (a guild's), by series then channel."""
    if not series_ids or not channel_ids:
        return []
    q = (
        select(t.posts)
        .where(t.posts.c.series_id.in_(series_ids), t.posts.c.channel_id.in_(channel_ids))
        .where(t.posts.c.card_message_id.is_not(None))
        .order_by(t.posts.c.series_id, t.posts.c.channel_id)
    )
    async with store.reads.connect() as conn:
        return [PostRow.model_validate(dict(r)) for r in (await conn.execute(q)).mappings()]


# ------------------------------------------------------------------ patch lists


def _entry_columns() -> tuple[Any, ...]:
    p, s, a = t.patches, t.series, t.applied
    return (
        p.c.series_id, p.c.slot, p.c.idx, s.c.total, p.c.message_id, p.c.subject, p.c.author_name,
        p.c.author_email, p.c.date, s.c.title, s.c.version, s.c.version_label, s.c.superseded_by,
        a.c.series_id.label("applied_slot"), a.c.commit,
    )


def _entry(row: Any, detail: tuple[str, ...]) -> PatchEntry:
    if row.applied_slot is not None:  # this patch was applied (a notice may name no commit)
        state = "applied"
    elif row.superseded_by is not None:
        state = "superseded"
    else:
        state = "open"
    return PatchEntry(
        series_id=row.series_id, slot=row.slot, index=row.idx, total=row.total, message_id=row.message_id,
        subject=row.subject, author=Person(name=row.author_name, email=row.author_email), date=row.date,
        series_title=row.title, version=f"v{row.version_label or row.version}", state=state,
        applied_commit=row.commit, detail=detail,
    )


def _with_patch_and_series(q: Any, source: Any) -> Any:
    p, s, a = t.patches, t.series, t.applied
    return (
        q.join(p, and_(p.c.series_id == source.c.series_id, p.c.slot == source.c.slot))
        .join(s, s.c.id == source.c.series_id)
        .outerjoin(a, and_(a.c.series_id == source.c.series_id, a.c.slot == source.c.slot))
    )


async def stable_pending(store: Store, since: datetime, until: datetime | None = None) -> list[PatchEntry]:
    """Patches asking for stable (not stable+noautosel) in series first seen since
    `since` (and before `until`), not applied, in no superseded or duplicate
    posting: oldest first. A cover asking for stable stands for its series only
    where no patch of it asks."""
    sr, s = t.stable_requests, t.series
    q = _with_patch_and_series(select(*_entry_columns(), sr.c.versions).select_from(sr), sr).where(
        s.c.first_seen >= since,
        s.c.first_seen < until if until is not None else true(),
        s.c.superseded_by.is_(None),
        s.c.duplicate_of.is_(None),
        sr.c.noautosel.is_(False),
        t.applied.c.series_id.is_(None),
    )
    async with store.reads.connect() as conn:
        rows = (await conn.execute(q)).all()
    with_patches = {r.series_id for r in rows if r.slot > 0}
    entries = [
        _entry(r, tuple(r.versions or ()))
        for r in rows
        if r.slot > 0 or r.series_id not in with_patches
    ]
    far_past = datetime.min.replace(tzinfo=since.tzinfo)
    return sorted(entries, key=lambda e: (e.date or far_past, e.series_id, e.slot))


def _prefixes(sha: str) -> list[str]:
    return [sha[:n] for n in range(7, len(sha) + 1)]


async def fixes_of(store: Store, commit: str) -> list[PatchEntry]:
    """Patches whose `Fixes:` names this commit: written longer (the query is a
    prefix of it) or shorter (it is a prefix of the query). Newest first."""
    sha = commit.strip().lower()
    f = t.fixes
    # Hex digits sort below "g" in every collation: [sha, sha + "g") holds exactly what starts with sha.
    names = or_(and_(f.c.sha >= sha, f.c.sha < sha + "g"), f.c.sha.in_(_prefixes(sha)))
    q = _with_patch_and_series(select(*_entry_columns(), f.c.sha, f.c.subject.label("fixes_subject")).select_from(f), f)
    async with store.reads.connect() as conn:
        rows = (await conn.execute(q.where(names).where(t.series.c.duplicate_of.is_(None)))).all()
    seen: set[tuple[int, int]] = set()
    out = []
    for r in sorted(rows, key=lambda r: (r.date is None, r.date), reverse=True):
        if (r.series_id, r.slot) not in seen:  # a patch naming the commit twice is listed once
            seen.add((r.series_id, r.slot))
            out.append(_entry(r, (r.sha, r.fixes_subject or "")))
    return out


# ------------------------------------------------------------------ subscriptions


async def guild_subscriptions(store: Store, guild_id: int) -> list[SubscriptionRow]:
    """This guild's subscriptions (and no other's), oldest first."""
    q = select(t.subscriptions).where(t.subscriptions.c.guild_id == guild_id).order_by(t.subscriptions.c.id)
    async with store.reads.connect() as conn:
        return [_subscription(r) for r in (await conn.execute(q)).mappings()]


async def remove_guild_subscription(store: Store, guild_id: int, subscription_id: int) -> bool:
    """Remove a subscription only if it is this guild's; False when there is none such."""
    q = delete(t.subscriptions).where(
        t.subscriptions.c.id == subscription_id, t.subscriptions.c.guild_id == guild_id
    )
    async with store.writes.begin() as conn:
        return (await conn.execute(q)).rowcount > 0


# ------------------------------------------------------------------ activity

_REVIEWS = ("Reviewed-by", "Acked-by")


async def activity(store: Store, since: datetime, until: datetime) -> Activity:
    """Mail by date and author, series by first seen, and the reviews their patches got."""
    out = Activity(since=since, until=until)
    m, s, p, tr = t.mails, t.series, t.patches, t.trailers
    in_window = and_(s.c.first_seen >= since, s.c.first_seen < until, s.c.duplicate_of.is_(None))
    async with store.reads.connect() as conn:
        mails = select(m.c.date, m.c.author_name, m.c.author_email).where(m.c.date >= since, m.c.date < until)
        names: dict[str, dict[str, int]] = {}
        for date, name, email in await conn.execute(mails):
            out.mail_dates.append(date)
            key = (email or name or "").lower()
            used = names.setdefault(key, {})
            used[name or email] = used.get(name or email, 0) + 1
        out.series_dates = list(await conn.scalars(select(s.c.first_seen).where(in_window)))
        patch_dates = {
            (sid, slot): date
            for sid, slot, date in await conn.execute(
                select(p.c.series_id, p.c.slot, p.c.date).join(s, s.c.id == p.c.series_id).where(in_window, p.c.slot > 0)
            )
        }
        # The first review each slot got from a reply (slot 0: on the cover, for every patch).
        first = (
            select(tr.c.series_id, tr.c.slot, func.min(m.c.date))
            .join(s, s.c.id == tr.c.series_id)
            .join(m, m.c.message_id == tr.c.message_id)
            .where(in_window, tr.c.name.in_(_REVIEWS), tr.c.from_reply.is_(True))
            .group_by(tr.c.series_id, tr.c.slot)
        )
        reviews = {(sid, slot): when for sid, slot, when in await conn.execute(first)}
    for key, used in names.items():
        best = max(sorted(used), key=lambda n: used[n])
        out.authors[key] = (best, sum(used.values()))
    out.patches = len(patch_dates)
    for (sid, slot), posted in patch_dates.items():
        times = [w for w in (reviews.get((sid, slot)), reviews.get((sid, 0))) if w is not None]
        if not times:
            continue
        out.reviewed += 1
        if posted is not None:
            out.hours_to_first_review.append(max((min(times) - posted).total_seconds(), 0.0) / 3600)
    return out


__all__ = [
    "STATES",
    "Activity",
    "PatchEntry",
    "SeriesSearch",
    "SeriesSummary",
    "State",
    "TitleHit",
    "activity",
    "author_clause",
    "fixes_of",
    "guild_subscriptions",
    "lineage_of",
    "posts_of",
    "remove_guild_subscription",
    "search_series",
    "series_by_message",
    "series_titles",
    "stable_pending",
    "state_clause",
    "subsystem_clause",
    "title_words",
]
