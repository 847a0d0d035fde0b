"""The slash commands' pages: escaped as cards are, whole entries within Discord's limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.config import SubscriptionFilter
from bot.mail.models import Person
from bot.notify import pages
from bot.notify.chart import activity_png
from bot.notify.render import render_card
from bot.notify.text import escape
from bot.store.queries import Activity, PatchEntry, SeriesSearch, SeriesSummary

from .views import series


def summary(series_id: int = 7, title: str = "Title", subject: str = "[PATCH] Title", **kw: object) -> SeriesSummary:
    base: dict = dict(lineage_id=1, version=2, version_label=None, total=3, received=3, applied=0,
                      author=Person(name="Sean Christopherson", email="seanjc@google.com"),
                      first_seen=datetime(2025, 3, 15, tzinfo=timezone.utc), supersedes=None, superseded_by=None,
                      first_message_id=f"m{series_id}@x")
    base.update(kw)
    return SeriesSummary(series_id=series_id, title=title, subject=subject, **base)

EVIL = "KVM: x86: **bold** @everyone <@123> [click](https://evil.example) `tick` ~~s~~ __u__ ||spoil||"


def _desc(post) -> str:  # type: ignore[no-untyped-def]
    return post.embeds[0].description or ""


def test_search_entries_escape_mail_text_as_the_card_does() -> None:
    view = series(title=EVIL, subject=f"[PATCH 0/3] {EVIL}", author=Person(name="@here *Eve*", email="eve@x.org"))
    listed = summary(title=EVIL, subject=f"[PATCH 0/3] {EVIL}", author=Person(name="@here *Eve*", email="eve@x.org"))
    page = pages.search_page(SeriesSearch(words=("bold",)), [listed], 0, False)
    text = _desc(page)
    # The title is a link's label there, so its brackets are escaped too.
    assert escape(EVIL, label=True) in text and escape("@here *Eve*") in text
    assert "@everyone" not in text.replace("\\@everyone", "") and "**bold**" not in text
    # The same function escapes cards: the card's title is its subject through it, as versions show it.
    card_title = render_card(view).embeds[0].title or ""
    assert card_title == escape(view.subject)
    assert escape(view.subject, label=True) in _desc(pages.versions_page(view, [listed], {}))


def test_a_full_page_of_long_titles_fits_and_shows_whole_entries() -> None:
    views = [summary(series_id=i, title="x" * 300 + " [a](b)", subject="y" * 900) for i in range(10)]
    page = pages.search_page(SeriesSearch(words=("x",)), views, 2, True)
    embed = page.embeds[0]
    assert len(embed.description or "") <= 4096 and len(embed.title or "") <= 256
    assert (embed.description or "").count("**#") == 10
    assert embed.footer == "page 3 · /series show series:<#> for one"


def test_user_input_is_shown_inert() -> None:
    search = SeriesSearch(words=("a",), author="<@&123456789012345678> **me**", subsystems=("KVM: *",))
    title = pages.search_page(search, [], 0, False).embeds[0].title or ""
    assert "<@&123456789012345678>" not in title and "\\*\\*me\\*\\*" in title
    lines = pages.describe_filter(SubscriptionFilter(subsystems=["KVM: x86*"], authors=["@everyone"], rfc=False))
    assert lines == ["subsystem: KVM: x86\\*", "author: \\@everyone", "no RFCs", "a thread per series"]


def test_stable_and_fixes_pages() -> None:
    when = datetime(2025, 3, 15, tzinfo=timezone.utc)
    entries = [
        PatchEntry(series_id=i, slot=1, index=1, total=2, message_id=f"m{i}@x", subject=f"[PATCH 1/2] fix {i}",
                   author=Person(name="Ann", email="a@x"), date=when + timedelta(hours=i), series_title="t",
                   version="v2", state="open", detail=("6.1+",))
        for i in range(12)
    ]
    first, second = pages.stable_page(entries, 30, 0), pages.stable_page(entries, 30, 1)
    assert _desc(first).count("fix ") == 10 and _desc(second).count("fix ") == 2
    assert first.embeds[0].title == "12 patches for stable, not yet applied (last 30 days)"
    assert "https://lore.kernel.org/r/m0@x" in _desc(first) and "6.1+" in _desc(first)
    assert second.embeds[0].footer == "page 2 (last) · oldest first"
    fixing = [PatchEntry(**{**entries[0].__dict__, "detail": ("1b03d82ba15e", "x86/irq: Install it"),
                            "state": "applied", "applied_commit": "0123456789abcdef"})]
    text = _desc(pages.fixes_page("1b03d82", fixing, 0))
    assert "applied as `0123456789ab`" in text
    assert 'Fixes: [`1b03d82ba15e`](https://git.kernel.org/torvalds/c/1b03d82ba15e) ("x86/irq: Install it")' in text
    assert "No patch says it fixes 1b03d82" == pages.fixes_page("1b03d82", [], 0).embeds[0].title


def test_stats_median_share_and_every_week() -> None:
    since = datetime(2025, 3, 3, tzinfo=timezone.utc)  # a Monday
    act = Activity(since=since, until=since + timedelta(days=21))
    act.mail_dates = [since + timedelta(days=1), since + timedelta(days=2), since + timedelta(days=15)]
    act.series_dates = [since + timedelta(days=1)]
    act.authors = {"a@x.org": ("Ann", 2), "b@y.com": ("Bob", 1)}
    act.patches, act.reviewed, act.hours_to_first_review = 4, 3, [1.0, 30.0, 100.0]
    assert pages.weekly(act) == [(since, 2, 1), (since + timedelta(days=7), 0, 0), (since + timedelta(days=14), 1, 0)]
    fields = {f.name: f.value for f in pages.stats_page(act, chart="activity.png").embeds[0].fields}
    assert fields["Patches reviewed"] == "3 of 4 (75%)" and fields["Median time to first review"] == "30.0 h"
    assert fields["Top contributors"] == "2 Ann \\<a@x.org\\>\n1 Bob \\<b@y.com\\>"
    assert fields["Top domains"] == "2 x.org\n1 y.com"
    png = activity_png(pages.weekly(act), "test")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000
