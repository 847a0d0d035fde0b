"""What the store keeps when mail is odd: poison among good mail, variants of a
known Message-ID; and that a commit is on stable storage (both databases)."""

from __future__ import annotations

from pathlib import Path

from bot.mail import parse_mail
from bot.mail.models import ParsedMail
from bot.store import Store

from tests.conftest import StoreTarget

from tests.helpers import patch_body, raw_mail, series_mails


def poisoning(raw: bytes) -> ParsedMail:
    """The real parser, except that a mail saying "poison" gets a Subject ending
    in a lone surrogate, as a UTF-7 encoded word once decoded to: a value no
    database driver can encode, so the store's normal write fails for real."""
    parsed = parse_mail(raw)
    if b"poison" not in raw:
        return parsed
    subject = parsed.subject.model_copy(update={"raw": parsed.subject.raw + "\udcff"})
    return parsed.model_copy(update={"subject": subject})


async def test_sqlite_commits_are_fsynced(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'full.db'}")
    try:
        async with store.engine.connect() as conn:
            level = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
        assert level == 2  # FULL: the WAL is synced at every commit
    finally:
        await store.close()


async def test_a_poison_mail_is_kept_raw_and_the_others_of_its_batch_are_stored(store_target: StoreTarget) -> None:
    store = await Store.open(store_target.url, schema=store_target.schema, parser=poisoning)
    try:
        good = series_mails("PATCH", 6, "Good work", tag="g")
        poison = raw_mail("poison@x", "[PATCH] KVM: x86: poison", body=patch_body("poison"))
        batch = good[:3] + [poison] + good[3:]
        stats = await store.ingest_many(batch, source="smtp")
        assert (stats.new, stats.unparsed) == (len(batch), 1)
        (kept,) = await store.unparseable()
        assert kept.message_id == "poison@x" and kept.errors[-1].startswith("store: ")
        assert await store.raw("poison@x") == poison
        (series,) = await store.list_series()
        assert series.title == "KVM: x86: Good work" and series.complete and series.received == 6
        # The single-mail path too, and a retry of the poison is a duplicate, not a failure.
        again = await store.ingest(poison)
        assert not again.new
        other = raw_mail("poison2@x", "[PATCH] KVM: x86: poison again", body=patch_body("p2"))
        single = await store.ingest(other)
        assert single.new and single.kind == "unparseable" and single.errors[-1].startswith("store: ")
        assert [u.message_id for u in await store.unparseable()] == ["poison@x", "poison2@x"]
    finally:
        await store.close()


async def test_a_known_message_id_with_another_body_is_kept_as_a_variant(store: Store) -> None:
    first = raw_mail("v@x", "[PATCH] KVM: x86: one", body=patch_body("one"))
    # The same mail by another path: other transport headers, same body.
    relayed = b"Received: from lore by example.org; Mon, 1 Jan 2024 00:00:00 +0000\n" + first
    changed = raw_mail("v@x", "[PATCH] KVM: x86: one", body=patch_body("one, but not the same"))
    assert (await store.ingest(first)).new
    assert not (await store.ingest(relayed)).variant
    res = await store.ingest(changed, source="mbox", source_ref="x.mbox:0")
    assert not res.new and res.variant
    assert (await store.ingest(changed)).variant  # again: still a variant, kept once (below)
    (v,) = await store.variants()
    assert (v.message_id, v.source, v.source_ref, v.size) == ("v@x", "mbox", "x.mbox:0", len(changed))
    assert await store.variant_raw(v.id) == changed
    assert await store.raw("v@x") == first  # the first body stays the mail

    # The bulk path: a variant among new mail, one repeated in the same batch.
    other = raw_mail("w@x", "[PATCH] KVM: x86: two", body=patch_body("two"))
    other2 = raw_mail("w@x", "[PATCH] KVM: x86: two", body=patch_body("two, edited"))
    changed2 = raw_mail("v@x", "[PATCH] KVM: x86: one", body=patch_body("a third body"))
    stats = await store.ingest_many([other, changed2, other2, other2, changed, relayed], source="lore")
    assert (stats.new, stats.duplicates, stats.variants) == (1, 5, 3)  # other2 twice counts once
    assert sorted((v.message_id, v.size) for v in await store.variants()) == sorted(
        [("v@x", len(changed)), ("v@x", len(changed2)), ("w@x", len(other2))]
    )


async def test_variants_command_lists_them_and_gives_their_bytes(tmp_path: Path, capfdbinary) -> None:
    import asyncio
    import json

    from bot.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"
    first = raw_mail("v@x", "[PATCH] KVM: x86: one", body=patch_body("one"))
    changed = raw_mail("v@x", "[PATCH] KVM: x86: one", body=patch_body("another"))
    store = await Store.open(url)
    try:
        await store.ingest(first)
        await store.ingest(changed, source="smtp", source_ref="smtp 127.0.0.1:1 from <a@b>")
    finally:
        await store.close()

    def cli(*args: str) -> tuple[int, bytes, bytes]:
        code = main(list(args))
        out, err = capfdbinary.readouterr()
        return code, out, err

    code, out, err = await asyncio.to_thread(cli, "variants", "--db", url)
    assert code == 0 and out.decode().startswith("#1 <v@x> ") and b"1 variant of" in err
    code, out, _ = await asyncio.to_thread(cli, "variants", "--db", url, "--jsonl")
    assert json.loads(out)["source_ref"] == "smtp 127.0.0.1:1 from <a@b>"
    code, out, _ = await asyncio.to_thread(cli, "variants", "--db", url, "--raw", "1")
    assert code == 0 and out == changed
    code, _, err = await asyncio.to_thread(cli, "variants", "--db", url, "--raw", "7")
    assert code == 1 and b"no variant #7" in err


def test_body_hash_ignores_headers_line_ends_and_trailing_blank_lines() -> None:
    from bot.store.rows import body_hash

    lf = body_hash(b"Subject: x\nReceived: a\n\nThe body.\n\nSigned-off-by: A <a@b>\n")
    assert lf == body_hash(b"Subject: x\r\n\r\nThe body.\r\n\r\nSigned-off-by: A <a@b>\r\n\r\n\r\n")
    assert lf != body_hash(b"Subject: x\n\nThe body.\nSigned-off-by: A <a@b>\n")  # one blank line fewer inside
    assert body_hash(b"no header block at all") == body_hash(b"no header block at all\n")
