"""The 18 seed mails, field by field, against INDEX.tsv and the old tool's digest.

digest.txt holds, for 9 of them, the commit message and the diffstat summary
the old tool printed (its subjects are cut at the header fold: ours are not).
"""

from __future__ import annotations

import csv
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.mail import Kind, ParsedMail, parse_mail, to_json

SEED = Path(__file__).resolve().parent.parent / "data" / "seed"
SEAN = ("Sean Christopherson", "seanjc@google.com")

# file prefix -> (kind, index, total, files, insertions, deletions)
EXPECTED = {
    "01": (Kind.PATCH, None, None, 2, 13, 2),
    "02": (Kind.COVER, 0, 3, 5, 52, 9),
    "03": (Kind.PATCH, 1, 3, 3, 26, 4),
    "04": (Kind.PATCH, 2, 3, 3, 3, 1),
    "05": (Kind.PATCH, 3, 3, 1, 24, 5),
    "06": (Kind.PATCH, None, None, 1, 3, 5),
    "07": (Kind.PATCH, None, None, 1, 20, 11),
    "08": (Kind.PATCH, None, None, 3, 7, 7),
    "09": (Kind.PATCH, None, None, 4, 13, 7),
    "10": (Kind.COVER, 0, 8, 5, 96, 72),
    "11": (Kind.PATCH, 1, 8, 1, 1, 1),
    "12": (Kind.PATCH, 2, 8, 1, 11, 8),
    "13": (Kind.PATCH, 3, 8, 1, 1, 1),
    "14": (Kind.PATCH, 4, 8, 5, 21, 20),
    "15": (Kind.PATCH, 5, 8, 1, 13, 7),
    "16": (Kind.PATCH, 6, 8, 1, 9, 0),
    "17": (Kind.PATCH, 7, 8, 1, 1, 1),
    "18": (Kind.PATCH, 8, 8, 3, 68, 63),
}


def _index() -> list[dict[str, str]]:
    with (SEED / "INDEX.tsv").open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


ROWS = _index()


@pytest.fixture(scope="module")
def parsed() -> dict[str, ParsedMail]:
    return {row["file"]: parse_mail((SEED / row["file"]).read_bytes()) for row in ROWS}


def test_all_eighteen_listed() -> None:
    assert len(ROWS) == 18
    assert sorted(r["file"][:2] for r in ROWS) == sorted(EXPECTED)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r["file"][:2])
def test_seed_mail_fields(row: dict[str, str], parsed: dict[str, ParsedMail]) -> None:
    mail = parsed[row["file"]]
    kind, index, total, files, ins, dels = EXPECTED[row["file"][:2]]
    assert mail.message_id == row["message_id"].strip("<>")
    assert not mail.synthetic_id
    # Whole subjects, unfolded (the old tool cut them at the fold).
    assert mail.subject.raw == row["subject"]
    assert mail.kind is kind
    assert mail.subject.index == index and mail.subject.total == total
    assert mail.subject.version == 1 and not mail.subject.rfc and not mail.subject.is_reply
    assert (mail.author.name, mail.author.email) == SEAN
    assert mail.list_id == "kvm.vger.kernel.org"
    want_date = datetime.strptime(row["date"], "%a, %d %b %Y %H:%M:%S %z")
    assert mail.date == want_date and mail.date.utcoffset() == timedelta(hours=-7)
    assert mail.diffstat is not None
    assert (mail.diffstat.files, mail.diffstat.insertions, mail.diffstat.deletions) == (files, ins, dels)
    assert mail.errors == () and mail.warnings == ()
    if kind is Kind.PATCH:
        assert mail.has_diff and mail.diffstat_computed is not None
        # The block and the diff agree, so the block carries the exact per-file counts.
        assert mail.diffstat == mail.diffstat_computed
        assert mail.files == tuple(e.path for e in mail.diffstat.per_file)
        assert mail.commit_message.rstrip().endswith("Signed-off-by: Sean Christopherson <seanjc@google.com>")
        assert "diff --git" not in mail.commit_message
    else:
        assert not mail.has_diff and mail.diffstat_computed is None
        assert f"Sean Christopherson ({total}):" in mail.commit_message
    if index:
        # shallow threading: every patch answers its cover
        cover = next(m for m in parsed.values() if m.subject.index == 0 and m.subject.total == total)
        assert mail.in_reply_to == cover.message_id
        assert mail.references == (cover.message_id,)
    else:
        assert mail.in_reply_to is None and mail.references == ()
    ParsedMail.model_validate(mail.model_dump())


def test_single_patch_01(parsed: dict[str, ParsedMail]) -> None:
    mail = parsed["01-tdp-mmu-prove-mmu.eml"]
    assert [(e.path, e.insertions, e.deletions) for e in mail.diffstat.per_file] == [
        ("arch/x86/include/asm/kvm_host.h", 6, 1),
        ("arch/x86/kvm/mmu/tdp_mmu.c", 7, 1),
    ]
    assert mail.subject.title == "KVM: x86/mmu: Wrap sanity check on number of TDP MMU pages with KVM_PROVE_MMU"
    assert mail.subject.subsystem == "KVM: x86/mmu"
    assert [(p.name, p.email) for p in mail.to] == [SEAN, ("Paolo Bonzini", "pbonzini@redhat.com")]
    assert {p.email for p in mail.cc} == {"kvm@vger.kernel.org", "linux-kernel@vger.kernel.org"}


def test_irqbypass_fixes_and_stable(parsed: dict[str, ParsedMail]) -> None:
    mail = parsed["08-irqbypass-module.eml"]
    assert [(f.sha, f.subject) for f in mail.fixes] == [
        ("61df71ee992d", 'kvm: move "select IRQ_BYPASS_MANAGER" to common code')
    ]
    assert mail.stable.tagged and not mail.stable.noautosel
    j = to_json(mail)
    assert j["fixes"] == [{"sha": "61df71ee992d", "subject": 'kvm: move "select IRQ_BYPASS_MANAGER" to common code'}]
    assert j["stable"]["tagged"] is True
    assert j["subject"].endswith("when kvm.ko is a module")


def test_pir_1of8_fixes(parsed: dict[str, ParsedMail]) -> None:
    mail = parsed["11-pir-harvesting-1of8-read-once.eml"]
    assert [f.sha for f in mail.fixes] == ["1b03d82ba15e"]
    assert not mail.stable.tagged
    names = [t.name for t in mail.trailers]
    assert names == ["Fixes", "Cc", "Signed-off-by"]


def test_only_08_is_stable(parsed: dict[str, ParsedMail]) -> None:
    assert [f for f, m in parsed.items() if m.stable.tagged] == ["08-irqbypass-module.eml"]
    assert sorted(f[:2] for f, m in parsed.items() if m.fixes) == ["08", "11"]


def _digest_entries() -> list[tuple[str, str, str]]:
    """(subject as the old tool printed it, commit message, summary line)."""
    text = (SEED / "digest.txt").read_text()
    body = text.split("===== Patch Commit Messages ====", 1)[1]
    out = []
    for chunk in body.split("\n" + "-" * 70):
        subject = re.search(r"^\[PATCH[^\n]*", chunk, re.M)
        author = re.search(r"^Author: [^\n]*\n\n", chunk, re.M)
        summary = re.findall(r"^ \d+ files? changed[^\n]*", chunk, re.M)
        if not (subject and author and summary):
            continue
        rest = chunk[author.end() :]
        message = rest.split("\n---\n", 1)[0] if "\n---\n" in rest else rest
        out.append((subject.group(0), message, summary[-1].strip()))
    return out


DIGEST = _digest_entries()


def test_digest_has_nine_entries() -> None:
    assert len(DIGEST) == 9


@pytest.mark.parametrize("entry", DIGEST, ids=lambda e: e[0][:40])
def test_matches_old_digest(entry: tuple[str, str, str], parsed: dict[str, ParsedMail]) -> None:
    cut_subject, message, summary = entry
    # The old tool cut folded subjects; ours start the same way and go on.
    matches = [m for m in parsed.values() if m.subject.raw.startswith(cut_subject)]
    assert len(matches) == 1, cut_subject
    mail = matches[0]
    ds = mail.diffstat
    assert summary == (
        f"{ds.files} file{'s' if ds.files != 1 else ''} changed, "
        f"{ds.insertions} insertion{'s' if ds.insertions != 1 else ''}(+), "
        f"{ds.deletions} deletion{'s' if ds.deletions != 1 else ''}(-)"
    )
    if mail.kind is Kind.PATCH:
        assert mail.commit_message.strip() == message.strip()
    else:
        # The cover: the digest shows it up to the shortlog's diffstat.
        assert mail.commit_message.startswith(message.split("\n\n")[0])
