"""Our trailers against b4's expected results on b4's own fixtures.

Each `trailers-*.mbox` holds a patch (or series) and follow-up replies; the
`*-ref-defaults.txt` beside it is the patch after `b4 am` applied the
follow-up trailers with default options, and `*.verify` is the `git log` of a
series after `b4 shazam`. For every patch b4 wrote, the trailers we collect
-- the patch's own, then those of replies below it, then those of replies to
the cover letter, each follow-up people trailer kept only when it names its
sender (b4's rule), duplicates skipped -- must equal the trailer lines b4 wrote,
in b4's order. b4 also adds the applier's own sign-off ("Test Override");
that line is not a trailer of the mail and is left out.

The mbox files are split with Python's `mailbox` (tests only).
"""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.mail.people import parse_person
from bot.mail.subject import parse_subject
from bot.mail.trailers import matches_sender, parse_trailers

APPLIER = "Signed-off-by: Test Override <test-override@example.com>"


@dataclass
class Mail:
    msgid: str
    parent: str | None
    refs: list[str]
    sender: object
    subject: str
    body: str

    @property
    def has_diff(self) -> bool:
        return "\ndiff --git " in self.body or "\n--- a/" in self.body


def _ids(value: str | None) -> list[str]:
    return [part.strip("<>") for part in (value or "").split() if "@" in part]


def read_mbox(path: Path) -> list[Mail]:
    mails = []
    for msg in mailbox.mbox(path):
        payload = msg.get_payload(decode=True) or b""
        parent = _ids(msg["In-Reply-To"])
        mails.append(Mail(
            msgid=_ids(msg["Message-Id"])[0],
            parent=parent[0] if parent else None,
            refs=_ids(msg["References"]),
            sender=parse_person(str(msg["From"])),
            subject=" ".join(str(msg["Subject"]).split()),
            body=payload.decode("utf-8", "replace"),
        ))
    return mails


def line(t) -> str:
    text = f"{t.name}: {t.value}" + (f" {t.extra}" if t.extra else "")
    return " ".join(text.split())


def collect(mails: list[Mail], patch: Mail) -> list[str]:
    """The patch's trailers plus follow-ups from its replies and the cover's."""
    by_id = {m.msgid: m for m in mails}
    patches = {m.msgid for m in mails if m.has_diff}
    cover = next((m for m in mails if parse_subject(m.subject).index == 0 and not m.has_diff
                  and m.msgid in ([*patch.refs, patch.parent] if patch.refs or patch.parent else [])), None)

    def under(mail: Mail, root: str) -> bool:
        """Is `mail` a reply below `root` without another patch in between?"""
        seen = set()
        cur = mail.parent
        while cur and cur not in seen:
            if cur == root:
                return True
            if cur in patches:
                return False
            seen.add(cur)
            cur = by_id[cur].parent if cur in by_id else None
        return False

    out = [line(t) for t in parse_trailers(patch.body).trailers]
    have = {s.lower() for s in out}
    roots = [patch.msgid] + ([cover.msgid] if cover else [])
    for root in roots:
        for m in mails:
            if m.msgid in patches or m is cover or not under(m, root):
                continue
            for t in parse_trailers(m.body, reply=True).trailers:
                if t.person is not None and not matches_sender(t, m.sender):
                    continue
                s = line(t)
                if s.lower() not in have:
                    have.add(s.lower())
                    out.append(s)
    return out


def expected_from_ref(text: str) -> dict[str, list[str]]:
    """Message-Id -> the trailer lines of each patch in a ref file."""
    out: dict[str, list[str]] = {}
    chunks = ("\n" + text).split("\nFrom git@z ")[1:]
    for chunk in chunks:
        head, _, body = chunk.partition("\n\n")
        msgid = next(_ids(h.split(":", 1)[1])[0] for h in head.splitlines() if h.lower().startswith("message-id:"))
        out[msgid] = trailer_lines(body)
    return out


def trailer_lines(body: str) -> list[str]:
    """The last paragraph before the diff, as normalised lines (b4's output is clean)."""
    lines = []
    for raw in body.splitlines():
        if raw == "---" or raw.startswith(("diff --git", "--- a/")):
            break
        lines.append(raw)
    while lines and not lines[-1].strip():
        lines.pop()
    para = []
    for raw in reversed(lines):
        if not raw.strip():
            break
        para.append(" ".join(raw.split()))
    return [p for p in reversed(para) if p != APPLIER]


@pytest.fixture(scope="module")
def b4dir(corpus: Path) -> Path:
    return corpus / "fixtures" / "b4"


REF_CASES = [
    "single", "bare-address", "htmljunk", "name-parens", "nore", "stripped-lines", "with-diffstat",
    "non-git-patch", "non-git-patch-with-comments", "with-cover", "partial-reroll",
]


@pytest.mark.parametrize("case", REF_CASES)
def test_followup_trailers_match_b4(b4dir: Path, case: str) -> None:
    mails = read_mbox(b4dir / f"trailers-followup-{case}.mbox")
    expected = expected_from_ref((b4dir / f"trailers-followup-{case}-ref-defaults.txt").read_text())
    assert expected, case
    by_id = {m.msgid: m for m in mails}
    for msgid, want in expected.items():
        assert want, (case, msgid)
        assert collect(mails, by_id[msgid]) == want, (case, msgid)


@pytest.mark.parametrize("case", ["thread-with-followups", "thread-with-cover-followup"])
def test_shazam_series_match_b4(b4dir: Path, case: str) -> None:
    mails = read_mbox(b4dir / f"trailers-{case}.mbox")
    patches = {parse_subject(m.subject).title: m for m in mails if m.has_diff}
    blocks = (b4dir / f"trailers-{case}.verify").read_text().split("\n---\n")
    checked = 0
    for block in blocks:
        rows = block.strip("\n").splitlines()
        if len(rows) < 2:
            continue
        title = rows[1]
        want = trailer_lines("\n".join(rows[2:]))
        assert collect(mails, patches[title]) == want, (case, title)
        checked += 1
    assert checked == len(patches)


def test_own_trailers_with_notes_and_wraps(b4dir: Path) -> None:
    """b4's trailers-test-extinfo: notes, an indented note, a comment, a wrapped sign-off."""
    body = (b4dir / "trailers-test-extinfo.txt").read_text().split("\n\n", 1)[1]
    block = parse_trailers(body)
    assert [(t.name, t.value, t.extra, t.note) for t in block.trailers] == [
        ("Reported-by", "Some, One <somewhere@example.com>", None, None),
        ("Reviewed-by", "Bogus Bupkes <bogus@example.com>", None, "[for the parts that are bogus]"),
        ("Fixes", "abcdef01234567890", None, None),
        ("Tested-by", "Some Person <bogus2@example.com>", None, "[this person visually indented theirs]"),
        ("Link", "https://msgid.link/some@msgid.here", "# initial submission", None),
        ("Signed-off-by", "Wrapped Persontrailer <broken@example.com>", None, None),
    ]
    simple = parse_trailers((b4dir / "trailers-test-simple.txt").read_text().split("\n\n", 1)[1])
    assert simple.trailers[0].person.name == "Doe, Jane"
    assert [f.sha for f in simple.fixes] == ["abcdef01234567890"]
