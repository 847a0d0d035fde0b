"""The parser against `email.policy.default` over the shared corpus (issue 12 item 7).

For every mail: subject, From, Date, Message-ID, In-Reply-To, References and
the decoded text body must equal the standard library's, unless the
difference is one of the named, explained entries in
`tests.mail.differential.KNOWN` (the rule must recognise that exact shape).
Every parse result must also be storable: no str field with a lone surrogate.

The kvmarm archive (21,367 mails, ~40 s both ways) is sampled, one mail in
SAMPLE, unless KVMBOT_DIFFERENTIAL_FULL=1 asks for all of it.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from bot.ingest.sources import iter_path
from tests.mail.differential import CORRUPTED, KNOWN, Difference, compare, unstorable

pytestmark = pytest.mark.corpus

SAMPLE = 5
FULL = os.environ.get("KVMBOT_DIFFERENTIAL_FULL") == "1"


def corpus_files(corpus: Path) -> list[Path]:
    files = [*sorted((corpus / "seed").glob("*.eml")), *sorted((corpus / "kvm-x86-threads").glob("*.mbox"))]
    files.append(corpus / "stable-fixes.mbox")
    for sub in ("patchwork/mail", "patchwork/series", "patchwork/fuzz", "patchew", "b4"):
        files.extend(sorted(p for p in (corpus / "fixtures" / sub).iterdir() if p.suffix == ".mbox"))
    return files


def run(paths: list[Path], every: int = 1) -> tuple[int, Counter[str], list[tuple[str, Difference]], list[str]]:
    """(mails compared, uses per known rule, unexplained differences, unstorable mails)."""
    mails = 0
    used: Counter[str] = Counter()
    unexplained: list[tuple[str, Difference]] = []
    bad: list[str] = []
    for path in paths:
        for n, raw in enumerate(iter_path(path)):
            if n % every:
                continue
            mails += 1
            mail, diffs = compare(raw.data, raw.ref)
            for d in diffs:
                if d.known is None:
                    unexplained.append((raw.ref, d))
                else:
                    used[d.known] += 1
            if unstorable(mail):
                bad.append(raw.ref)
    return mails, used, unexplained, bad


def test_known_differences_are_documented() -> None:
    names = [k.name for k in KNOWN]
    assert len(names) == len(set(names))
    for k in (*KNOWN, CORRUPTED):
        assert k.why.strip() and k.field in ("subject", "from", "date", "message_id", "in_reply_to",
                                              "references", "body", "*")


def test_against_stdlib_shared_corpus(corpus: Path) -> None:
    mails, used, unexplained, bad = run(corpus_files(corpus))
    assert mails > 1850
    assert unexplained == []
    assert bad == []
    # the rules this part of the corpus needs (the rest show up in the kvmarm archive)
    assert set(used) >= {
        "crlf-in-encoded-body", "text-parts-joined", "no-message-id", "several-references-headers",
        "space-between-encoded-words", "date-without-zone", "date-from-received", "unknown-charset",
        "address-without-domain", "raw-utf8-header", "corrupted-fixture",
    }
    # most mails agree on every field: the rules are exceptions, not the norm
    assert sum(used.values()) < mails // 10


def test_against_stdlib_kvmarm(kvmarm_git: Path) -> None:
    mails, used, unexplained, bad = run([kvmarm_git], 1 if FULL else SAMPLE)
    assert mails >= (21367 if FULL else 21367 // SAMPLE)
    assert unexplained == []
    assert bad == []
    assert used["text-parts-joined"] > 0 and used["crlf-in-encoded-body"] > 0
    if FULL:
        assert set(used) >= {"domain-case", "quoted-empty-local-part"}
