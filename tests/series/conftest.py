"""Build ParsedMail objects directly and run them through the tracker."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import pytest

from bot.mail.models import Applied, AppliedCommit, Kind, ParsedMail, Person, Subject, Trailer
from bot.series import Decision, MemoryIndex, decide

T0 = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)
_PREFIX = re.compile(r"^\[([^\]]*)\]\s*")


def subject(raw: str) -> Subject:
    """A small stand-in for the parser's subject split (enough for these tests)."""
    text = raw
    is_reply = False
    if text.lower().startswith("re: "):
        is_reply, text = True, text[4:]
    tokens: list[str] = []
    while m := _PREFIX.match(text):
        tokens += m.group(1).split()
        text = text[m.end():]
    version, label, index, total = 1, None, None, None
    rfc = resend = pull = False
    tags = []
    for tok in tokens:
        if re.fullmatch(r"[vV]\d+(\.\d+)?", tok):
            version = int(tok[1:].split(".")[0])
            label = tok[1:] if "." in tok else None
        elif re.fullmatch(r"\d+/\d+", tok):
            index, total = (int(x) for x in tok.split("/"))
        elif tok.upper() == "RFC":
            rfc = True
        elif tok.upper() == "RESEND":
            resend = True
        elif tok.upper() == "PULL":
            pull = True
        elif tok.upper() not in ("PATCH", "GIT"):
            tags.append(tok)
    subsystem = None
    title = text
    if m := re.match(r"^((?:[\w/-]+: )+)", text):
        subsystem, title = m.group(1).rstrip(": "), text[m.end():]
    return Subject(
        raw=raw, title=title, subsystem=subsystem, prefixes=tuple(tokens), tags=tuple(tags),
        version=version, version_label=label, index=index, total=total, rfc=rfc,
        resend=resend, is_reply=is_reply, is_patch=bool(tokens), pull=pull,
    )


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
