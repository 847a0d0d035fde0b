"""Every case of series-cases.md, fed through decide() + MemoryIndex."""

from __future__ import annotations

from bot.mail.models import Kind
from bot.series import EventKind, Role
from bot.series.titles import similarity

from tests.helpers import parsed_mail as mail

SEAN = "Sean Christopherson <seanjc@google.com>"
PAOLO = "Paolo Bonzini <pbonzini@redhat.com>"


def cover_set(prefix: str, n: int, title: str, *, tag: str = "", at: int = 0, chain=False, author=None):
    """A cover and n patches, shallow (or deep) threaded; ids start with tag."""
    kw = {"author": author} if author else {}
    out = [mail(f"{tag}c", f"[{prefix} 0/{n}] KVM: x86: {title}", at=at, **kw)]
    for i in range(1, n + 1):
        parent = f"{tag}{i - 1}" if chain and i > 1 else f"{tag}c"
        refs = [f"{tag}c"] + [f"{tag}{k}" for k in range(1, i)] if chain else [f"{tag}c"]
        out.append(mail(f"{tag}{i}", f"[{prefix} {i}/{n}] KVM: x86: part {i} of {title}",
                        irt=parent, refs=refs, at=at + i, **kw))
    return out


def test_01_single_patch(tracker):
    (d,) = tracker.feed(mail("a", "[PATCH] KVM: x86: Fix a thing"))
    s = tracker.series_of("a")
    assert d.role is Role.PATCH and s.total == 1 and s.complete and s.cover is None
    assert [e.kind for e in d.events] == [EventKind.SERIES_CREATED, EventKind.PATCH_ADDED, EventKind.SERIES_COMPLETED]


def test_02_shallow_threading(tracker):
    tracker.feed(*cover_set("PATCH", 3, "Do things"))
    assert len(tracker.postings()) == 1
    s = tracker.series_of("c")
    assert s.cover == "c" and set(s.members) == {0, 1, 2, 3} and s.complete
    assert s.title == "KVM: x86: Do things"


def test_03_deep_threading(tracker):
    tracker.feed(*cover_set("PATCH", 4, "Deep", chain=True))
    assert len(tracker.postings()) == 1 and tracker.series_of("4").complete


def test_04_no_cover(tracker):
    tracker.feed(
        mail("p1", "[PATCH 1/3] KVM: x86: first"),
        mail("p2", "[PATCH 2/3] KVM: x86: second", irt="p1", at=1),
        mail("p3", "[PATCH 3/3] KVM: x86: third", irt="p1", at=2),
    )
    s = tracker.series_of("p1")
    assert len(tracker.postings()) == 1 and s.cover is None and s.complete and set(s.members) == {1, 2, 3}


def test_05_out_of_order(tracker):
    c, p1, p2 = cover_set("PATCH", 2, "Late parent")
    tracker.feed(p2, p1, c)
    assert len(tracker.postings()) == 1
    s = tracker.series_of("c")
    assert set(s.members) == {0, 1, 2} and s.title == "KVM: x86: Late parent"


def test_06_no_references(tracker):
    tracker.feed(*[mail(f"n{i}", f"[PATCH {i}/3] KVM: x86: piece {i}", at=i) for i in range(4)])
    assert len(tracker.postings()) == 1 and tracker.series_of("n3").complete


def test_07_cover_prefix_differs(tracker):
    tracker.feed(mail("c", "[PATCH net-next v3 0/2] KVM: x86: Netty"))
    tracker.feed(*[mail(f"p{i}", f"[PATCH {i}/2] KVM: x86: p{i}", irt="c", at=i) for i in (1, 2)])
    s = tracker.series_of("c")
    assert len(tracker.postings()) == 1 and s.version == 3 and s.complete


def test_07b_patches_before_cover_inherit_version(tracker):
    tracker.feed(*[mail(f"p{i}", f"[PATCH {i}/2] KVM: x86: p{i}", irt="c", at=i) for i in (1, 2)])
    tracker.feed(mail("c", "[PATCH v3 0/2] KVM: x86: Netty", at=3))
    s = tracker.series_of("p1")
    assert len(tracker.postings()) == 1 and s.version == 3 and s.cover == "c"


def test_09_v2_new_thread_same_title(tracker):
    tracker.feed(*cover_set("PATCH", 2, "Same title", tag="a"))
    tracker.feed(*cover_set("PATCH v2", 2, "Same title", tag="b", at=7 * 24 * 60))
    v1, v2 = tracker.series_of("ac"), tracker.series_of("bc")
    assert v1.series_id != v2.series_id and v1.lineage_id == v2.lineage_id
    assert v1.superseded_by == v2.series_id and v2.supersedes == v1.series_id
    sup = [e for e in tracker.decisions["bc"].events if e.kind is EventKind.SUPERSEDED]
    assert sup[0].series_id == v1.series_id and sup[0].data["by"] == v2.series_id


def test_10_v2_in_reply_to_v1(tracker):
    tracker.feed(*cover_set("PATCH", 2, "Old name", tag="a"))
    v2 = cover_set("PATCH v2", 2, "Brand new name", tag="b", at=60)
    v2[0] = mail("bc", "[PATCH v2 0/2] KVM: x86: Brand new name", irt="ac", at=60)
    tracker.feed(*v2)
    a, b = tracker.series_of("ac"), tracker.series_of("b1")
    assert a.series_id != b.series_id and b.lineage_id == a.lineage_id
    assert set(a.members) == {0, 1, 2} and set(b.members) == {0, 1, 2} and b.supersedes == a.series_id


def test_11_change_id_and_link(tracker):
    tracker.feed(mail("a", "[PATCH] KVM: x86: Alpha", change_id="20250101-x-1"))
    tracker.feed(mail("b@x", "[PATCH v2] KVM: x86: Completely different", change_id="20250101-x-1", at=60))
    tracker.feed(mail("c", "[PATCH v3] KVM: x86: Yet another wording", at=120,
                      previous=["https://lore.kernel.org/all/b@x/"]))
    ids = {tracker.series_of(m).lineage_id for m in ("a", "b@x", "c")}
    assert len(ids) == 1
    assert tracker.series_of("c").supersedes == tracker.series_of("b@x").series_id


def test_12_resend_unlabelled_an_hour_later(tracker):
    tracker.feed(mail("a", "[PATCH] KVM: x86: Same"), mail("b", "[PATCH] KVM: x86: Same", at=60))
    a, b = tracker.series_of("a"), tracker.series_of("b")
    assert a.series_id != b.series_id and b.supersedes == a.series_id and b.duplicate_of is None


def test_13_resend_labelled(tracker):
    tracker.feed(*cover_set("PATCH v2", 2, "Thing", tag="a"))
    tracker.feed(*cover_set("PATCH RESEND v2", 2, "Thing", tag="b", at=3 * 24 * 60))
    a, b = tracker.series_of("ac"), tracker.series_of("bc")
    assert b.resend and b.lineage_id == a.lineage_id and b.supersedes == a.series_id


def test_14_partial_reroll(tracker):
    tracker.feed(*cover_set("PATCH v2", 5, "Five", tag="a"))
    tracker.feed(mail("r", "[PATCH v3 2/5] KVM: x86: part 2 of Five", irt="a2", refs=["ac", "a2"], at=600))
    v2, v3 = tracker.series_of("ac"), tracker.series_of("r")
    assert v3.series_id != v2.series_id and set(v3.members) == {2} and v3.version == 3
    assert v3.partial and v3.supersedes == v2.series_id and v3.lineage_id == v2.lineage_id
    assert v2.superseded_by is None and set(v2.members) == {0, 1, 2, 3, 4, 5}


def test_15_v5_1(tracker):
    tracker.feed(*cover_set("PATCH v5", 12, "Twelve", tag="a"))
    tracker.feed(mail("r", "[PATCH v5.1 10/12] KVM: x86: part 10 of Twelve", irt="a10", refs=["ac"], at=900))
    r = tracker.series_of("r")
    assert r.partial and r.version_label == "5.1" and set(r.members) == {10}
    assert len(tracker.series_of("ac").members) == 13


def test_16_series_in_reply_to_other_series(tracker):
    tracker.feed(*cover_set("PATCH", 2, "Base work", tag="a"))
    follow = cover_set("PATCH", 2, "Selftests for something", tag="b", at=30)
    follow[0] = mail("bc", "[PATCH 0/2] KVM: selftests: Selftests for something", irt="ac", at=30)
    follow[1:] = [mail(f"b{i}", f"[PATCH {i}/2] KVM: selftests: t{i}", irt="bc", refs=["ac", "bc"], at=30 + i)
                  for i in (1, 2)]
    tracker.feed(*follow)
    a, b = tracker.series_of("ac"), tracker.series_of("bc")
    assert a.series_id != b.series_id and set(a.members) == {0, 1, 2} == set(b.members)
    assert a.lineage_id != b.lineage_id


def test_17_unnumbered_diff_reply(tracker):
    tracker.feed(*cover_set("PATCH", 3, "Thing", tag="a"))
    (d,) = tracker.feed(mail("x", "[PATCH] KVM: x86: alternative approach", irt="a2", refs=["ac", "a2"], at=50))
    assert d.role is Role.REPLY and len(tracker.postings()) == 1 and "x" not in tracker.series_of("ac").members.values()


def test_18_sent_three_times(tracker):
    for n, tag in enumerate("abc"):
        tracker.feed(*cover_set("PATCH", 3, "Hiccup", tag=tag, at=n * 3))
    a, b, c = (tracker.series_of(f"{t}c") for t in "abc")
    assert len({a.series_id, b.series_id, c.series_id}) == 3
    assert all(len(s.members) == 4 for s in (a, b, c))
    assert b.duplicate_of == a.series_id and c.duplicate_of == a.series_id and a.duplicate_of is None


def test_19_extra_patch(tracker):
    tracker.feed(*cover_set("PATCH", 2, "Two"))
    tracker.feed(mail("3", "[PATCH 3/2] KVM: x86: bonus", irt="c", at=9))
    s = tracker.series_of("c")
    assert len(tracker.postings()) == 1 and s.total == 3 and s.complete


def test_20_incomplete(tracker):
    tracker.feed(*cover_set("PATCH", 5, "Five")[:3])
    s = tracker.series_of("c")
    assert not s.complete and s.missing == (3, 4, 5)


def test_22_pull_with_patches(tracker):
    tracker.feed(mail("pc", "[GIT PULL] KVM changes for 6.15", author=PAOLO))
    tracker.feed(*[mail(f"p{i}", f"[PATCH {i:02}/12] KVM: x86: change {i}", irt="pc", author=PAOLO, at=i)
                   for i in range(1, 13)])
    s = tracker.series_of("pc")
    assert len(tracker.postings()) == 1 and s.pull and s.total == 12 and s.complete


def test_23_same_message_id_twice(tracker):
    assert len(tracker.feed(mail("a", "[PATCH] KVM: x86: once"))) == 1
    assert tracker.feed(mail("a", "[PATCH] KVM: x86: once")) == []
    assert len(tracker.postings()) == 1


def test_24_bot_reports(tracker):
    (d,) = tracker.feed(mail("b", "[kvm:queue 1/2] arch/x86/kvm/x86.c:12: warning: unused", kind=Kind.BOT))
    assert d.role is Role.NONE and not tracker.postings()


def test_25_26_trailers(tracker):
    tracker.feed(*cover_set("PATCH", 5, "Five"))
    (d,) = tracker.feed(mail("r2", "Re: [PATCH 2/5] KVM: x86: part 2", irt="2", refs=["c", "2"], author=SEAN,
                             trailers=[("Reviewed-by", SEAN)]))
    assert [(t.slot, t.name, t.giver) for t in d.trailers] == [(2, "Reviewed-by", SEAN)]
    assert d.events[0].kind is EventKind.TRAILER_ADDED and d.events[0].patch_index == 2
    (d,) = tracker.feed(mail("r0", "Re: [PATCH 0/5] KVM: x86: Five", irt="c", refs=["c"], author=PAOLO,
                             trailers=[("Acked-by", PAOLO)]))
    assert [(t.slot, t.name) for t in d.trailers] == [(0, "Acked-by")]
    # the same trailer again (a reply to the reply) is not counted twice
    (d,) = tracker.feed(mail("r2b", "Re: [PATCH 2/5] KVM: x86: part 2", irt="r2", refs=["c", "2", "r2"],
                             author=SEAN, trailers=[("Reviewed-by", SEAN)]))
    assert d.trailers == () and d.events == ()


def test_27_reply_without_re(tracker):
    tracker.feed(*cover_set("PATCH", 2, "Two"))
    (d,) = tracker.feed(mail("q", "[PATCH 1/2] KVM: x86: part 1", irt="1", refs=["c", "1"], kind=Kind.REPLY,
                            author=SEAN, trailers=[("Reviewed-by", SEAN)]))
    assert d.role is Role.REPLY and d.trailers[0].slot == 1


def test_28_applied_partly(tracker):
    tracker.feed(*cover_set("PATCH", 3, "Three"))
    (d,) = tracker.feed(mail("ok", "Re: [PATCH 0/3] KVM: x86: Three", irt="c", refs=["c"], author=SEAN,
                             applied=[(1, "abc123"), (3, "def456")]))
    assert sorted(a.slot for a in d.applied) == [1, 3]
    assert tracker.series_of("c").applied_slots == {1, 3}
    assert [e.kind for e in d.events] == [EventKind.APPLIED]


def test_applied_single_patch_without_index(tracker):
    tracker.feed(mail("a", "[PATCH] KVM: x86: Fix"))
    (d,) = tracker.feed(mail("ok", "Re: [PATCH] KVM: x86: Fix", irt="a", author=SEAN, applied=[(None, "abc")]))
    assert [a.slot for a in d.applied] == [1]


def test_lineage_orders_late_older_version(tracker):
    tracker.feed(mail("v3", "[PATCH v3] KVM: x86: Do the thing", at=300))
    tracker.feed(mail("v1", "[PATCH] KVM: x86: Do the thing", at=0))
    tracker.feed(mail("v2", "[PATCH v2] KVM: x86: Do the thing", at=100))
    v1, v2, v3 = (tracker.series_of(m) for m in ("v1", "v2", "v3"))
    assert (v1.superseded_by, v2.supersedes, v2.superseded_by, v3.supersedes) == (
        v2.series_id, v1.series_id, v3.series_id, v2.series_id)


def test_title_similarity_thresholds():
    tlb1 = "Fine-grained TLB flush + Direct TLB flush feature"
    tlb3 = "Fine-grained TLB flush + L2 TLB flush features"
    assert similarity(tlb1, tlb3) > 0
    ev1 = "Support TscScaling and EnclsExitingBitmap whith eVMCS"
    ev2 = "Support TscScaling and EnclsExitingBitmap with eVMCS + use vmcs_config for L1 VMX MSRs"
    nvmx = "Use vmcs_config for setting up nested VMX MSRs"
    assert similarity(ev1, ev2) > similarity(nvmx, ev2)
    assert similarity("Fix foo", "Fix bar") == 0
    # generic words do not make two pieces of work the same (real kvmarm case)
    assert similarity("KVM: arm/arm64: user_mem_abort() assorted fixes", "KVM: arm64: Assorted PMU emulation fixes") == 0
    assert similarity("Fine-grained access check to Hyper-V hypercalls and MSRs", tlb1) == 0


def test_title_links_need_a_newer_version_or_the_same_title(tracker):
    """Same author, same version, similar but different titles: two pieces of work."""
    tracker.feed(mail("a", "[PATCH] KVM: x86: Rework the frobnicator locking"))
    tracker.feed(mail("b", "[PATCH] KVM: x86: Rework the frobnicator locking again", at=600))
    tracker.feed(mail("c", "[PATCH v2] KVM: x86: Rework the frobnicator locking", at=1200))
    a, b, c = (tracker.series_of(m) for m in "abc")
    assert a.lineage_id != b.lineage_id
    assert c.lineage_id in (a.lineage_id, b.lineage_id) and c.supersedes is not None


def test_stable_backports_for_different_trees_are_not_versions(tracker):
    sasha = "Sasha Levin <sashal@kernel.org>"
    tracker.feed(mail("a", "[PATCH AUTOSEL 5.4 1/3] KVM: arm64: Fix the thing", author=sasha))
    tracker.feed(mail("b", "[PATCH AUTOSEL 4.19 1/3] KVM: arm64: Fix the thing", author=sasha, at=2))
    a, b = tracker.series_of("a"), tracker.series_of("b")
    assert a.lineage_id != b.lineage_id and b.duplicate_of is None and b.supersedes is None


def test_previous_version_links():
    from bot.series.lineage import _previous_ids

    m = mail("x", "[PATCH v3] KVM: x86: y", previous=[
        "https://lore.kernel.org/all/20250101-a-1-ann@example.com/",
        "v1: https://lore.kernel.org/kvm/20241201-b-2-ann@example.com/T/#u",
        "https://patch.msgid.link/20240101-c%40example.com",
        "<20231201-d@example.com>",
        "https://example.com/not-a-link",
    ])
    assert list(_previous_ids(m)) == [
        "20250101-a-1-ann@example.com", "20241201-b-2-ann@example.com", "20240101-c@example.com",
        "20231201-d@example.com",
    ]
