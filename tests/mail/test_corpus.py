"""Corpus-wide: every real mail parses, and diffstat blocks agree with their diffs.

Reads the whole kvmarm archive (21,367 mails), the x86 threads,
stable-fixes.mbox and the three tools' fixtures once per module.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.ingest.sources import iter_path
from bot.mail import Kind, ParsedMail, parse_mail

pytestmark = pytest.mark.corpus

# Mails whose diffstat block truly disagrees with their own diff (by Message-ID).
DIFFSTAT_WHITELIST = {
    # kvmarm: an Outlook reply that re-flowed a quoted patch without "> " marks;
    # its copy of the diff lost a line, the quoted diffstat did not.
    "573DA18B-8C13-4A4C-B80E-768540D5DAD2@arm.com",
    # kvmarm: a diffstat written by hand with the bare file name "mmu.c" for
    # arch/arm64/kvm/mmu.c (git always prints repository paths).
    "20210426223357.GA45871@cd4295a34ed8",
    # b4 fixture: a hand-made hunk `@@@ -1,1 +1,1 @@` whose counts do not match its lines.
    "orig-message@example.com",
    # patchwork fixture: "similarity index 100%" renames that nevertheless carry a hunk.
    "e897f96ccf1b90662c9236addf207366@kvm-patchbot.invalid",
    # patchwork fixture: a hand-edited extra patch whose diff swaps test.md/test.txt.
    "1473632524-8585-4-git-send-email-stephenfinucane@gmail.com",
}


@dataclass
class Survey:
    mails: int = 0
    kinds: Counter = field(default_factory=Counter)
    unparseable: list[str] = field(default_factory=list)
    mismatches: list[tuple[str, str]] = field(default_factory=list)
    compared: int = 0


def survey(paths: list[Path], keep: list[ParsedMail] | None = None) -> Survey:
    out = Survey()
    for path in paths:
        for raw in iter_path(path):
            mail = parse_mail(raw.data)
            out.mails += 1
            out.kinds[mail.kind] += 1
            if mail.kind is Kind.UNPARSEABLE:
                out.unparseable.append(f"{raw.ref}: {mail.errors}")
            if mail.diffstat is not None and mail.diffstat_computed is not None and mail.kind is not Kind.PULL:
                out.compared += 1
                bad = [w for w in mail.warnings if w.startswith("diffstat block disagrees")]
                if bad and mail.message_id not in DIFFSTAT_WHITELIST:
                    out.mismatches.append((mail.message_id, bad[0]))
            if keep is not None:
                keep.append(mail)
    return out


def test_kvmarm_archive(kvmarm_git: Path) -> None:
    got = survey([kvmarm_git])
    assert got.mails == 21367
    assert got.unparseable == []
    assert got.mismatches == []
    assert got.compared > 8000  # most patches carry a block: the check is not vacuous
    # the archive is a real list: mostly replies and patches, some covers and pulls
    assert got.kinds[Kind.REPLY] > 10000 and got.kinds[Kind.PATCH] > 8500
    assert got.kinds[Kind.COVER] > 800 and got.kinds[Kind.PULL] > 50


def test_x86_threads(corpus: Path) -> None:
    got = survey(sorted((corpus / "kvm-x86-threads").glob("*.mbox")))
    assert got.mails == 1358
    assert got.unparseable == [] and got.mismatches == []
    assert got.compared > 500


def test_stable_fixes(corpus: Path) -> None:
    mails: list[ParsedMail] = []
    got = survey([corpus / "stable-fixes.mbox"], mails)
    assert got.mails == 255 and got.unparseable == [] and got.mismatches == []
    assert [m.message_id for m in mails if not m.fixes] == []
    assert [m.message_id for m in mails if not m.stable.tagged] == []
    # The AUTOSEL picks among them are backports of the fix, not the fix itself.
    backports = [m for m in mails if m.kind is Kind.BACKPORT]
    assert [m.message_id for m in mails if m.kind is not Kind.PATCH and m not in backports] == []
    assert len(backports) == 8
    assert all(m.subject.autosel and m.backport_to and m.subject.index for m in backports)
    assert all(m.has_diff for m in mails)


def test_tool_fixtures(corpus: Path) -> None:
    fixtures = corpus / "fixtures"
    real = sorted(
        p
        for sub in ("patchwork/mail", "patchwork/series", "patchew", "b4")
        for p in (fixtures / sub).iterdir()
        if p.suffix == ".mbox"
    )
    got = survey(real)
    assert got.mails > 200
    assert got.unparseable == []
    assert got.mismatches == []


def test_fuzz_fixtures_never_raise(corpus: Path) -> None:
    """patchwork's malformed mail may be broken: it must still give a valid result."""
    mails: list[ParsedMail] = []
    files = sorted((corpus / "fixtures" / "patchwork" / "fuzz").iterdir())
    got = survey(files, mails)
    assert got.mails >= len(files)
    for mail in mails:
        ParsedMail.model_validate(mail.model_dump())
        assert mail.message_id
