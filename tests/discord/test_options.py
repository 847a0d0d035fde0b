"""Option checks: each value a command takes, and each refusal saying what to write."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.discord import options
from bot.discord.options import SeriesRef, UsageError

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("typed", "ref"), [
    ("123", SeriesRef(series_id=123)),
    ("#7", SeriesRef(series_id=7)),
    ("<20250315030630.2371712-1-seanjc@google.com>", SeriesRef(message_id="20250315030630.2371712-1-seanjc@google.com")),
    ("20250315030630.2371712-1-seanjc@google.com", SeriesRef(message_id="20250315030630.2371712-1-seanjc@google.com")),
    ("https://lore.kernel.org/kvm/20250315030630.2371712-1-seanjc@google.com/", SeriesRef(message_id="20250315030630.2371712-1-seanjc@google.com")),
    ("https://lore.kernel.org/r/a%2Bb@x.org", SeriesRef(message_id="a+b@x.org")),
    ("https://lore.kernel.org/all/x@y.z/T/#u", SeriesRef(message_id="x@y.z")),
])
def test_series_refs(typed: str, ref: SeriesRef) -> None:
    assert options.series_ref(typed) == ref


@pytest.mark.parametrize("typed", ["pir series", "https://example.org/x@y", "https://lore.kernel.org/kvm/", "12345678901", "a\tb@c"])
def test_bad_series_refs_say_what_to_write(typed: str) -> None:
    with pytest.raises(UsageError, match="series"):
        options.series_ref(typed)


def test_commit_ids() -> None:
    assert options.commit(" 1B03D82 ") == "1b03d82"
    for bad in ("1b03d8", "g" * 12, "1" * 41, "1b03d82 ba15e"):
        with pytest.raises(UsageError, match="7 to 40 hexadecimal digits"):
            options.commit(bad)


def test_moments_and_windows() -> None:
    assert options.moment("2025-03-10", "since", NOW) == datetime(2025, 3, 10, tzinfo=timezone.utc)
    assert options.moment("2025-03-10T08:00+02:00", "since", NOW) == datetime(2025, 3, 10, 6, tzinfo=timezone.utc)
    assert options.moment("2025-03-10t08:00", "since", NOW) == datetime(2025, 3, 10, 8, tzinfo=timezone.utc)
    assert options.moment("2w", "since", NOW) == NOW - timedelta(weeks=2)
    assert options.moment("12h", "since", NOW) == NOW - timedelta(hours=12)
    with pytest.raises(UsageError, match="span back from now"):
        options.moment("yesterday", "since", NOW)
    assert options.window(None, None, NOW, default_days=7, max_days=31, command="/digest") == (NOW - timedelta(days=7), NOW)
    with pytest.raises(UsageError, match="before `until`"):
        options.window("1d", "2d", NOW, default_days=7, max_days=31, command="/digest")
    with pytest.raises(UsageError, match="at most 31 days"):
        options.window("40d", None, NOW, default_days=7, max_days=31, command="/digest")


def test_patterns_and_words() -> None:
    assert options.subsystems(" KVM: x86 , KVM: *VMX*,, ") == ["KVM: x86", "KVM: *VMX*"]
    assert options.paths("arch/x86/kvm/*,virt/kvm/") == ["arch/x86/kvm/*", "virt/kvm/"]
    assert options.words("PIR, harvesting!", "query") == ("pir", "harvesting")
    assert options.author("@Redhat.com") == "@Redhat.com"
    for call, match in (
        (lambda: options.paths("arch/../etc"), "relative"),
        (lambda: options.paths("arch/[x86"), "does not close"),
        (lambda: options.subsystems("x" * 101), "over 100"),
        (lambda: options.words(" ".join("w" * 9), "query"), "9 words"),
        (lambda: options.author("a"), "two characters"),
        (lambda: options.words("a\nb", "query"), "control characters"),
    ):
        with pytest.raises(UsageError, match=match):
            call()
