"""Discord's 3 seconds: every command answers at once, or defers in time and answers after."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text as sql

from bot.store import Store
from tests.discord.commands import EPHEMERAL, MEMBER, answer, bot_running, opt, sub, text

COMMANDS = [
    ("series", sub("search", opt("query", "pir")), "Series matching “pir”", False),
    ("series", sub("show", opt("series", "<20250315030630.2371712-1-seanjc@google.com>")), "PIR harvesting", False),
    ("series", sub("versions", opt("series", "<20250315030630.2371712-1-seanjc@google.com>")), "1 version of", False),
    ("stable", sub("pending"), "1 patch for stable", False),
    ("fixes", [opt("commit", "1b03d82")], "1 patch fixing 1b03d82", False),
    ("subscriptions", None, "No subscriptions in this server", True),
    ("kvm", sub("status"), "kvm-patchbot deliveries", True),
]


async def test_every_command_answers_at_once_when_it_can(store: Store, seeds: list[bytes]) -> None:
    for raw in seeds:
        await store.ingest(raw)
    async with bot_running(store) as on:
        for name, options, expected, ephemeral in COMMANDS:
            record = await on.fake.answered(on.run(name, options))
            msg = answer(on.fake, record)
            # No "thinking..." for a quick answer; /kvm status always thinks first
            # (its counts read the whole deliveries table).
            assert record.response_type == (5 if name == "kvm" else 4), name
            assert expected in text(msg) and bool(msg.flags & EPHEMERAL) == ephemeral, (name, text(msg))


async def test_every_command_defers_when_the_answer_is_not_ready(store: Store, seeds: list[bytes]) -> None:
    """With no time allowed before deferring, each command defers, ephemeral as its answer will be,
    then the deferral becomes the answer."""
    for raw in seeds:
        await store.ingest(raw)
    async with bot_running(store, commands={"defer_after_seconds": 0}) as on:
        for name, options, expected, ephemeral in COMMANDS:
            record = await on.fake.answered(on.run(name, options))
            assert record.response_type == 5, name
            assert bool(record.callbacks[0]["data"].get("flags", 0) & EPHEMERAL) == ephemeral, name
            msg = answer(on.fake, record)
            assert expected in text(msg) and bool(msg.flags & EPHEMERAL) == ephemeral, name
            assert not msg.flags & (1 << 7)  # no longer "thinking"


async def test_an_error_after_a_public_deferral_stays_private(store: Store) -> None:
    async with bot_running(store, commands={"defer_after_seconds": 0}) as on:
        record = await on.fake.answered(on.run("series", sub("show", opt("series", "#999"))))
    (loading,) = [m for m in on.fake.messages if m.id == record.original_message_id]
    assert loading.deleted  # the public "thinking..." went away
    (followup,) = [on.fake.state.messages_by_id[i] for i in record.followup_ids]
    assert followup.flags & EPHEMERAL and "There is no series #999" in text(followup)


async def test_an_interaction_that_expired_is_logged_and_the_bot_goes_on(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async with bot_running(store) as on:
        on.fake.api.interaction_ack_timeout = 0.0  # as if the event loop or Discord held it up for 3 s
        late = on.run("subscriptions")
        await on.fake.wait_for(lambda f: any(r.status == 404 and "callback" in r.route for r in f.requests))
        on.fake.api.interaction_ack_timeout = 3.0
        after = await on.ask("subscriptions")
    assert not late.acknowledged and "No subscriptions" in text(after)
    assert any("expired before it was answered" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


@pytest.mark.pg
async def test_a_query_held_up_by_the_database_defers_in_time(pg_store: Store, seeds: list[bytes]) -> None:
    """A real slow query: another transaction holds the series table, so the search waits.
    The bot must defer within Discord's 3 seconds and answer once the table is free."""
    for raw in seeds:
        await pg_store.ingest(raw)
    async with bot_running(pg_store, commands={"defer_after_seconds": 0.2}) as on:
        async with pg_store.engine.connect() as locker:
            await locker.execute(sql("BEGIN"))
            await locker.execute(sql("LOCK TABLE series IN ACCESS EXCLUSIVE MODE"))
            record = on.run("series", sub("search", opt("query", "pir")), user_id=MEMBER)
            await on.fake.wait_for(lambda f: record.acknowledged, timeout=3.0)
            assert record.response_type == 5 and not record.followed_up  # deferred; the search still waits
            await locker.execute(sql("ROLLBACK"))
        await on.fake.answered(record)
    assert "Series matching “pir”" in text(answer(on.fake, record))
