"""Run ParsedMail objects (tests.helpers.parsed_mail) through the tracker."""

from __future__ import annotations

import pytest

from bot.mail.models import ParsedMail
from bot.series import Decision, MemoryIndex, decide

# Re-exported while branches written against the old home are merged; import tests.helpers.
from tests.helpers import T0  # noqa: F401
from tests.helpers import parsed_mail as mail  # noqa: F401


class Tracker:
    """Feeds mails through decide() and applies each decision, like the store does."""

    def __init__(self) -> None:
        self.index = MemoryIndex()
        self.decisions: dict[str, Decision] = {}
        self.seen: set[str] = set()

    def feed(self, *mails: ParsedMail) -> list[Decision]:
        out = []
        for m in mails:
            if m.message_id in self.seen:
                continue
            self.seen.add(m.message_id)
            d = decide(m, self.index)
            self.index.apply(d)
            self.decisions[m.message_id] = d
            out.append(d)
        return out

    def series_of(self, mid: str):
        member = self.index.member(mid)
        return None if member is None else self.index.series(member.series_id)

    def postings(self):
        return self.index.all_series()


@pytest.fixture
def tracker() -> Tracker:
    return Tracker()
