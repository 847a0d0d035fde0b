"""/subscribe, /unsubscribe, /subscriptions end to end: real discord.py, the fake over HTTP and WebSocket."""

from __future__ import annotations

from bot.config import SubscriptionConfig, SubscriptionFilter
from bot.store import Store
from tests.discord.commands import (
    ELSEWHERE, EPHEMERAL, GUILD, HERE, MANAGE_CHANNELS, OTHER_GUILD, ROLE, bot_running, opt, text,
)


async def _ingest(store: Store, seeds: list[bytes]) -> None:
    for raw in seeds:
        await store.ingest(raw)


async def test_commands_are_registered_as_discord_validates_them(store: Store) -> None:
    async with bot_running(store) as on:
        commands = {c["name"]: c for c in on.fake.state.guild_commands[GUILD]}
    assert sorted(commands) == ["digest", "fixes", "kvm", "series", "stable", "stats", "subscribe", "subscriptions",
                                "unsubscribe"]
    subscribe = commands["subscribe"]
    assert [o["name"] for o in subscribe["options"]] == [
        "channel", "subsystem", "path", "author", "title", "kind", "rfc", "threads", "single_threads", "alert_channel",
        "alert_role"]
    assert subscribe["default_member_permissions"] == str(MANAGE_CHANNELS)
    kind = next(o for o in subscribe["options"] if o["name"] == "kind")
    assert [c["value"] for c in kind["choices"]] == ["all", "series", "single", "fixes", "stable", "pull", "backport"]
    assert [o["name"] for o in commands["series"]["options"]] == ["search", "show", "versions"]
    show = next(o for o in commands["series"]["options"] if o["name"] == "show")
    assert show["options"][0]["autocomplete"] is True
    assert [o["name"] for o in commands["stable"]["options"]] == ["pending"]


async def test_subscribe_describes_the_filter_and_counts_recent_matches(store: Store, seeds: list[bytes]) -> None:
    await _ingest(store, seeds)
    async with bot_running(store) as on:
        msg = await on.ask("subscribe", [
            opt("subsystem", "KVM: x86*"), opt("rfc", False, 5), opt("alert_channel", str(ELSEWHERE), 7),
            opt("alert_role", str(ROLE), 8),
        ])
        listed = await on.ask("subscriptions")
    assert msg.flags & EPHEMERAL and listed.flags & EPHEMERAL
    shown = text(msg)
    assert "Subscription #1 added" in shown and f"Cards for <#{HERE}>" in shown
    assert "subsystem: KVM: x86\\*" in shown and "no RFCs" in shown and "a thread per series" in shown
    assert f"Stable alerts in <#{ELSEWHERE}>, mentioning <@&{ROLE}>" in shown
    # Seed series (14-15 March, within 30 days of NOW) under "KVM: x86...": tdp-mmu, hashed page list,
    # cpuid, device posted IRQs; not nVMX, irqbypass ("KVM:") or the PIR series ("x86/irq: KVM").
    assert "It would have matched 4 series in the last 30 days." in shown
    (stored,) = await store.list_subscriptions()
    assert (stored.guild_id, stored.channel_id, stored.origin) == (GUILD, HERE, "slash")
    assert (stored.alert_channel_id, stored.alert_role_id, stored.threads) == (ELSEWHERE, ROLE, True)
    assert stored.filter == SubscriptionFilter(subsystems=["KVM: x86*"], rfc=False)
    assert "**#1** <#5101>: subsystem: KVM: x86\\*; no RFCs; a thread per series" in text(listed)
    assert msg.allowed_mentions == {"parse": []}  # the role is shown, never pinged


async def test_kinds_titles_authors_and_another_channel(store: Store, seeds: list[bytes]) -> None:
    await _ingest(store, seeds)
    async with bot_running(store) as on:
        msg = await on.ask("subscribe", [opt("channel", str(ELSEWHERE), 7), opt("kind", "fixes"),
                                         opt("author", "@google.com"), opt("title", "PIR"), opt("threads", False, 5)])
    assert "It would have matched 1 series" in text(msg)  # the PIR series: 1/8 has a Fixes: tag
    (stored,) = await store.list_subscriptions()
    assert stored.channel_id == ELSEWHERE and not stored.threads
    assert stored.filter == SubscriptionFilter(fixes_only=True, authors=["@google.com"], title_words=["pir"])


async def test_a_member_without_manage_channels_changes_nothing(store: Store) -> None:
    async with bot_running(store) as on:
        refused = await on.ask("subscribe", [opt("subsystem", "KVM: x86")], permissions=0)
        kept = await store.add_subscription(SubscriptionConfig(guild=GUILD, channel=HERE), origin="slash")
        not_removed = await on.ask("unsubscribe", [opt("subscription", kept, 4)], permissions=0)
    for msg in (refused, not_removed):
        assert msg.flags & EPHEMERAL and "Manage Channels permission" in text(msg)
    assert [s.id for s in await store.list_subscriptions()] == [kept]


async def test_manage_channels_here_is_not_enough_for_another_channel(store: Store) -> None:
    """The member may manage this channel, but an overwrite takes Manage Channels
    from them in the target (or alert) channel: refused, nothing stored."""
    async with bot_running(store) as on:
        on.fake.set_permissions(ELSEWHERE, deny=MANAGE_CHANNELS)
        as_target = await on.ask("subscribe", [opt("channel", str(ELSEWHERE), 7)])
        as_alerts = await on.ask("subscribe", [opt("alert_channel", str(ELSEWHERE), 7)])
        on.fake.set_permissions(ELSEWHERE)  # the overwrite lifted: now allowed
        allowed = await on.ask("subscribe", [opt("channel", str(ELSEWHERE), 7)])
    for msg in (as_target, as_alerts):
        assert msg.flags & EPHEMERAL and f"You need Manage Channels in <#{ELSEWHERE}>" in text(msg)
    assert "Subscription #1 added" in text(allowed)
    assert [s.channel_id for s in await store.list_subscriptions()] == [ELSEWHERE]


async def test_bad_input_is_refused_with_what_to_write(store: Store) -> None:
    cases = [
        ([opt("path", "/arch/x86/kvm/*")], "relative to the kernel tree"),
        ([opt("author", "@nodot")], "write it whole, e.g. `@redhat.com`"),
        ([opt("subsystem", "KVM: [x]86")], "globs with `*` and `?` only"),
        ([opt("subsystem", ",".join(f"s{i}" for i in range(11)))], "at most 10"),
        ([opt("title", "!!! ???")], "at least one word"),
        ([opt("subsystem", "KVM: " + "*" * 9)], "wildcards"),
        ([opt("alert_role", str(ROLE), 8)], "give an `alert_channel`"),
    ]
    async with bot_running(store) as on:
        for options, expected in cases:
            msg = await on.ask("subscribe", options)
            assert msg.flags & EPHEMERAL and expected in text(msg), (options, text(msg))
    assert await store.list_subscriptions() == []


async def test_a_guild_sees_and_changes_only_its_own_subscriptions(store: Store) -> None:
    theirs = await store.add_subscription(
        SubscriptionConfig(guild=OTHER_GUILD, channel=9, filter=SubscriptionFilter(subsystems=["KVM: arm64"])), "slash")
    async with bot_running(store) as on:
        mine_msg = await on.ask("subscribe", [opt("subsystem", "KVM: s390")])
        listed = await on.ask("subscriptions")
        typed = await on.fake.answered(on.fake.autocomplete("unsubscribe", [opt("subscription", "", 4, focused=True)],
                                                            user_id=7001))
        refused = await on.ask("unsubscribe", [opt("subscription", theirs, 4)])
        mine = next(s.id for s in await store.list_subscriptions() if s.guild_id == GUILD)
        removed = await on.ask("unsubscribe", [opt("subscription", mine, 4)])
    assert "arm64" not in text(listed) and "s390" in text(listed) and "Subscription #" in text(mine_msg)
    assert [c["value"] for c in typed.choices or []] == [mine]
    assert (typed.choices or [])[0]["name"] == f"#{mine} in #patches: subsystem: KVM: s390; a thread per series"
    assert f"no subscription #{theirs}" in text(refused) and refused.flags & EPHEMERAL
    assert f"Subscription #{mine} removed" in text(removed)
    assert [s.id for s in await store.list_subscriptions()] == [theirs]


async def test_subscribe_warns_when_the_alert_role_would_not_be_notified(store: Store) -> None:
    """A role mention notifies only if the role is mentionable or the bot may
    mention every role there (permissions.mdx, MENTION_EVERYONE): without either,
    alerts would show the role and ping no one, so /subscribe says so."""
    from tests.fakediscord.permissions import MENTION_EVERYONE

    quiet, loud = ROLE, ROLE + 1
    async with bot_running(store) as on:
        on.fake.add_role(quiet)
        on.fake.add_role(loud, mentionable=True)
        allowed = await on.ask("subscribe", [opt("alert_channel", str(ELSEWHERE), 7), opt("alert_role", str(quiet), 8)])
        # CHANNEL_UPDATE reaches the bot before the next interaction: one gateway, in order
        on.fake.set_permissions(ELSEWHERE, deny=MENTION_EVERYONE)
        warned = await on.ask("subscribe", [opt("alert_channel", str(ELSEWHERE), 7), opt("alert_role", str(quiet), 8)])
        mentionable = await on.ask("subscribe", [opt("alert_channel", str(ELSEWHERE), 7), opt("alert_role", str(loud), 8)])
    warning = f"⚠ <@&{quiet}> is not mentionable and the bot may not mention every role in <#{ELSEWHERE}>"
    assert warning in text(warned)
    assert "⚠" not in text(allowed) and "⚠" not in text(mentionable)
