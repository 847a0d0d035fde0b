"""A series' subsystem: the cover's, else the most common patch prefix; never the first arrival's."""

from __future__ import annotations

import itertools

from bot.series.state import voted_subsystem

from .conftest import Tracker, mail


def _series(cover: bool) -> list:
    subs = {1: "KVM: x86", 2: "KVM: x86", 3: "KVM: SVM", 4: "KVM: VMX", 5: "KVM: SVM"}
    out = [mail(f"p{i}", f"[PATCH {i}/5] {sub}: piece {i}", irt="c" if cover else "p1", at=i) for i, sub in subs.items()]
    if cover:
        out.insert(0, mail("c", "[PATCH 0/5] KVM: nVMX: the work", at=0))
    return out


def test_the_cover_names_the_subsystem_in_every_order() -> None:
    mails = _series(cover=True)
    for order in itertools.islice(itertools.permutations(mails), 0, None, 37):
        t = Tracker()
        t.feed(*order)
        (s,) = t.postings()
        assert s.subsystem == "KVM: nVMX"


def test_without_a_cover_the_most_common_prefix_wins_ties_to_the_lowest_index() -> None:
    mails = _series(cover=False)
    seen = set()
    for order in itertools.permutations(mails):
        t = Tracker()
        t.feed(*order)
        (s,) = t.postings()
        seen.add(s.subsystem)
    # x86 (patches 1, 2) ties SVM (3, 5): patch 1 is lower.
    assert seen == {"KVM: x86"}


def test_a_late_patch_moves_the_vote() -> None:
    t = Tracker()
    t.feed(mail("p3", "[PATCH 3/3] KVM: SVM: c", irt="p1"))
    assert t.postings()[0].subsystem == "KVM: SVM"
    t.feed(mail("p2", "[PATCH 2/3] KVM: x86: b", irt="p1"))
    t.feed(mail("p1", "[PATCH 1/3] KVM: x86: a"))
    assert t.postings()[0].subsystem == "KVM: x86"


def test_vote_rules() -> None:
    assert voted_subsystem({}) is None
    assert voted_subsystem({0: None, 2: "B", 3: "A", 4: "A"}) == "A"
    assert voted_subsystem({0: "C", 1: "A"}) == "C"
    assert voted_subsystem({3: "B", 2: "A"}) == "A"
