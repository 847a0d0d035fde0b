"""Issue 12 items 3-5, tracker side: neighbour re-renders, one alert per fix, applied notices, backports."""

from __future__ import annotations

from bot.mail.models import Applied, StableTag
from bot.series.models import EventKind

from .conftest import Tracker, mail


def _stable(m):
    return m.model_copy(update={"stable": StableTag(tagged=True)})


def _kinds(d, sid: int) -> list[EventKind]:
    return [e.kind for e in d.events if e.series_id == sid]


def test_a_late_v1_patch_and_a_v1_review_re_render_v2(tracker: Tracker) -> None:
    v1 = [mail("a0", "[PATCH 0/2] KVM: x86: Teach the widget"),
          mail("a1", "[PATCH 1/2] KVM: x86: widget one", irt="a0")]
    v2 = [mail("b0", "[PATCH v2 0/2] KVM: x86: Teach the widget", at=60),
          mail("b1", "[PATCH v2 1/2] KVM: x86: widget one", irt="b0", at=60)]
    tracker.feed(*v1, *v2)
    s1, s2 = tracker.series_of("a0"), tracker.series_of("b0")
    assert s2.supersedes == s1.series_id
    (late,) = tracker.feed(mail("a2", "[PATCH 2/2] KVM: x86: widget two", irt="a0", at=1))
    assert _kinds(late, s2.series_id) == [EventKind.VERSION_CHANGED]  # v2's "unchanged since v1" may change
    (review,) = tracker.feed(mail("r1", "Re: [PATCH 1/2] KVM: x86: widget one", irt="a1", at=5,
                                  trailers=[("Reviewed-by", "Bob B <b@x>")]))
    assert _kinds(review, s2.series_id) == [EventKind.VERSION_CHANGED]  # its carried-over trailers
    (v3,) = tracker.feed(mail("c0", "[PATCH v3 0/2] KVM: x86: Teach the widget", at=120))
    s3 = tracker.series_of("c0")
    assert s3.supersedes == s2.series_id
    assert _kinds(v3, s1.series_id) == [EventKind.VERSION_CHANGED]  # v1's `b4 am` now names v3
    assert EventKind.SUPERSEDED in _kinds(v3, s2.series_id)


def test_one_alert_per_fix_in_either_order() -> None:
    for order in ((0, 1), (1, 0)):
        t = Tracker()
        posts = [_stable(mail("f1", "[PATCH] KVM: x86: Fix the frobnicator")),
                 _stable(mail("f2", "[PATCH v2] KVM: x86: Fix the frobnicator", at=60))]
        first, second = (t.feed(posts[i])[0] for i in order)
        asks = [e for d in (first, second) for e in d.events if e.kind is EventKind.STABLE_REQUESTED]
        assert [e.data["repost_of"] for e in asks] == [None, posts[order[0]].message_id]


def test_a_notice_naming_no_patch_applies_what_it_answers(tracker: Tracker) -> None:
    tracker.feed(mail("s0", "[PATCH 0/2] KVM: x86: Things"),
                 mail("s1", "[PATCH 1/2] KVM: x86: thing one", irt="s0"),
                 mail("s2", "[PATCH 2/2] KVM: x86: thing two", irt="s0"))
    one = mail("q1", "Re: [PATCH 1/2] KVM: x86: thing one", irt="s1", at=5)
    one = one.model_copy(update={"applied": Applied(where="stable")})  # "Queued this one for stable, thanks."
    (d,) = tracker.feed(one)
    assert [(a.slot, a.where) for a in d.applied] == [(1, "stable")]
    every = mail("q0", "Re: [PATCH 0/2] KVM: x86: Things", irt="s0", at=6)
    (d,) = tracker.feed(every.model_copy(update={"applied": Applied()}))  # "Queued, thanks."
    assert [a.slot for a in d.applied] == [0]  # the whole series
    assert [e.data["patches"] for e in d.events if e.kind is EventKind.APPLIED] == ["0"]


def test_autosel_backports_are_postings_of_their_own_kind(tracker: Tracker) -> None:
    tracker.feed(mail("as1", "[PATCH AUTOSEL 6.1 07/19] KVM: x86: Fix the frobnicator"))
    s = tracker.series_of("as1")
    assert s is not None and s.backport and s.declared_total == 19
