"""insert_many stores exactly what SQLAlchemy's executemany stores, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select, text

from bot.store import schema as t
from bot.store.bulkwrite import insert_many
from bot.store.engine import upsert

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)
PARIS = timezone(timedelta(hours=1))


def _mail(mid: str, n: int, **over: object) -> dict[str, object]:
    row: dict[str, object] = {
        "message_id": mid, "raw": b"\x00\xffz" * n, "size": n, "source": "git", "source_ref": None,
        "received_at": NOW, "kind": "patch", "subject": f"s{n}", "author_name": "Ann",
        "author_email": "ann@x", "date": datetime(2025, 1, n + 1, 9, tzinfo=PARIS), "list_id": None,
        "in_reply_to": None, "series_id": None, "errors": None, "unparsed": False,
    }
    row.update(over)
    return row


def _event(mid: str, data: dict[str, object], at: datetime = NOW) -> dict[str, object]:
    return {"kind": "patch_added", "series_id": 1, "message_id": mid, "patch_index": None,
            "data": data, "created_at": at}


async def _dump(conn, table, order) -> list[tuple]:  # type: ignore[no-untyped-def]
    # text(): the values as the database holds them, not as SQLAlchemy reads them back
    cols = ", ".join(f'"{c.name}"' for c in table.columns if c.name not in ("seq", "id"))
    return [tuple(r) for r in await conn.execute(text(f"SELECT {cols} FROM {table.name} ORDER BY {order}"))]


async def test_insert_many_matches_executemany(store):  # type: ignore[no-untyped-def]
    mails_a = [_mail("a1", 1), _mail("a2", 2, errors=["bad header"], unparsed=True, date=None)]
    mails_b = [{**m, "message_id": "b" + m["message_id"][1:]} for m in mails_a]  # type: ignore[index]
    later = NOW + timedelta(seconds=1)
    events_a = [_event("a1", {"slot": 1}), _event("a2", {"by": None, "via": "title"}, later), _event("a3", {}),
                # JSON that needs escaping, nesting and floats: the short way writes json.dumps's text
                _event("a4", {"who": "Jos\u00e9 \"x\"\n", "files": [{"path": "a/b.c", "n": [1, 2.5, True]}]})]
    events_b = [{**e, "message_id": "b" + e["message_id"][1:]} for e in events_a]  # type: ignore[index]
    async with store.engine.begin() as conn:
        await conn.execute(insert(t.mails), mails_a)
        await insert_many(conn, t.mails, mails_b)
        await conn.execute(insert(t.events), events_a)
        await insert_many(conn, t.events, events_b)
        got_mails = await _dump(conn, t.mails, "seq")
        got_events = await _dump(conn, t.events, "id")
    assert [m[1:] for m in got_mails[:2]] == [m[1:] for m in got_mails[2:]]
    n = len(events_a)
    assert [e[:2] + e[3:] for e in got_events[:n]] == [e[:2] + e[3:] for e in got_events[n:]]
    async with store.engine.connect() as conn:  # and read back through the schema's types
        dates = (await conn.execute(select(t.mails.c.date).order_by(t.mails.c.seq))).scalars().all()
    assert dates[2] == datetime(2025, 1, 2, 8, tzinfo=timezone.utc) and dates[3] is None


async def test_upsert_and_ignore(store):  # type: ignore[no-untyped-def]
    async with store.engine.begin() as conn:
        await insert_many(conn, t.lineages, [{"id": 1, "created_at": NOW}])
        await conn.execute(insert(t.series), [_series(1, "first")])
        await insert_many(conn, t.series, [_series(1, "again"), _series(2, "new")], how="upsert", conflict=("id",))
        await conn.execute(upsert(conn, t.series, ["id"]), [_series(3, "x")])
        refs = [{"series_id": 1, "message_id": "m"}, {"series_id": 1, "message_id": "m"}]
        await insert_many(conn, t.series_refs, refs, how="ignore")
        titles = (await conn.execute(select(t.series.c.title).order_by(t.series.c.id))).scalars().all()
        n_refs = await conn.scalar(select(text("count(*)")).select_from(t.series_refs))
    assert titles == ["again", "new", "x"] and n_refs == 1


def _series(sid: int, title: str) -> dict[str, object]:
    return {
        "id": sid, "lineage_id": 1, "title": title, "subject": title, "subsystem": None, "prefixes": ["PATCH"],
        "tags": [], "version": 1, "version_label": None, "version_explicit": False, "declared_total": None,
        "total": 1, "complete": True, "rfc": False, "resend": False, "pull": False, "partial": False,
        "author_name": "Ann", "author_email": "ann@x", "list_id": None, "cover": None, "title_slot": 1,
        "change_id": None, "supersedes": None, "superseded_by": None, "duplicate_of": None,
        "first_seen": NOW, "last_seen": NOW,
    }
