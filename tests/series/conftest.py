"""Build ParsedMail objects directly and run them through the tracker."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import pytest

from bot.mail.models import Applied, AppliedCommit, Kind, ParsedMail, Person, Subject, Trailer
from bot.mail.subject import parse_subject
from bot.series import Decision, MemoryIndex, decide

T0 = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)


def subject(raw: str) -> Subject:
    return parse_subject(raw)


def mail(
    mid: str,
    subj: str,
    *,
    irt: str | None = None,
    refs: Iterable[str] = (),
    author: str = "Ann Dev <ann@example.com>",
    at: int = 0,
    kind: Kind | None = None,
    trailers: Iterable[tuple[str, str]] = (),
    applied: Iterable[tuple[int | None, str]] | None = None,
    change_id: str | None = None,
    previous: Iterable[str] = (),
) -> ParsedMail:
    sub = subject(subj)
    name, email = author.rsplit(" <", 1)
    if kind is None:
        if sub.is_reply:
            kind = Kind.REPLY
        elif sub.pull:
            kind = Kind.PULL
        elif sub.index == 0:
            kind = Kind.COVER
        else:
            kind = Kind.PATCH
    refs = tuple(refs)
    if irt and irt not in refs:
        refs = refs + (irt,)
    ts = []
    for n, v in trailers:
        pn, pe = v.rsplit(" <", 1)
        ts.append(Trailer(name=n, value=v, person=Person(name=pn, email=pe.rstrip(">"))))
    return ParsedMail(
        message_id=mid,
        in_reply_to=irt,
        references=refs,
        author=Person(name=name, email=email.rstrip(">")),
        date=T0 + timedelta(minutes=at),
        subject=sub,
        kind=kind,
        trailers=tuple(ts),
        applied=None
        if applied is None
        else Applied(
            tree="kvm-x86", branch="mmu",
            commits=tuple(AppliedCommit(index=i, commit=c) for i, c in applied),
        ),
        change_id=change_id,
        previous_versions=tuple(previous),
        has_diff=kind is Kind.PATCH,
    )


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
