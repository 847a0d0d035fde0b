"""Issue 12 item 4, parse side: which patches a notice applies, where, and their commits."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ingest.sources import iter_path
from bot.mail import Kind, parse_mail, to_json
from bot.mail.subject import parse_subject
from tests.mail.mini import mail

B4_TY = """On Tue, 14 Jan 2025 10:00:00 -0800, Jane Doe wrote:
> Fix the foo.

Applied 1 and 3 to kvm-x86 `mmu`, thanks!

[1/5] KVM: x86/mmu: Fix foo
      commit: 0123456789ab
[3/5] KVM: x86/mmu: Fix baz
      https://git.kernel.org/pub/scm/virt/kvm/kvm.git/commit/?id=abcdef012345

--
https://github.com/kvm-x86/linux/tree/next
"""

NOTICES = [
    # body, where, tree, branch, indices
    ("Queued this one for stable, thanks.\n", "stable", None, None, ()),
    ("Queued this one, thanks.\n", None, None, None, ()),
    ("Queued 1-7, thanks\n", None, None, None, tuple(range(1, 8))),
    ("Applied to kvm-x86 `topic`, thanks!\n", "kvm-x86 topic", "kvm-x86", "topic", ()),
    ("Applied 1 and 2 to kvm-x86 fixes.  I'll send v2 for the rest soon-ish.\n",
     "kvm-x86 fixes", "kvm-x86", "fixes", (1, 2)),
    ("Queued (for 6.3), thanks.\n", "6.3", None, None, ()),
    ("Applied to kvm-arm64/misc-5.9, thanks!\n", "kvm-arm64/misc-5.9", "kvm-arm64", "misc-5.9", ()),
]


@pytest.mark.parametrize(("body", "where", "tree", "branch", "indices"), NOTICES, ids=[n[0][:32] for n in NOTICES])
def test_notice_where_and_indices(body: str, where, tree, branch, indices) -> None:
    m = parse_mail(mail(body, "Re: [PATCH 0/7] KVM: x86: Foo", reply_to="0@example.com"))
    assert m.kind is Kind.REPLY and m.applied is not None
    assert (m.applied.where, m.applied.tree, m.applied.branch) == (where, tree, branch)
    assert m.applied.indices == indices


def test_b4_subset_thank_you() -> None:
    m = parse_mail(mail(B4_TY, "Re: (subset) [PATCH v2 0/5] KVM: x86/mmu: Foo", reply_to="0@example.com"))
    s = m.subject
    assert (s.is_reply, s.subset, s.version, s.index, s.total, s.title) == (
        True, True, 2, 0, 5, "KVM: x86/mmu: Foo")
    assert s.subsystem == "KVM: x86/mmu" and s.prefixes == ("PATCH", "v2", "0/5")
    a = m.applied
    assert a is not None and (a.tree, a.branch, a.where) == ("kvm-x86", "mmu", "kvm-x86 mmu")
    assert a.indices == (1, 3)
    assert [(c.index, c.title, c.commit) for c in a.commits] == [
        (1, "KVM: x86/mmu: Fix foo", "0123456789ab"),
        (3, "KVM: x86/mmu: Fix baz", "abcdef012345"),
    ]
    j = to_json(m)
    assert j["subset"] is True and j["applied"]["indices"] == [1, 3] and j["applied"]["where"] == "kvm-x86 mmu"


@pytest.mark.parametrize(("subject", "want"), [
    ("Re: (subset) [PATCH v2 0/5] KVM: x86: Foo", (2, 0, 5, "KVM: x86: Foo", True)),
    ("Re: (subset) [PATCH 3/5] KVM: x86: Foo", (1, 3, 5, "KVM: x86: Foo", True)),
    ("Re: [PATCH v2 0/5] KVM: x86: Foo", (2, 0, 5, "KVM: x86: Foo", False)),
    # without a reply marker "(subset)" is the author's own word, left in the title
    ("[PATCH] (subset) KVM: x86: Foo", (1, None, None, "(subset) KVM: x86: Foo", False)),
])
def test_b4_subjects_parse_like_any_other(subject: str, want) -> None:
    s = parse_subject(subject)
    assert (s.version, s.index, s.total, s.title, s.subset) == want


@pytest.mark.corpus
def test_real_queued_for_stable(corpus: Path) -> None:
    """Paolo's "Queued this one for stable, thanks." in the Hyper-V hypercall thread."""
    path = corpus / "kvm-x86-threads" / "10-PATCH-v3-0-8-KVM-x86-Hyper-V-hypercall-fix-and-cleanups.mbox"
    got = {}
    for r in iter_path(path):
        m = parse_mail(r.data)
        if m.applied is not None:
            got[m.subject.raw.split("]")[0]] = (m.applied.where, m.applied.indices)
    assert got == {"Re: [PATCH v3 1/8": ("stable", ()), "Re: [PATCH v3 0/8": (None, tuple(range(2, 9)))}


@pytest.mark.corpus
def test_real_b4_ty_commits(corpus: Path) -> None:
    path = corpus / "kvm-x86-threads" / "41-PATCH-v2-0-8-KVM-SVM-Fix-exit-code-bugs.mbox"
    applied = [m.applied for m in (parse_mail(r.data) for r in iter_path(path)) if m.applied is not None]
    assert len(applied) == 1
    a = applied[0]
    assert (a.where, a.indices) == ("kvm-x86 svm", tuple(range(1, 9)))
    assert all(c.commit and c.url and c.url.endswith(c.commit) for c in a.commits)
