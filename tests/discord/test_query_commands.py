"""/series, /stable, /fixes, /digest, /stats end to end, page buttons and autocomplete included."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.digest.model import Window
from bot.digest.source import digest_from_store
from bot.ingest.sources import iter_path
from bot.notify.text import escape
from bot.store import Store, queries
from tests.discord.commands import (
    EPHEMERAL, GUILD, HERE, MEMBER, OTHER_MEMBER, Running, answer, bot_on, bot_running, buttons, fake_discord, opt,
    sub, text,
)
from tests.fakediscord import Message
from tests.helpers import patch_body, raw_mail

PIR = "x86/irq: KVM: Optimize KVM's PIR harvesting"


async def _load(store: Store, seeds: list[bytes], data_dir: Path) -> None:
    for raw in seeds:
        await store.ingest(raw)
    for path in sorted((data_dir / "versions").glob("*.mbox")):
        for m in iter_path(path):
            await store.ingest(m.data)


async def _widgets(store: Store, n: int) -> None:
    for i in range(n):
        await store.ingest(raw_mail(f"w{i}@x", f"[PATCH] KVM: x86: Widget fix number {i}", at=i, body=patch_body("w")))


async def test_search_answers_ten_per_page_with_previous_and_next(store: Store) -> None:
    await _widgets(store, 13)
    async with fake_discord() as fake:
        async with bot_on(fake, store) as on:
            first = await _turn_pages(on)
        # A press on an answer from before a restart is told it expired, to the presser alone.
        async with bot_on(fake, store) as again:
            stale = await fake.answered(fake.press(first.id, buttons(first)["Next"]["custom_id"], user_id=MEMBER))
            expired = answer(fake, stale)
    assert expired.flags & EPHEMERAL and "These results have expired" in text(expired)
    assert again.bot is not on.bot


async def _turn_pages(on: Running) -> Message:
    """Page 1, Next, a stranger's press, Previous: the same message throughout."""
    first = await on.ask("series", sub("search", opt("query", "widget")))
    assert first.interaction_id is not None and not first.flags & EPHEMERAL
    assert text(first).count("Widget fix number") == 10 and "Widget fix number 12" in text(first)
    nav = buttons(first)
    assert nav["Previous"].get("disabled") is True and not nav["Next"].get("disabled")
    turned = await on.fake.answered(on.fake.press(first.id, nav["Next"]["custom_id"], user_id=MEMBER))
    assert turned.response_type == 7  # UPDATE_MESSAGE: the same message shows page 2
    assert text(first).count("Widget fix number") == 3 and "Widget fix number 0" in text(first)
    assert "page 2 (last)" in text(first) and buttons(first)["Next"].get("disabled") is True
    # Someone else's press is refused to them alone; the page stays.
    other = await on.fake.answered(on.fake.press(first.id, buttons(first)["Previous"]["custom_id"], user_id=OTHER_MEMBER))
    refusal = answer(on.fake, other)
    assert refusal.flags & EPHEMERAL and "Only the person who asked" in text(refusal)
    assert "page 2 (last)" in text(first)
    await on.fake.answered(on.fake.press(first.id, buttons(first)["Previous"]["custom_id"], user_id=MEMBER))
    assert text(first).count("Widget fix number") == 10
    return first


async def test_a_page_turn_that_fails_tells_the_presser_and_keeps_the_page(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The store refuses the read behind Next: the presser is told, ephemerally,
    what to do; the message still shows page 1 with its buttons; it is logged."""
    await _widgets(store, 13)
    async with bot_running(store) as on:
        first = await on.ask("series", sub("search", opt("query", "widget")))
        before = (text(first), first.components)

        async def refuse(*args: object, **kw: object) -> None:
            raise OperationalError("SELECT ...", {}, Exception("database is locked"))

        monkeypatch.setattr(queries, "search_series", refuse)
        failed = await on.fake.answered(on.fake.press(first.id, buttons(first)["Next"]["custom_id"], user_id=MEMBER))
        told = answer(on.fake, failed)
        kept = (text(first), first.components)
        monkeypatch.undo()
        # Once the store answers again, the same button works.
        await on.fake.answered(on.fake.press(first.id, buttons(first)["Next"]["custom_id"], user_id=MEMBER))
        after = text(first)
    assert told.id != first.id and told.flags & EPHEMERAL
    assert "Something went wrong on the bot's side" in text(told) and "Try again in a minute" in text(told)
    assert kept == before  # still page 1, buttons and all
    assert "page 2 (last)" in after and "Widget fix number 0" in after
    assert any("turning to page 2 of /series search failed" in r.getMessage() for r in caplog.records)


async def test_one_page_has_no_buttons_and_nothing_found_says_what_to_try(store: Store) -> None:
    await _widgets(store, 3)
    async with bot_running(store) as on:
        few = await on.ask("series", sub("search", opt("query", "widget"), opt("state", "open")))
        none = await on.ask("series", sub("search", opt("query", "gadget")))
    assert few.components == [] and text(few).count("Widget") == 3
    assert "No series match “gadget”" in text(none) and "Try fewer or shorter words" in text(none)


async def test_show_and_versions_by_number_message_id_or_lore_link(store: Store, seeds: list[bytes], data_dir: Path) -> None:
    await _load(store, seeds, data_dir)
    async with bot_running(store) as on:
        typed = await on.fake.answered(on.fake.autocomplete("series", sub("show", opt("series", "notif", focused=True))))
        choices = typed.choices or []
        assert [c["name"][:3] for c in choices] == ["#9 ", "#8 "] and all(len(c["name"]) <= 100 for c in choices)
        assert choices[0]["name"] == "#9 v4 KVM: x86/mmu: Skip mmu_notifier changes when possible"
        v4 = choices[0]["value"]
        await store.save_post(int(v4), HERE, card_message_id=4242)
        await store.save_post(int(v4), 999, card_message_id=4343)  # a channel of no guild the bot is in here
        card = await on.ask("series", sub("show", opt("series", v4)))
        by_lore = await on.ask("series", sub("show", opt("series", "https://lore.kernel.org/kvm/20250315030630.2371712-3-seanjc@google.com/")))
        by_mid = await on.ask("series", sub("show", opt("series", "<20250315030630.2371712-1-seanjc@google.com>")))
        versions = await on.ask("series", sub("versions", opt("series", "#8")))
        missing = await on.ask("series", sub("show", opt("series", "#12345")))
        junk = await on.ask("series", sub("show", opt("series", "what happened to PIR?")))
    shown = card.embeds[0]
    assert shown["title"] == "[PATCH v4 0/2] KVM: x86/mmu: Skip mmu\\_notifier changes when possible"
    posted = {f["name"]: f["value"] for f in shown["fields"]}["Posted here"]
    assert posted == f"[card 1](https://discord.com/channels/{GUILD}/{HERE}/4242)" and "4343" not in text(card)
    assert "previous: [v3]" in text(card)
    assert by_lore.embeds[0]["title"] == by_mid.embeds[0]["title"] == escape(f"[PATCH 0/8] {PIR}")
    lines = text(versions)
    assert lines.index("**v3**") < lines.index("**v4**") and "2 versions of" in lines
    assert "· superseded" in lines and f"[card](https://discord.com/channels/{GUILD}/{HERE}/4242)" in lines
    assert "◀" in lines.split("**v4**")[0]  # the one asked about is marked
    assert missing.flags & EPHEMERAL and "There is no series #12345" in text(missing)
    assert junk.flags & EPHEMERAL and "takes a series number" in text(junk)


async def test_stable_pending_and_fixes(store: Store, seeds: list[bytes]) -> None:
    for raw in seeds:
        await store.ingest(raw)
    async with bot_running(store) as on:
        pending = await on.ask("stable", sub("pending"))
        short = await on.ask("stable", sub("pending", opt("days", 1, 4)))
        fixing = await on.ask("fixes", [opt("commit", "1B03D82BA15E")])
        bad = await on.ask("fixes", [opt("commit", "not-hex")])
    assert "1 patch for stable, not yet applied (last 30 days)" in text(pending)
    assert "KVM: Allow building irqbypass.ko as as module when kvm.ko is a module" in text(pending)
    assert "Nothing pending for stable in the last 1 days" in text(short)
    assert "1 patch fixing 1b03d82ba15e" in text(fixing)
    assert "x86/irq: Ensure initial PIR loads are performed exactly once" in text(fixing)
    assert '[`1b03d82ba15e`](https://git.kernel.org/torvalds/c/1b03d82ba15e) ("x86/irq: Install posted MSI' in text(fixing)
    assert bad.flags & EPHEMERAL and "7 to 40 hexadecimal digits" in text(bad)


async def test_digest_is_a_text_attachment_and_rate_limited_per_user(store: Store, seeds: list[bytes]) -> None:
    for raw in seeds:
        await store.ingest(raw)
    async with bot_running(store, commands={"expensive_per_user": 1}) as on:
        record = await on.fake.answered(on.run("digest", [opt("since", "2025-03-14"), opt("until", "2025-03-16")]))
        again = await on.ask("digest", [opt("since", "2025-03-14")])
        someone_else = await on.fake.answered(on.run("digest", [opt("since", "30d")], user_id=OTHER_MEMBER))
        wide = await on.ask("digest", [opt("since", "2025-01-01")], user_id=OTHER_MEMBER + 1)
        bad = await on.ask("digest", [opt("since", "last tuesday")], user_id=OTHER_MEMBER + 2)
    assert record.response_type == 5  # always deferred: it re-reads the window's mail
    msg = answer(on.fake, record)
    (attached,) = msg.attachments
    assert attached.filename == "kvm-digest-20250314-20250316.txt"
    since, until = datetime(2025, 3, 14, tzinfo=timezone.utc), datetime(2025, 3, 16, tzinfo=timezone.utc)
    expected = await digest_from_store(store, Window.for_dates(since, until), since=since, until=until)
    assert attached.data.decode() == expected and "KVM mailing list update" in expected
    assert again.flags & EPHEMERAL and "try again in" in text(again)
    assert answer(on.fake, someone_else).attachments  # the limit is per user
    assert "at most 31 days" in text(wide) and "a span back from now (`12h`, `7d`, `2w`)" in text(bad)


async def test_stats_figures_and_weekly_chart(store: Store, seeds: list[bytes]) -> None:
    for raw in seeds:
        await store.ingest(raw)
    async with bot_running(store) as on:
        msg = await on.ask("stats", [opt("since", "2025-03-01")])
        too_far = await on.ask("stats", [opt("since", "2023-01-01")])
    fields = {f["name"]: f["value"] for f in msg.embeds[0]["fields"]}
    assert (fields["Mail"], fields["Series"], fields["Patches reviewed"]) == ("18", "7", "0 of 16 (0%)")
    assert fields["Top contributors"] == "18 Sean Christopherson \\<seanjc@google.com\\>"
    assert fields["Top domains"] == "18 google.com"
    assert "/stats covers at most 366 days at a time: give a later `since`." in text(too_far)
    (chart,) = msg.attachments
    assert chart.filename == "activity.png" and chart.data.startswith(b"\x89PNG")


async def test_mail_text_is_escaped_in_answers_as_in_cards(store: Store) -> None:
    evil = "KVM: x86: @everyone look **here** <@123456789012345678> ||spoiler||"
    await store.ingest(raw_mail("evil@x", f"[PATCH] {evil}", body=patch_body("e")))
    async with bot_running(store) as on:
        found = await on.ask("series", sub("search", opt("query", "everyone")))
        card = await on.ask("series", sub("show", opt("series", "evil@x")))
    # Titles are link labels in a search page: their brackets are escaped too.
    assert escape(evil, label=True) in text(found) and "@everyone" not in text(found).replace("\\@everyone", "")
    assert card.embeds[0]["title"] == escape(f"[PATCH] {evil}")
    for msg in on.fake.messages:
        assert msg.allowed_mentions in (None, {"parse": []}), msg.allowed_mentions
        # The fake resolves mentions as Discord does: nobody was notified.
        assert not (msg.mention_everyone or msg.mention_users or msg.mention_roles), msg.id


async def _search_limited(on: Running) -> None:
    first = await on.ask("series", sub("search", opt("query", "widget")))
    second = await on.ask("series", sub("search", opt("query", "widget")))
    assert not first.flags & EPHEMERAL
    assert second.flags & EPHEMERAL and "/series search is limited to 1 uses per 60 s" in text(second)


async def test_search_is_rate_limited_per_user(store: Store) -> None:
    await _widgets(store, 2)
    async with bot_running(store, commands={"expensive_per_user": 1}) as on:
        await _search_limited(on)
        other = await on.ask("series", sub("search", opt("query", "widget")), user_id=OTHER_MEMBER)
    assert not other.flags & EPHEMERAL
