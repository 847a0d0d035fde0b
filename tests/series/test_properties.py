"""Arrival order must not change how postings are grouped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers import parsed_mail as mail

from .conftest import Tracker


def _two_versions() -> list:
    out = [mail("c1", "[PATCH 0/3] KVM: x86: Order matters not")]
    out += [mail(f"a{i}", f"[PATCH {i}/3] KVM: x86: piece {i}", irt="c1", refs=["c1"], at=i) for i in (1, 2, 3)]
    out += [mail("c2", "[PATCH v2 0/3] KVM: x86: Order matters not", irt="c1", refs=["c1"], at=900)]
    out += [
        mail(f"b{i}", f"[PATCH v2 {i}/3] KVM: x86: piece {i}", irt="c2", refs=["c1", "c2"], at=900 + i)
        for i in (1, 2, 3)
    ]
    return out


MAILS = _two_versions()


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(MAILS))), st.lists(st.integers(0, len(MAILS) - 1), max_size=3))
def test_any_arrival_order_gives_the_same_two_versions(order, repeats):
    tracker = Tracker()
    for i in list(order) + repeats:  # repeats: the same Message-ID delivered again
        tracker.feed(MAILS[i])
    postings = tracker.postings()
    assert len(postings) == 2
    v1, v2 = sorted(postings, key=lambda s: s.version)
    assert (v1.version, sorted(v1.members)) == (1, [0, 1, 2, 3])
    assert (v2.version, sorted(v2.members)) == (2, [0, 1, 2, 3])
    assert v1.lineage_id == v2.lineage_id
    assert v2.supersedes == v1.series_id and v1.superseded_by == v2.series_id
    assert set(v1.members.values()) == {"c1", "a1", "a2", "a3"}


def _mixed() -> list:
    """v1 without cover (deep threaded), its v2 with a cover answering v1 1/3,
    and an unrelated follow-up set answering v1 1/3 too."""
    out = [mail("p1", "[PATCH 1/3] KVM: x86: Teach the frobnicator to count")]
    out += [mail("p2", "[PATCH 2/3] KVM: x86: Count twice", irt="p1", refs=["p1"], at=1)]
    out += [mail("p3", "[PATCH 3/3] KVM: x86: Count thrice", irt="p2", refs=["p1", "p2"], at=2)]
    out += [mail("v2c", "[PATCH v2 0/2] KVM: x86: Teach the frobnicator to count", irt="p1", refs=["p1"], at=900)]
    out += [
        mail(f"v2p{i}", f"[PATCH v2 {i}/2] KVM: x86: Count {i}", irt="v2c", refs=["p1", "v2c"], at=900 + i)
        for i in (1, 2)
    ]
    out += [mail("f1", "[PATCH 1/2] KVM: selftests: Unrelated checks", irt="p1", refs=["p1"], at=950)]
    out += [mail("f2", "[PATCH 2/2] KVM: selftests: More unrelated", irt="f1", refs=["p1", "f1"], at=951)]
    return out


MIXED = _mixed()


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(MIXED))))
def test_any_arrival_order_keeps_versions_and_follow_ups_apart(order):
    tracker = Tracker()
    for i in order:
        tracker.feed(MIXED[i])
    groups = sorted(sorted(s.members.values()) for s in tracker.postings())
    assert groups == [["f1", "f2"], ["p1", "p2", "p3"], ["v2c", "v2p1", "v2p2"]]
    v1, v2 = tracker.series_of("p1"), tracker.series_of("v2c")
    assert v1.lineage_id == v2.lineage_id and v2.version == 2 and v1.version == 1


def _thrice() -> list:
    out = []
    for n, tag in enumerate("xyz"):
        out.append(mail(f"{tag}c", "[PATCH 0/2] KVM: x86: Sent thrice", at=n * 2))
        out += [mail(f"{tag}{i}", f"[PATCH {i}/2] KVM: x86: thrice {i}", irt=f"{tag}c", refs=[f"{tag}c"], at=n * 2 + i)
                for i in (1, 2)]
    return out


THRICE = _thrice()


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(THRICE))))
def test_the_same_series_sent_thrice_in_any_order(order):
    tracker = Tracker()
    for i in order:
        tracker.feed(THRICE[i])
    postings = tracker.postings()
    assert sorted(sorted(s.members.values()) for s in postings) == [
        [f"{t}1", f"{t}2", f"{t}c"] for t in "xyz"
    ]
    originals = [s for s in postings if s.duplicate_of is None]
    assert len(originals) == 1
    assert all(s.duplicate_of == originals[0].series_id for s in postings if s is not originals[0])


UNTHREADED = [mail(f"n{i}", f"[PATCH {i}/3] KVM: x86: loose {i}", at=i) for i in range(4)]
REROLL = [mail("v2c", "[PATCH v2 0/3] KVM: x86: Reroll me")] + [
    mail(f"v2p{i}", f"[PATCH v2 {i}/3] KVM: x86: reroll {i}", irt="v2c", refs=["v2c"], at=i) for i in (1, 2, 3)
] + [mail("v3p2", "[PATCH v3 2/3] KVM: x86: reroll 2", irt="v2p2", refs=["v2c", "v2p2"], at=600)]


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(UNTHREADED))))
def test_unthreaded_set_in_any_order(order):
    tracker = Tracker()
    for i in order:
        tracker.feed(UNTHREADED[i])
    (s,) = tracker.postings()
    assert s.complete and s.cover == "n0"


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(REROLL))))
def test_partial_reroll_in_any_order(order):
    tracker = Tracker()
    for i in order:
        tracker.feed(REROLL[i])
    v2, v3 = tracker.series_of("v2c"), tracker.series_of("v3p2")
    assert sorted(v2.members) == [0, 1, 2, 3] and v2.version == 2
    assert sorted(v3.members) == [2] and v3.version == 3 and v3.partial
    assert v3.supersedes == v2.series_id and v2.superseded_by is None and v3.lineage_id == v2.lineage_id
