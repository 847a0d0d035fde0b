"""Loading the tracker's index from the database: all of it, the recent window,
or the series a lookup of the window named (`bot.series.window`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.mail.subject import parse_subject
from bot.series import MemoryIndex
from bot.series.titles import normal_title, title_tokens
from bot.series.tracker import UNTHREADED_SCAN
from bot.series.window import Key, Window, words_range
from bot.store import schema as t
from bot.store.rows import state_from_rows

_PART = 900  # ids per IN (...): under SQLite's bound-parameter limit


def _parts(items: Iterable[Any]) -> Iterator[list[Any]]:
    it = iter(items)
    while part := list(islice(it, _PART)):
        yield part


async def load_series(conn: AsyncConnection, index: MemoryIndex, ids: Iterable[int] | None) -> None:
    """Add series to `index` with their members, trailers, applied patches,
    refs and answers; `ids` None: every stored series."""
    parts: list[list[int] | None] = [None] if ids is None else list(_parts(sorted(set(ids))))
    for part in parts:
        def only(q: Any, column: Any, part: list[int] | None = part) -> Any:
            return q if part is None else q.where(column.in_(part))

        # Each member's own subsystem too: the series' subsystem is voted from them.
        members: dict[int, list[tuple[int, str, str, str | None]]] = {}
        q = select(
            t.patches.c.series_id, t.patches.c.slot, t.patches.c.message_id, t.patches.c.title, t.patches.c.subject
        )
        for sid, slot, mid, title, subject in await conn.execute(only(q, t.patches.c.series_id)):
            members.setdefault(sid, []).append((slot, mid, title, parse_subject(subject).subsystem))
        keys: dict[int, list[tuple[int, str, str]]] = {}
        q = select(t.trailers.c.series_id, t.trailers.c.slot, t.trailers.c.name, t.trailers.c.giver_email)
        for sid, slot, name, email in await conn.execute(only(q, t.trailers.c.series_id)):
            keys.setdefault(sid, []).append((slot, name, email))
        done: dict[int, list[int]] = {}
        q = select(t.applied.c.series_id, t.applied.c.slot)
        for sid, slot in await conn.execute(only(q, t.applied.c.series_id)):
            done.setdefault(sid, []).append(slot)
        # The stable requests each series has alerted for: one alert per fix across versions.
        stable: dict[int, list[int]] = {}
        asked = select(t.stable_requests.c.series_id, t.stable_requests.c.slot).where(
            t.stable_requests.c.noautosel.is_(False)
        )
        for sid, slot in await conn.execute(only(asked, t.stable_requests.c.series_id)):
            stable.setdefault(sid, []).append(slot)
        rows = await conn.execute(only(select(t.series), t.series.c.id).order_by(t.series.c.id))
        for row in rows.mappings():
            sid = row["id"]
            index.add_series(state_from_rows(
                dict(row), members.get(sid, ()), keys.get(sid, ()), done.get(sid, ()), stable.get(sid, ())
            ))
        q = select(t.series_refs.c.series_id, t.series_refs.c.message_id)
        for sid, mid in await conn.execute(only(q, t.series_refs.c.series_id)):
            index.add_ref(sid, mid)
        answers = select(t.patches.c.series_id, t.mails.c.in_reply_to).join(
            t.mails, t.mails.c.message_id == t.patches.c.message_id
        ).where(t.mails.c.in_reply_to.is_not(None))
        for sid, irt in await conn.execute(only(answers, t.patches.c.series_id)):
            index.add_answer(sid, irt)


async def reserve_ids(conn: AsyncConnection, index: MemoryIndex) -> None:
    """The next series and lineage ids follow the stored ones, loaded or not."""
    top_series = await conn.scalar(select(func.max(t.series.c.id)))
    if top_series is not None:
        index.reserve_series(top_series)
    top = await conn.scalar(select(func.max(t.lineages.c.id)))
    if top is not None:
        index.reserve_lineage(top)


async def newest_activity(conn: AsyncConnection) -> datetime | None:
    return await conn.scalar(select(func.max(t.series.c.last_seen)))


async def recent_ids(conn: AsyncConnection, window: Window, newest: datetime | None) -> list[int]:
    """The series the window holds at start-up: the most recently active."""
    if newest is None:
        return []
    q = select(t.series.c.id).order_by(t.series.c.last_seen.desc(), t.series.c.id.desc())
    if window.days is not None:
        q = q.where(t.series.c.last_seen >= newest - timedelta(days=window.days))
    if window.max_series is not None:
        q = q.limit(window.max_series)
    return [sid for (sid,) in await conn.execute(q)]


async def matching(conn: AsyncConnection, keys: Iterable[Key]) -> set[int]:
    """Every stored series a key matches (see `bot.series.window.Key`)."""
    by: dict[str, list[Any]] = {}
    for what, value in keys:
        by.setdefault(what, []).append(value)
    out: set[int] = set(by.get("series", ()))
    simple = {
        "member": (t.patches.c.series_id, t.patches.c.message_id),
        "refs": (t.series_refs.c.series_id, t.series_refs.c.message_id),
        "change": (t.series.c.id, t.series.c.change_id),
        "lineage": (t.series.c.id, t.series.c.lineage_id),
    }
    for what, (sid_col, key_col) in simple.items():
        for part in _parts(by.get(what, ())):
            out.update(sid for (sid,) in await conn.execute(select(sid_col).where(key_col.in_(part))))
    for part in _parts(by.get("answers", ())):
        q = select(t.patches.c.series_id).join(t.mails, t.mails.c.message_id == t.patches.c.message_id)
        out.update(sid for (sid,) in await conn.execute(q.where(t.mails.c.in_reply_to.in_(part))))
    author = func.lower(t.series.c.author_email)
    for email in by.get("author", ()):
        q = select(t.series.c.id).where(author == email).order_by(t.series.c.id.desc()).limit(UNTHREADED_SCAN)
        out.update(sid for (sid,) in await conn.execute(q))
    for email, title in by.get("title", ()):
        out |= await _same_title(conn, email, title)
    for email, title, day in by.get("words", ()):
        out |= await _sharing_words(conn, email, title, *words_range(day))
    return out


async def _titles(conn: AsyncConnection, where: Any, pattern: str = "%") -> list[tuple[int, str]]:
    """(series id, title) of the series matching `where` and of their members,
    the titles lower-cased LIKE `pattern`."""
    c, m = t.series.c, t.patches.c
    q = select(c.id, c.title).where(where)
    if pattern != "%":
        q = q.where(func.lower(c.title).like(pattern, escape="\\"))
    rows = [(sid, title) for sid, title in await conn.execute(q)]
    q = select(m.series_id, m.title).join(t.series, c.id == m.series_id).where(where)
    if pattern != "%":
        q = q.where(func.lower(m.title).like(pattern, escape="\\"))
    return rows + [(sid, title) for sid, title in await conn.execute(q)]


async def _same_title(conn: AsyncConnection, email: str, title: str) -> set[int]:
    """The author's series with a member of this title (`normal_title`)."""
    same = normal_title(title)
    # Read only titles holding its longest word (SQL's lower() knows ASCII only).
    longest = max(same.split(), key=len, default="")
    pattern = "%"
    if longest.isascii():
        pattern = "%" + longest.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await _titles(conn, func.lower(t.series.c.author_email) == email, pattern)
    return {sid for sid, other in rows if normal_title(other) == same}


async def _sharing_words(
    conn: AsyncConnection, email: str, title: str, since: datetime, until: datetime
) -> set[int]:
    """The author's series last active in [since, until] with a title sharing a word with `title`."""
    words = title_tokens(title)
    if not words:
        return set()
    c = t.series.c
    rows = await _titles(conn, (func.lower(c.author_email) == email) & (c.last_seen >= since) & (c.last_seen <= until))
    return {sid for sid, other in rows if words & title_tokens(other)}
