"""The Store on SQLite and PostgreSQL: ingest, re-delivery, views, outbox, bulk, reparse."""

from __future__ import annotations

import zlib


from sqlalchemy import select

from bot.config import SubscriptionConfig, SubscriptionFilter
from bot.series import EventKind
from bot.store import Store
from bot.store import schema as t
from bot.store.rawcodec import unpack

from tests.conftest import StoreTarget

from tests.helpers import patch_body, raw_mail, series_mails

SEAN = "Sean Christopherson <seanjc@google.com>"


async def test_ingest_series_views_and_outbox(store: Store):
    results = [await store.ingest(m) for m in series_mails("PATCH", 3, "Do things", tag="a")]
    assert all(r.new for r in results)
    sid = results[0].series_id
    assert {r.series_id for r in results} == {sid}
    kinds = [e.kind for r in results for e in r.events]
    assert kinds[:2] == [EventKind.SERIES_CREATED, EventKind.COVER_ADDED]
    assert kinds.count(EventKind.PATCH_ADDED) == 3 and kinds[-1] is EventKind.SERIES_COMPLETED
    ids = [e.event_id for r in results for e in r.events]
    assert ids == sorted(ids) and None not in ids

    view = await store.get_series(sid)
    assert view is not None and view.title == "KVM: x86: Do things" and view.total == 3 and view.complete
    assert view.cover == "a-0@x" and [p.index for p in view.patches] == [0, 1, 2, 3]
    assert view.received == 3 and view.lore_url == "https://lore.kernel.org/r/a-0@x"
    assert view.author.email == "ann@example.com"
    assert (await store.series_for_message("a-2@x")).series_id == sid

    outbox = await store.events_after(0, 100)
    assert [e.event_id for e in outbox] == ids
    assert [e.kind for e in await store.events_after(ids[1], 2)] == [EventKind.PATCH_ADDED] * 2


async def test_redelivery_is_stored_once_without_events(store: Store):
    raw = raw_mail("dup@x", "[PATCH] KVM: x86: once", body=patch_body("once"))
    first = await store.ingest(raw)
    again = await store.ingest(raw, source="mbox")
    assert first.new and first.events
    assert not again.new and again.events == () and again.series_id == first.series_id
    assert await store.count("mails") == 1 and len(await store.events_after(0, 100)) == len(first.events)
    assert await store.raw("dup@x") == raw


async def test_trailers_applied_and_lineage(store: Store):
    for m in series_mails("PATCH", 3, "Work", tag="v1"):
        await store.ingest(m)
    await store.ingest(
        raw_mail("r2@x", "Re: [PATCH 2/3] KVM: x86: Work part 2", irt="v1-2@x", refs=["v1-0@x"], author=SEAN,
                 at=10, body="> quoted\n\nReviewed-by: Sean Christopherson <seanjc@google.com>\n")
    )
    res = await store.ingest(
        raw_mail("r0@x", "Re: [PATCH 0/3] KVM: x86: Work", irt="v1-0@x", author=SEAN, at=20,
                 body="Acked-by: Sean Christopherson <seanjc@google.com>\n")
    )
    assert [e.kind for e in res.events] == [EventKind.TRAILER_ADDED]
    v1 = await store.series_for_message("v1-0@x")
    by_index = {p.index: p for p in v1.patches}
    assert by_index[2].reviewed_by == (SEAN,) and by_index[1].reviewed_by == ()
    assert all(by_index[i].acked_by == (SEAN,) for i in (1, 2, 3))

    for m in series_mails("PATCH v2", 3, "Work", tag="v2", at=7 * 24 * 60):
        await store.ingest(m)
    v2 = await store.series_for_message("v2-0@x")
    versions = await store.lineage(v1.lineage_id)
    assert [v.series_id for v in versions] == [v1.series_id, v2.series_id]
    assert versions[0].superseded_by == v2.series_id and versions[1].supersedes == v1.series_id
    assert all(p.reviewed_by == () for p in versions[1].patches)  # each version its own trailers
    kinds = {e.kind for e in await store.events_after(0, 1000)}
    assert EventKind.SUPERSEDED in kinds


async def test_ingest_many_matches_one_by_one(store_target, tmp_path):
    url, schema = store_target.url, store_target.schema
    mails = (
        series_mails("PATCH", 3, "Bulk", tag="b")
        + [raw_mail("s@x", "[PATCH] KVM: x86: single", at=5, body=patch_body("single"))]
        + series_mails("PATCH v2", 3, "Bulk", tag="c", at=500)
        + [raw_mail("s@x", "[PATCH] KVM: x86: single", at=5, body=patch_body("single"))]  # repeated
    )
    bulk = await Store.open(url, schema=schema)
    try:
        stats = await bulk.ingest_many(((m, f"ref{i}") for i, m in enumerate(mails)), source="git", batch_size=3)
        assert (stats.read, stats.new, stats.duplicates) == (len(mails), len(mails) - 1, 1)
        bulk_views = [v.model_dump(exclude={"first_seen", "last_seen"}) for v in await bulk.list_series()]
        bulk_events = [(e.kind, e.series_id, e.message_id) for e in await bulk.events_after(0, 1000)]
        stored = await bulk.mails(source_refs=["ref0", "ref4"])
        assert [m.message_id for m in stored] == ["b-0@x", "s@x"]
        # a later single ingest continues from the bulk state (index reloaded from the DB)
        await bulk.close()
        bulk = await Store.open(url, schema=schema)
        res = await bulk.ingest(raw_mail("r@x", "Re: [PATCH v2 1/3] KVM: x86: Bulk part 1", irt="c-1@x",
                                         author=SEAN, at=600, body="Tested-by: Sean Christopherson <seanjc@google.com>\n"))
        assert [e.kind for e in res.events] == [EventKind.TRAILER_ADDED]
    finally:
        await bulk.close()
    one_url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    one = await Store.open(one_url)
    try:
        for m in mails:
            await one.ingest(m)
        assert [v.model_dump(exclude={"first_seen", "last_seen"}) for v in await one.list_series()] == bulk_views
        assert [(e.kind, e.series_id, e.message_id) for e in await one.events_after(0, 1000)] == bulk_events
    finally:
        await one.close()


async def test_reparse_rebuilds_the_same_series(store: Store):
    for m in series_mails("PATCH", 2, "Again", tag="a"):
        await store.ingest(m)
    await store.ingest(raw_mail("r@x", "Re: [PATCH 1/2] KVM: x86: Again part 1", irt="a-1@x", author=SEAN,
                                body="Reviewed-by: Sean Christopherson <seanjc@google.com>\n", at=9))
    before = [v.model_dump() for v in await store.list_series()]
    events = await store.last_event_id()
    stats = await store.reparse()
    assert stats.mails == 4 and stats.series == 1
    assert [v.model_dump() for v in await store.list_series()] == before
    assert await store.last_event_id() == events  # no new events


async def test_raw_is_compressed(store: Store):
    raw = raw_mail("z@x", "[PATCH] KVM: x86: zip", body=patch_body("zip") * 20)
    await store.ingest(raw)
    async with store.engine.connect() as conn:
        blob, size = (await conn.execute(select(t.mails.c.raw, t.mails.c.size))).one()
    assert unpack(blob) == raw and size == len(raw) and len(blob) < len(raw)
    assert blob[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame


async def test_rows_stored_with_zlib_before_zstd_still_read_and_reparse(store: Store):
    """A database written before the switch to zstd holds zlib streams."""
    mails = series_mails("PATCH v2", 2, "old zlib rows", tag="old")
    for raw in mails:
        await store.ingest(raw)
    before = [v.model_dump() for v in await store.list_series()]
    async with store.engine.begin() as conn:
        rows = (await conn.execute(select(t.mails.c.message_id, t.mails.c.raw))).all()
        for mid, blob in rows:
            await conn.execute(
                t.mails.update().where(t.mails.c.message_id == mid).values(raw=zlib.compress(unpack(blob), 6))
            )
    assert sorted([await store.raw(mid) for mid, _ in rows]) == sorted(mails)
    stats = await store.reparse()
    assert stats.mails == 3
    assert [v.model_dump() for v in await store.list_series()] == before


async def test_subscriptions_deliveries_posts_cursors(store: Store):
    cfg_a = SubscriptionConfig(guild=1, channel=10, filter=SubscriptionFilter(subsystems=["KVM: x86"]))
    cfg_b = SubscriptionConfig(guild=1, channel=11)
    assert await store.sync_config([cfg_a, cfg_b]) == (2, 0, 0)
    cli_id = await store.add_subscription(SubscriptionConfig(guild=1, channel=12), origin="cli")
    assert await store.sync_config([cfg_a.model_copy(update={"threads": False})]) == (0, 1, 1)
    subs = await store.list_subscriptions()
    assert [(s.channel_id, s.origin, s.threads) for s in subs] == [(10, "config", False), (12, "cli", True)]
    assert subs[0].filter.subsystems == ["KVM: x86"]
    assert await store.disable_channel(12, "channel deleted") == 1
    assert [s.channel_id for s in await store.list_subscriptions(enabled_only=True)] == [10]
    assert await store.remove_subscription(cli_id) and not await store.remove_subscription(cli_id)

    assert await store.add_deliveries(7, [(10, subs[0].id), (11, None)]) == 2
    assert await store.add_deliveries(7, [(10, subs[0].id)]) == 0
    await store.record_delivery(7, 10, "done", discord_message_id=555)
    await store.record_delivery(7, 11, "failed", error="403 Missing Access")
    assert [(d.event_id, d.channel_id) for d in await store.pending_deliveries()] == []
    retry = await store.pending_deliveries(max_attempts=3)
    assert [(d.channel_id, d.attempts, d.error) for d in retry] == [(11, 1, "403 Missing Access")]
    assert (await store.get_delivery(7, 10)).discord_message_id == 555

    assert await store.get_post(1, 10) is None
    await store.save_post(1, 10, card_message_id=99, thread_id=100, rendered_hash="h1")
    await store.save_post(1, 10, card_message_id=99, thread_id=100, rendered_hash="h2")
    assert (await store.get_post(1, 10)).rendered_hash == "h2"

    assert await store.get_cursor("kvm/0") is None
    await store.set_cursor("kvm/0", "abc")
    await store.set_cursor("kvm/0", "def")
    assert await store.get_cursor("kvm/0") == "def"


async def test_unparseable_mail_is_kept_and_listed(store: Store):
    junk = b"\x00\x01 this is not a mail at all \xff\xfe"
    res = await store.ingest(junk, source="smtp")
    assert res.new and res.kind == "unparseable" and res.events == ()
    (kept,) = await store.unparseable()
    assert kept.message_id == res.message_id and kept.errors and kept.size == len(junk)
    assert await store.raw(res.message_id) == junk


async def test_parser_crash_keeps_the_mail(store_target):
    """A parser bug must not lose mail: the raw bytes are kept and listed."""
    from bot.mail import parse_mail

    def fragile(raw: bytes):
        if b"boom" in raw:
            raise RuntimeError("parser bug")
        return parse_mail(raw)

    url, schema = store_target.url, store_target.schema
    store = await Store.open(url, schema=schema, parser=fragile)
    try:
        raw = raw_mail("boom@x", "[PATCH] KVM: x86: boom", body=patch_body("boom"))
        res = await store.ingest(raw)
        assert res.new and res.kind == "unparseable" and "parser bug" in res.errors[0]
        assert [u.message_id for u in await store.unparseable()] == [res.message_id]
        assert await store.raw(res.message_id) == raw
        ok = await store.ingest(raw_mail("fine@x", "[PATCH] KVM: x86: fine", body=patch_body("fine")))
        assert ok.series_id is not None
    finally:
        await store.close()


async def test_second_writer_is_noticed(store_target):
    """Two Store objects on one database (e.g. `ingest` beside `run`) keep ids apart."""
    url, schema = store_target.url, store_target.schema
    a = await Store.open(url, schema=schema)
    b = await Store.open(url, schema=schema)
    try:
        ra = await a.ingest(raw_mail("a@x", "[PATCH] KVM: x86: from a", body=patch_body("a")))
        rb = await b.ingest(raw_mail("b@x", "[PATCH] KVM: x86: from b", body=patch_body("b")))
        assert ra.series_id != rb.series_id and not rb.errors
        reply = await a.ingest(raw_mail("r@x", "Re: [PATCH] KVM: x86: from b", irt="b@x", author=SEAN,
                                        body="Acked-by: Sean Christopherson <seanjc@google.com>\n"))
        assert reply.series_id == rb.series_id and [e.kind for e in reply.events] == [EventKind.TRAILER_ADDED]
    finally:
        await a.close()
        await b.close()


async def test_reply_before_its_patch_still_counts(store: Store):
    """A Reviewed-by that arrives before the patch it answers is counted when the patch lands."""
    early = raw_mail("rv@x", "Re: [PATCH 2/2] KVM: x86: Early part 2", irt="e-2@x", refs=["e-0@x"], author=SEAN,
                     at=30, body="Reviewed-by: Sean Christopherson <seanjc@google.com>\n")
    deeper = raw_mail("rv2@x", "Re: [PATCH 2/2] KVM: x86: Early part 2", irt="rv@x", refs=["e-0@x", "e-2@x"],
                      author="Paolo Bonzini <pbonzini@redhat.com>", at=31,
                      body="Acked-by: Paolo Bonzini <pbonzini@redhat.com>\n")
    assert (await store.ingest(early)).series_id is None
    assert (await store.ingest(deeper)).series_id is None
    results = [await store.ingest(m) for m in series_mails("PATCH", 2, "Early", tag="e")]
    kinds = [(e.kind, e.message_id) for r in results for e in r.events if e.kind is EventKind.TRAILER_ADDED]
    assert kinds == [(EventKind.TRAILER_ADDED, "rv@x"), (EventKind.TRAILER_ADDED, "rv2@x")]
    view = await store.series_for_message("e-2@x")
    patch2 = next(p for p in view.patches if p.index == 2)
    assert patch2.reviewed_by == (SEAN,) and patch2.acked_by == ("Paolo Bonzini <pbonzini@redhat.com>",)
    assert (await store.series_for_message("rv@x")).series_id == view.series_id
    # the bulk path and reparse come to the same result
    before = [v.model_dump() for v in await store.list_series()]
    await store.reparse()
    assert [v.model_dump() for v in await store.list_series()] == before


async def test_bulk_reply_before_its_patch(store: Store):
    early = raw_mail("rv@x", "Re: [PATCH 1/1] KVM: x86: Early", irt="b-1@x", author=SEAN, at=30,
                     body="Tested-by: Sean Christopherson <seanjc@google.com>\n")
    stats = await store.ingest_many([early, *series_mails("PATCH", 1, "Early", tag="b")], source="mbox", batch_size=1)
    assert stats.new == 3
    view = await store.series_for_message("b-1@x")
    assert next(p for p in view.patches if p.index == 1).tested_by == (SEAN,)
    assert (await store.series_for_message("rv@x")).series_id == view.series_id


async def test_hostile_bytes_are_stored_on_both_databases(store: Store):
    raw = (b"From: A \x00B <a@x>\nSubject: [PATCH] foo\x00bar \xff\xfe\nMessage-ID: <n\x00ul@x>\n"
           b"Date: Fri, 14 Mar 2025 19:34:48 -0700\n\nbody \x00 \xed\xa0\x80 text\n")
    res = await store.ingest(raw)
    assert res.new and await store.raw(res.message_id) == raw
    assert (await store.mails())[0].parsed.message_id == res.message_id


async def test_fixes_and_stable_per_patch_and_rolled_up(store: Store):
    fix = 'Fixes: 0123456789ab ("KVM: x86: Break things")\nCc: stable@vger.kernel.org # 6.1+\n'
    mails = series_mails("PATCH", 2, "Mend", tag="f")
    mails[2] = raw_mail("f-2@x", "[PATCH 2/2] KVM: x86: Mend part 2", irt="f-0@x", at=2,
                        body=patch_body("part 2", fix + "Signed-off-by: Ann Dev <ann@example.com>\n"))
    results = [await store.ingest(m) for m in mails]
    stable_events = [e for r in results for e in r.events if e.kind is EventKind.STABLE_REQUESTED]
    assert [(e.message_id, e.patch_index) for e in stable_events] == [("f-2@x", 2)]
    view = await store.series_for_message("f-0@x")
    p1, p2 = (p for p in view.patches if p.index)
    assert p1.fixes == () and not p1.stable.tagged
    assert [f.sha for f in p2.fixes] == ["0123456789ab"] and p2.stable.tagged
    assert [f.sha for f in view.fixes] == ["0123456789ab"] and view.stable.tagged
    assert p2.files == ("arch/x86/kvm/x86.c",)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(t.fixes.c.sha, t.fixes.c.slot))).all()
        stable = (await conn.execute(select(t.stable_requests.c.slot))).all()
    assert [tuple(r) for r in rows] == [("0123456789ab", 2)] and [tuple(r) for r in stable] == [(2,)]


async def test_a_tracker_bug_keeps_the_mail_in_bulk_and_single(store_target):
    """A mail that breaks the tracker is kept (listed as unparsed); the others are unharmed."""
    from bot.mail import parse_mail
    from bot.mail.models import ParsedMail

    def buggy(raw: bytes):
        parsed = parse_mail(raw)
        if parsed.message_id.startswith("bad"):
            # a parser bug producing an impossible value: None where a tuple belongs
            return ParsedMail.model_construct(**{**dict(parsed), "references": None, "in_reply_to": None})
        return parsed

    url, schema = store_target.url, store_target.schema
    store = await Store.open(url, schema=schema, parser=buggy)
    try:
        mails = series_mails("PATCH", 2, "Fine", tag="g") + [
            raw_mail("bad1@x", "[PATCH] KVM: x86: breaks the tracker", body=patch_body("bad"))
        ] + series_mails("PATCH", 1, "Also fine", tag="h", at=60)
        stats = await store.ingest_many(mails, source="mbox", batch_size=2)
        assert stats.new == len(mails) and stats.fallbacks == 1
        bad = await store.ingest(raw_mail("bad2@x", "[PATCH] KVM: x86: breaks it again", body=patch_body("x")))
        assert bad.new and any(e.startswith("tracker:") for e in bad.errors)
        kept = await store.unparseable()
        assert [k.message_id for k in kept] == ["bad1@x", "bad2@x"]
        assert all(any(e.startswith("tracker:") for e in k.errors) for k in kept)
        assert [v.title for v in await store.list_series()] == ["KVM: x86: Fine", "KVM: x86: Also fine"]
        assert await store.raw("bad1@x") is not None
    finally:
        await store.close()


async def test_list_series_pages_and_filters(store: Store):
    for n, tag in enumerate("abc"):
        for m in series_mails("PATCH", 1, f"Page {tag}", tag=tag, at=n * 60):
            await store.ingest(m)
    titles = [v.title for v in await store.list_series()]
    assert titles == ["KVM: x86: Page a", "KVM: x86: Page b", "KVM: x86: Page c"]
    assert [v.title for v in await store.list_series(limit=2, offset=1)] == titles[1:]
    assert [v.title for v in await store.list_series(limit=1, newest_first=True)] == titles[2:]
    b = await store.series_for_message("b-0@x")
    assert [v.title for v in await store.list_series(since=b.first_seen)] == titles[1:]
    assert [v.title for v in await store.list_series(until=b.first_seen)] == titles[:1]
    assert await store.list_series(author="nobody@example.com") == []


async def test_reparse_moves_discord_posts_with_their_renumbered_series(store_target: StoreTarget):
    """A parser fix that creates an earlier series renumbers every later one;
    their cards must follow them, not be edited with another series."""
    from bot.mail import parse_mail

    def buggy(raw: bytes):  # the bug reparse fixes: series "a" was unreadable
        if b"Message-ID: <a-" in raw:
            raise ValueError("parser bug")
        return parse_mail(raw)

    before = await Store.open(store_target.url, schema=store_target.schema, parser=buggy)
    try:
        for tag, at in (("a", 0), ("b", 10), ("c", 20)):
            for m in series_mails("PATCH", 2, f"Series {tag}", tag=tag, at=at):
                await before.ingest(m)
        b_id = (await before.series_for_message("b-1@x")).series_id
        c_id = (await before.series_for_message("c-1@x")).series_id
        assert await before.series_for_message("a-1@x") is None
        await before.save_post(b_id, 10, card_message_id=100, thread_id=101, rendered_hash="hb")
        await before.save_post(c_id, 10, card_message_id=200, thread_id=201)
        await before.save_post(c_id, 11, card_message_id=300)
    finally:
        await before.close()

    store = await store_target.open()  # the fixed parser
    try:
        stats = await store.reparse()
        a, b, c = [(await store.series_for_message(f"{tag}-1@x")).series_id for tag in "abc"]
        assert (a, b, c) == (b_id, c_id, c_id + 1)  # "a" took the first id: the others moved up
        assert stats.posts_moved == 3 and stats.posts_dropped == 0
        assert await store.get_post(a, 10) is None  # "a" gets a card of its own
        post_b = await store.get_post(b, 10)
        assert post_b is not None and (post_b.card_message_id, post_b.thread_id, post_b.rendered_hash) == (100, 101, "hb")
        assert (await store.get_post(c, 10)).card_message_id == 200
        assert (await store.get_post(c, 11)).card_message_id == 300
        again = await store.reparse()  # nothing moves twice
        assert (again.posts_moved, again.posts_dropped) == (0, 0)
        assert (await store.get_post(b, 10)).card_message_id == 100
    finally:
        await store.close()


def test_moved_posts_drop_merged_and_vanished_series():
    from bot.series import Member
    from bot.store.store import moved_posts

    class Index:  # where each mail is after the reparse
        members = {"x-0@x": Member(5, 0), "y-1@x": Member(5, 1), "w-0@x": Member(2, 0), "v-0@x": Member(6, 0)}

        def member(self, mid: str) -> Member | None:
            return self.members.get(mid)

    posts = [
        {"series_id": 1, "channel_id": 10, "card_message_id": 100},  # x: now series 5
        {"series_id": 2, "channel_id": 10, "card_message_id": 200},  # y: merged into 5 as well
        {"series_id": 2, "channel_id": 11, "card_message_id": 210},  # ... the only card of 5 in channel 11
        {"series_id": 3, "channel_id": 10, "card_message_id": 300},  # z: in no series now
        {"series_id": 4, "channel_id": 10, "card_message_id": 400},  # w: now series 2
        {"series_id": 6, "channel_id": 10, "card_message_id": 600},  # v: still series 6
    ]
    firsts = {1: "x-0@x", 2: "y-1@x", 3: "z-0@x", 4: "w-0@x", 6: "v-0@x"}
    kept, moved = moved_posts(posts, firsts, Index())  # type: ignore[arg-type]
    assert kept == [
        {"series_id": 5, "channel_id": 10, "card_message_id": 100},
        {"series_id": 5, "channel_id": 11, "card_message_id": 210},
        {"series_id": 2, "channel_id": 10, "card_message_id": 400},
        {"series_id": 6, "channel_id": 10, "card_message_id": 600},
    ]
    assert moved == 3


async def test_a_reparse_by_another_process_reloads_this_ones_index(store_target: StoreTarget):
    """`kvm-patchbot reparse` beside a running service adds no mail, yet
    renumbers series: the service must not go on deciding with its old index."""
    from bot.mail import parse_mail

    def buggy(raw: bytes):
        if b"Message-ID: <a-" in raw:
            raise ValueError("parser bug")
        return parse_mail(raw)

    service = await Store.open(store_target.url, schema=store_target.schema, parser=buggy)
    try:
        for tag, at in (("a", 0), ("b", 10)):
            for m in series_mails("PATCH", 3, f"Series {tag}", tag=tag, at=at)[:3]:  # b-3 comes later
                await service.ingest(m)
        cli = await store_target.open()
        try:
            await cli.reparse()  # "a" is a series now, and "b" moved up an id
        finally:
            await cli.close()
        late = await service.ingest(series_mails("PATCH", 3, "Series b", tag="b", at=10)[3])
        b = await service.series_for_message("b-1@x")
        assert late.series_id == b.series_id  # not the id "b" had before the reparse
        view = await service.get_series(b.series_id)
        assert view.title == "KVM: x86: Series b" and view.complete
        assert (await service.get_series((await service.series_for_message("a-1@x")).series_id)).received == 2
    finally:
        await service.close()
