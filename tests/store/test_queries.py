"""The slash commands' queries on both databases: title search through FTS5 and
tsvector, the stable queue, fixes of a commit, a guild's subscriptions, activity."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.config import SubscriptionConfig, SubscriptionFilter
from bot.ingest.sources import iter_path
from bot.store import Store
from bot.store import queries as q
from tests.discord.conftest import seed_mails
from tests.helpers import patch_body, raw_mail, series_mails

LONG_AGO = datetime(2000, 1, 1, tzinfo=timezone.utc)
PIR = "x86/irq: KVM: Optimize KVM's PIR harvesting"


async def load(store: Store, data_dir: Path, *, order: str = "arrival") -> None:
    mails = seed_mails(data_dir / "seed")
    for path in sorted((data_dir / "versions").glob("*.mbox")):
        mails += [m.data for m in iter_path(path)]
    if order == "shuffled":
        random.Random(13).shuffle(mails)
    for raw in mails:
        await store.ingest(raw)


def titles(views: list) -> list[str]:
    return [v.title for v in views]


async def test_search_matches_word_prefixes_newest_first(store: Store, data_dir: Path) -> None:
    await load(store, data_dir)
    assert titles(await q.search_series(store, q.SeriesSearch(words=("harv", "pir")))) == [PIR]
    assert titles(await q.search_series(store, q.SeriesSearch(words=("PIR",)))) == [PIR]
    assert await q.search_series(store, q.SeriesSearch(words=("pir", "mmu"))) == []  # every word
    notifier = await q.search_series(store, q.SeriesSearch(words=("notifier",)))
    assert [v.version for v in notifier] == [4, 3]  # newest first
    # "x86/mmu" is two words to the index: "mmu" alone finds it, and so does "x86".
    mmu = titles(await q.search_series(store, q.SeriesSearch(words=("mmu",))))
    assert mmu == ["KVM: x86/mmu: Skip mmu_notifier changes when possible"] * 2 + [
        "KVM: x86/mmu: Wrap sanity check on number of TDP MMU pages with KVM_PROVE_MMU"
    ]
    every = await q.search_series(store, q.SeriesSearch(words=("kvm",)), limit=100)
    assert [v.series_id for v in every] == sorted((v.series_id for v in every), reverse=True) and len(every) == 9
    pages = [await q.search_series(store, q.SeriesSearch(words=("kvm",)), limit=4, offset=o) for o in (0, 4, 8)]
    assert [v.series_id for page in pages for v in page] == [v.series_id for v in every]
    assert await q.search_series(store, q.SeriesSearch(words=("\"", "*", "OR"))) == []  # no syntax leaks through


async def test_search_filters_state_author_and_subsystem(store: Store, data_dir: Path) -> None:
    await load(store, data_dir)

    async def found(**kw: object) -> list[str]:
        return titles(await q.search_series(store, q.SeriesSearch(words=("kvm",), **kw), limit=50))  # type: ignore[arg-type]

    # Paolo's bare "Queued, thanks." on the v3 cover applies the whole of v3
    # (a notice naming no patches applies what it answers), so v3 counts as
    # applied, not merely superseded.
    assert await found(state="superseded") == []
    assert await found(state="applied") == ["KVM: x86/mmu: Skip mmu_notifier changes when possible"]
    assert len(await found(state="open")) == 8
    assert await found(author="stevensd@") == ["KVM: x86/mmu: Skip mmu_notifier changes when possible"] * 2
    assert await found(author="@chromium.org") == await found(author="David Stevens")
    assert await found(author="@chromium.or") == []  # a domain is matched whole
    # A prefix ends at a boundary; a glob matches the whole subsystem.
    x86 = await found(subsystems=("KVM: x86",))
    assert "KVM: x86/mmu: Wrap sanity check on number of TDP MMU pages with KVM_PROVE_MMU" in x86
    assert "KVM: nVMX: Check MSR load/store list counts during VM-Enter consistency checks" not in x86
    assert await found(subsystems=("kvm: x8",)) == []
    assert await found(subsystems=("KVM: x86*",)) == x86
    assert await found(subsystems=("KVM: ?VMX",)) == ["KVM: nVMX: Check MSR load/store list counts during VM-Enter consistency checks"]
    assert await found(subsystems=("100%_",)) == []  # LIKE's own wildcards are literal here


async def test_search_follows_a_title_that_changes_and_a_reparse(store: Store) -> None:
    # Patches before their cover: the series is first known by a patch's title.
    mails = series_mails("PATCH", 2, "Teach the frobnicator", tag="fro")
    for raw in mails[1:]:
        await store.ingest(raw)
    assert titles(await q.search_series(store, q.SeriesSearch(words=("part",)))) == ["KVM: x86: Teach the frobnicator part 1"]
    await store.ingest(mails[0])
    assert titles(await q.search_series(store, q.SeriesSearch(words=("frobnicator",)))) == ["KVM: x86: Teach the frobnicator"]
    assert await q.search_series(store, q.SeriesSearch(words=("part",))) == []
    await store.reparse()
    assert titles(await q.search_series(store, q.SeriesSearch(words=("frob",)))) == ["KVM: x86: Teach the frobnicator"]


async def test_titles_for_autocomplete(store: Store, data_dir: Path) -> None:
    await load(store, data_dir, order="shuffled")
    pir = (await q.search_series(store, q.SeriesSearch(words=("pir",))))[0]
    hits = await q.series_titles(store, "harv")
    assert [(h.series_id, h.title, h.version, h.total) for h in hits] == [(pir.series_id, PIR, "v1", 8)]
    by_id = await q.series_titles(store, f"#{pir.series_id}")
    assert by_id[0].series_id == pir.series_id
    newest = await q.series_titles(store, "", limit=3)
    assert [h.series_id for h in newest] == sorted((h.series_id for h in await q.series_titles(store, "")), reverse=True)[:3]


async def test_stable_queue_leaves_out_applied_superseded_and_old(store: Store, data_dir: Path) -> None:
    await load(store, data_dir)
    (entry,) = await q.stable_pending(store, LONG_AGO)
    assert entry.subject == "[PATCH] KVM: Allow building irqbypass.ko as as module when kvm.ko is a module"
    assert (entry.state, entry.version, entry.index, entry.total) == ("open", "v1", None, 1)
    assert await q.stable_pending(store, datetime(2025, 3, 16, tzinfo=timezone.utc)) == []
    stable = "Cc: stable@vger.kernel.org\nSigned-off-by: Ann Dev <ann@example.com>\n"
    await store.ingest(raw_mail("old-1@x", "[PATCH] KVM: x86: Fix the gizmo", at=-60, body=patch_body("fix", stable)))
    await store.ingest(raw_mail("new-1@x", "[PATCH v2] KVM: x86: Fix the gizmo", at=60, body=patch_body("fix", stable)))
    await store.ingest(raw_mail("noauto@x", "[PATCH] KVM: x86: Opt out", at=30, body=patch_body(
        "x", "Cc: stable+noautosel@kernel.org\nSigned-off-by: Ann Dev <ann@example.com>\n")))
    pending = await q.stable_pending(store, LONG_AGO)
    # Oldest first: v2 (14 March, 13:00) before the seed's patch (15 March); v1 is superseded.
    assert [e.message_id for e in pending] == ["new-1@x", "20250315024623.2363994-1-seanjc@google.com"]
    await store.ingest(raw_mail("thanks@x", "Re: [PATCH v2] KVM: x86: Fix the gizmo", irt="new-1@x", at=90,
                                author="Paolo Bonzini <pbonzini@redhat.com>",
                                body="Applied to kvm/queue, thanks!\n\n[1/1] KVM: x86: Fix the gizmo\n"
                                     "      commit: 0123456789abcdef0123456789abcdef01234567\n"))
    assert [e.message_id for e in await q.stable_pending(store, LONG_AGO)] == [entry.message_id]


async def test_fixes_of_a_commit_by_any_prefix_length(store: Store, data_dir: Path) -> None:
    await load(store, data_dir)
    for asked in ("1b03d82", "1B03D82BA15E", "1b03d82ba15e" + "0" * 28):
        (fix,) = await q.fixes_of(store, asked)
        assert fix.subject == "[PATCH 1/8] x86/irq: Ensure initial PIR loads are performed exactly once"
        assert (fix.detail, fix.state, fix.index, fix.total) == (
            ("1b03d82ba15e", "x86/irq: Install posted MSI notification handler"), "open", 1, 8)
    assert await q.fixes_of(store, "1b03d83") == []
    assert await q.fixes_of(store, "1b03d82ba15f") == []
    assert [f.series_title for f in await q.fixes_of(store, "61df71ee992d")] == [
        "KVM: Allow building irqbypass.ko as as module when kvm.ko is a module"]


async def test_a_guild_sees_and_removes_only_its_own_subscriptions(store: Store) -> None:
    mine = await store.add_subscription(SubscriptionConfig(guild=1, channel=10), origin="slash")
    theirs = await store.add_subscription(
        SubscriptionConfig(guild=2, channel=20, filter=SubscriptionFilter(subsystems=["KVM: arm64"])), origin="slash")
    assert [s.id for s in await q.guild_subscriptions(store, 1)] == [mine]
    assert not await q.remove_guild_subscription(store, 1, theirs)
    assert [s.id for s in await store.list_subscriptions()] == [mine, theirs]
    assert await q.remove_guild_subscription(store, 1, mine)
    assert [s.id for s in await store.list_subscriptions()] == [theirs]


async def test_activity_counts_mail_authors_and_reviews(store: Store) -> None:
    mails = series_mails("PATCH", 2, "Review me", tag="rv", author="Ann Dev <ann@example.com>")
    review = raw_mail("r1@x", "Re: [PATCH 1/2] KVM: x86: Review me part 1", irt="rv-1@x", at=121,
                      author="Rob Reviewer <rob@example.org>",
                      body="Looks good.\n\nReviewed-by: Rob Reviewer <rob@example.org>\n")
    for raw in [*mails, review]:
        await store.ingest(raw)
    start = datetime(2025, 3, 14, tzinfo=timezone.utc)
    act = await q.activity(store, start, start + timedelta(days=7))
    assert len(act.mail_dates) == 4 and len(act.series_dates) == 1
    assert act.authors == {"ann@example.com": ("Ann Dev", 3), "rob@example.org": ("Rob Reviewer", 1)}
    assert (act.patches, act.reviewed) == (2, 1)
    assert act.hours_to_first_review == [pytest.approx(2.0)]  # patch 1 at +1 min, review at +121 min
    assert (await q.activity(store, start + timedelta(days=7), start + timedelta(days=14))).mail_dates == []


SUBSYSTEMS = ["KVM: x86", "KVM: x86/mmu", "KVM: x86abc", "kvm: X86: foo", "KVM: nVMX", "KVM: arm64", "KVM", "",
              "x86/irq: KVM", "KVM: s390: 100%_done", "KVM: SVM,x86"]
PATTERNS = ["KVM: x86", "kvm: x8", "KVM: x86*", "KVM*", "*x86*", "KVM: ?VMX", "KVM", "kvm:", "x86/", "*%_*", "KVM: SVM",
            "KVM: s390: 100%_done", "KVM: s390: 100?_done", "?", "*"]


async def test_subsystem_patterns_mean_the_same_in_sql_and_in_subscription_filters(store: Store) -> None:
    """`/series search subsystem:` (SQL) and `/subscribe subsystem:` (routing) agree on every case."""
    from sqlalchemy import select

    from bot.notify.filters import subsystem_matches
    from bot.store import schema as t

    mails = [raw_mail(f"s{i}@x", f"[PATCH] {sub + ': ' if sub else ''}Change number {i}", at=i, body=patch_body("x"))
             for i, sub in enumerate(SUBSYSTEMS)]
    for raw in mails:
        await store.ingest(raw)
    async with store.engine.connect() as conn:
        stored = dict((await conn.execute(select(t.series.c.id, t.series.c.subsystem))).all())
        for pattern in PATTERNS:
            found = set(await conn.scalars(select(t.series.c.id).where(q.subsystem_clause((pattern,)))))
            expected = {sid for sid, sub in stored.items() if subsystem_matches(pattern, sub or "")}
            assert found == expected, pattern
    assert len(set(stored.values())) >= 8  # the parser kept the subsystems apart


async def test_lineage_and_search_summaries_read_no_patch_rows_but_agree_with_views(store: Store, data_dir: Path) -> None:
    await load(store, data_dir, order="shuffled")
    (v4, v3) = await q.search_series(store, q.SeriesSearch(words=("notifier",)))
    versions = await q.lineage_of(store, v4.lineage_id)
    assert [(v.version_name, v.state, v.received, v.total) for v in versions] == [
        ("v3", "superseded", 2, 2), ("v4", "open", 2, 2)]
    for summary in [*versions, *await q.search_series(store, q.SeriesSearch(words=("kvm",)), limit=20)]:
        view = await store.get_series(summary.series_id)
        assert view is not None
        assert (summary.title, summary.subject, summary.total, summary.received, summary.author) == (
            view.title, view.subject, view.total, view.received, view.author)
        assert view.lore_url.endswith(summary.first_message_id)
    assert [v.series_id for v in versions] == [v.series_id for v in await store.lineage(v4.lineage_id)]
