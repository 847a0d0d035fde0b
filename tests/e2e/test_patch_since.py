"""A patch's thread message says how it changed since the previous version: kept true as v2 arrives (issue 12)."""

from __future__ import annotations

from pathlib import Path

from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord
from tests.helpers import diff, smtp_mail

from .harness import ALERTS, CARDS, GUILD, field, service


def _posting(tag: str, version: int, titles: list[str], minutes: int) -> list[bytes]:
    v = f" v{version}" if version > 1 else ""
    n = len(titles)
    cover = f"{tag}-0@example.com"
    out = [smtp_mail(cover, f"[PATCH{v} 0/{n}] KVM: x86: Teach the widget", "The widget.\n", minutes=minutes)]
    for i, title in enumerate(titles, 1):
        out.append(smtp_mail(f"{tag}-{i}@example.com", f"[PATCH{v} {i}/{n}] KVM: x86: {title}",
                             f"{title}.\n\n" + diff(f"arch/x86/kvm/{title.split()[0]}.c"),
                             parent=cover, minutes=minutes))
    return out


async def test_a_later_patch_taking_over_the_v1_patch_another_one_continued_edits_that_ones_message(
    tmp_path: Path,
) -> None:
    """v2 drops "beta" as patch 2 and moves it to patch 3. Until v2's 3/3 comes,
    v2's 2/3 ("delta") is taken for v1's 2/3 (the same index); then 3/3 is
    (the same title), and 2/3 is new in v2: its message must say so."""
    v1 = _posting("s1", 1, ["alpha one", "beta two", "gamma three"], 0)
    v2 = _posting("s2", 2, ["alpha one", "delta two", "beta two"], 90)
    fake = FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS)
    async with fake, service(fake, tmp_path) as svc:
        await svc.send(*v1)
        await svc.settle()
        await svc.send(*v2[:3])
        await svc.settle()
        card2 = fake.messages_in(CARDS)[1]
        delta = next(m for m in fake.messages_in(card2.thread_id) if "delta" in m.embeds[0]["title"])
        assert field(delta, "Since").startswith("changed since v1")  # as v1's 2/3, for now
        await svc.send(v2[3])
        await svc.settle()
        delta = next(m for m in fake.messages_in(card2.thread_id) if "delta" in m.embeds[0]["title"])
        assert field(delta, "Since") == "new in v2"
