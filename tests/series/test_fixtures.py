"""Real threads through the real parser and the tracker: patchwork's series
fixtures (named after the case they test) and b4's partial reroll."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ingest.sources import iter_path
from bot.mail import parse_mail

from .conftest import Tracker

pytestmark = pytest.mark.corpus

# file -> [(version, received/total, complete, supersedes-index or None, duplicate-of-index or None, partial)]
# (postings in creation order; indices point into that list)
CASES = {
    "base-cover-letter": [(1, "2/2", True, None, None, False)],
    "base-deep-threaded": [(1, "2/2", True, None, None, False)],
    "base-different-versions": [(3, "4/4", True, None, None, False)],
    "base-extra-patches": [(1, "3/3", True, None, None, False)],
    "base-incomplete": [(1, "1/2", False, None, None, False)],
    "base-no-cover-letter": [(1, "2/2", True, None, None, False)],
    "base-no-references-no-cover": [(1, "2/2", True, None, None, False)],
    "base-no-references": [(2, "2/2", True, None, None, False)],
    "base-out-of-order": [(1, "2/2", True, None, None, False)],
    "base-single-patch": [(1, "1/1", True, None, None, False)],
    "bugs-multiple-references": [(2, "4/4", True, None, None, False)],
    "bugs-nocover": [(1, "2/2", True, None, None, False), (2, "2/2", True, 0, None, False)],
    "bugs-nocover-noversion": [(1, "2/2", True, None, None, False), (1, "2/2", True, None, 0, False)],
    "revision-basic": [(1, "2/2", True, None, None, False), (2, "2/2", True, 0, None, False)],
    "revision-no-cover-letter": [(1, "2/2", True, None, None, False), (2, "2/2", True, 0, None, False)],
    "revision-out-of-order": [(1, "2/2", True, None, None, False), (2, "2/2", True, 0, None, False)],
    "revision-threaded-to-cover": [(1, "2/2", True, None, None, False), (2, "2/2", True, 0, None, False)],
    "revision-threaded-to-patch": [(1, "2/2", True, None, None, False), (2, "2/2", True, 0, None, False)],
    "revision-threaded-to-single-patch": [(1, "1/1", True, None, None, False), (2, "1/1", True, 0, None, False)],
}


def _feed(path: Path) -> Tracker:
    tracker = Tracker()
    tracker.feed(*(parse_mail(r.data) for r in iter_path(path)))
    return tracker


@pytest.mark.parametrize("name", sorted(CASES))
def test_patchwork_series_fixture(corpus: Path, name: str):
    tracker = _feed(corpus / "fixtures" / "patchwork" / "series" / f"{name}.mbox")
    postings = sorted(tracker.postings(), key=lambda s: s.series_id)
    pos = {s.series_id: i for i, s in enumerate(postings)}
    got = [
        (
            s.version,
            f"{sum(1 for k in s.members if k > 0)}/{s.total}",
            s.complete,
            pos.get(s.supersedes) if s.supersedes else None,
            pos.get(s.duplicate_of) if s.duplicate_of else None,
            s.partial,
        )
        for s in postings
    ]
    assert got == CASES[name]
    assert len({s.lineage_id for s in postings}) == 1


def test_b4_partial_reroll(corpus: Path):
    tracker = _feed(corpus / "fixtures" / "b4" / "trailers-followup-partial-reroll.mbox")
    v2, v3 = sorted(tracker.postings(), key=lambda s: s.series_id)
    assert (v2.version, sorted(v2.members)) == (2, [0, 1, 2])
    assert (v3.version, sorted(v3.members), v3.partial, v3.supersedes) == (3, [2], True, v2.series_id)
    assert v2.superseded_by is None
    # the follow-up reviewer on v2 2/2 counts there, the cover reviewer on the cover
    keys = {(slot, email) for slot, _, email in v2.trailer_keys}
    assert (0, "followup-reviewer1@example.com") in keys
