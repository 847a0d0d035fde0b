"""Cards that name another version by its first mail re-render when that mail changes (issue 12).

A card links its successor by the successor's cover (else lowest patch), and a
superseded card's `b4 am` line names the latest version's. Out of order the
successor's cover comes after its patches, or a version is placed in its
lineage only when its cover shows the title: the older cards must hear of it
(VERSION_CHANGED), or they keep what was true when they were last edited.
"""

from __future__ import annotations

from bot.series.models import EventKind

from .conftest import Tracker, mail


def _changed(d) -> set[int]:
    return {e.series_id for e in d.events if e.kind is EventKind.VERSION_CHANGED}


def _v1_v2(tracker: Tracker) -> None:
    tracker.feed(mail("a0", "[PATCH 0/2] KVM: x86: Teach the widget"),
                 mail("a1", "[PATCH 1/2] KVM: x86: widget one", irt="a0"),
                 mail("a2", "[PATCH 2/2] KVM: x86: widget two", irt="a0"))


def test_a_late_cover_or_lower_patch_of_the_newer_version_re_renders_the_older_card(tracker: Tracker) -> None:
    _v1_v2(tracker)
    v1 = tracker.series_of("a0").series_id
    (two,) = tracker.feed(mail("b2", "[PATCH v2 2/2] KVM: x86: widget two", irt="b0", at=60))
    assert tracker.series_of("b2").supersedes == v1
    (one,) = tracker.feed(mail("b1", "[PATCH v2 1/2] KVM: x86: widget one", irt="b0", at=60))
    assert v1 in _changed(one)  # v2 is named by b1 now, not b2
    (cover,) = tracker.feed(mail("b0", "[PATCH v2 0/2] KVM: x86: Teach the widget", at=60))
    assert v1 in _changed(cover)  # ... and by its cover from now on


def test_a_version_placed_late_re_renders_every_older_card_and_its_own_patches(tracker: Tracker) -> None:
    _v1_v2(tracker)
    tracker.feed(mail("b0", "[PATCH v2 0/2] KVM: x86: Teach the widget", at=60),
                 mail("b1", "[PATCH v2 1/2] KVM: x86: widget one", irt="b0", at=60),
                 mail("b2", "[PATCH v2 2/2] KVM: x86: widget two", irt="b0", at=60))
    v1, v2 = tracker.series_of("a0").series_id, tracker.series_of("b0").series_id
    # v3's patch has a title of its own: only its cover shows it is v3 of the widget.
    tracker.feed(mail("c1", "[PATCH v3 1/1] KVM: x86: gadget rework", irt="c0", at=120))
    assert tracker.series_of("c1").supersedes is None
    (cover,) = tracker.feed(mail("c0", "[PATCH v3 0/1] KVM: x86: Teach the widget", at=120))
    v3 = tracker.series_of("c0")
    assert v3.supersedes == v2
    # v1's `b4 am` line named v2 as the latest; v3's patch is "changed since v2" now.
    assert {v1, v3.series_id} <= _changed(cover)
