"""Kinds: patch, cover, reply, pull, bot, other, unparseable."""

from __future__ import annotations

import pytest

from bot.mail import Kind, parse_mail
from bot.mail.classify import classify
from bot.mail.models import Person
from bot.mail.subject import parse_subject
from tests.helpers import raw_mail

DIFF = "diff --git a/f.c b/f.c\nindex 1..2 100644\n--- a/f.c\n+++ b/f.c\n@@ -1 +1 @@\n-a\n+b\n"


@pytest.mark.parametrize(
    ("subject", "has_diff", "in_reply_to", "kind", "carries"),
    [
        ("[PATCH] KVM: x86: Fix foo", True, None, Kind.PATCH, False),
        ("[PATCH v3 05/12] KVM: x86/mmu: Fix bar", True, "cover@x", Kind.PATCH, False),
        ("[PATCH 0/7] KVM: selftests: Baz", False, None, Kind.COVER, False),
        ("[PATCH v2 0/7] KVM: selftests: Baz", True, None, Kind.COVER, False),  # interdiff
        ("[RFC 0/3] KVM: an idea", False, None, Kind.COVER, False),
        ("Re: [PATCH v3 05/12] KVM: x86/mmu: Fix bar", False, "p@x", Kind.REPLY, False),
        ("Re: [PATCH v3 05/12] KVM: x86/mmu: Fix bar", True, "p@x", Kind.REPLY, True),
        ("Fwd: [PATCH] KVM: x86: Fix foo", True, None, Kind.REPLY, False),
        ("[GIT PULL] KVM changes for 6.10", False, None, Kind.PULL, False),
        ("[GIT PULL 00/12] KVM: s390: stuff", False, None, Kind.PULL, False),
        ("[GIT PULL 03/12] KVM: s390: one fix", True, "pull@x", Kind.PATCH, False),
        ("[syzbot] [kvm?] WARNING in kvm_foo", False, None, Kind.BOT, False),
        ("[s390:features 1/2] arch/s390/kvm/foo.c:12: warning: unused", False, None, Kind.BOT, False),
        ("KVM Forum 2025: call for presentations", False, None, Kind.OTHER, False),
        ("question about dirty logging", False, "q@x", Kind.REPLY, False),  # lost its Re:
        ("[PATCH v3 2/5] KVM: x86: Fix foo", False, "p@x", Kind.REPLY, False),  # lost Re:, quotes
        ("KVM: x86: how about this", True, "p@x", Kind.REPLY, True),  # unnumbered diff in a thread
        ("[PATCH] Re-add the foo", True, None, Kind.PATCH, False),
        ("[RFC] KVM: x86: prototype", True, None, Kind.PATCH, False),
    ],
)
def test_classify_table(subject: str, has_diff: bool, in_reply_to: str | None, kind: Kind, carries: bool) -> None:
    got = classify(parse_subject(subject), has_diff=has_diff, in_reply_to=in_reply_to, author=Person(name="A", email="a@x"))
    assert got == (kind, carries)


@pytest.mark.parametrize(
    "email", ["lkp@intel.com", "syzbot+abc123@syzkaller.appspotmail.com"]
)
def test_bot_senders(email: str) -> None:
    got = classify(parse_subject("Re: [PATCH] KVM: x86: Fix foo"), has_diff=False, in_reply_to="p@x", author=Person(name="bot", email=email))
    assert got == (Kind.BOT, False)


def test_end_to_end_kinds() -> None:
    assert parse_mail(raw_mail("k@x", "[PATCH] KVM: Fix", "Fix.\n---\n" + DIFF)).kind is Kind.PATCH
    cover = parse_mail(raw_mail("k@x", "[PATCH 0/2] KVM: Fixes", "Two fixes.\n"))
    assert cover.kind is Kind.COVER and cover.subject.index == 0 and cover.subject.total == 2
    assert parse_mail(b"\x00\x01 not a mail at all").kind is Kind.UNPARSEABLE


def test_applied_notice_on_replies() -> None:
    body = (
        "On Mon, Jan 1, A wrote:\n> quoted\n\nApplied to kvm-x86 mmu, thanks!\n\n"
        "[1/2] KVM: x86/mmu: Fix foo\n      https://github.com/kvm-x86/linux/commit/0123456789ab\n"
        "[2/2] KVM: x86/mmu: Fix bar\n      https://github.com/kvm-x86/linux/commit/ba9876543210\n\n--\nhttps://github.com/kvm-x86/linux/tree/next\n"
    )
    mail = parse_mail(raw_mail("k@x", "Re: [PATCH 0/2] KVM: x86/mmu: Fixes", body, irt="c@x"))
    assert mail.kind is Kind.REPLY and mail.applied is not None
    assert (mail.applied.tree, mail.applied.branch) == ("kvm-x86", "mmu")
    assert [(c.index, c.commit) for c in mail.applied.commits] == [(1, "0123456789ab"), (2, "ba9876543210")]
    # a patch quoting the same words is not a notice
    patch = parse_mail(raw_mail("k@x", "[PATCH] KVM: Fix", "Applied to kvm-x86 mmu, thanks!\n---\n" + DIFF))
    assert patch.applied is None


def test_pull_request_text_and_diff(corpus) -> None:
    from bot.ingest.sources import iter_path

    (raw,) = list(iter_path(corpus / "fixtures" / "patchwork" / "mail" / "0003-git-pull-request-with-diff.mbox"))
    mail = parse_mail(raw.data)
    assert mail.kind is Kind.PULL and mail.has_diff
    assert mail.commit_message.startswith("The following changes since commit")
    assert "diff --git" not in mail.commit_message
    # the pull's diffstat covers the whole pull; its diff is partial: not compared
    assert not any("disagrees" in w for w in mail.warnings)
    assert mail.diffstat is not None and mail.diffstat.files == 6
