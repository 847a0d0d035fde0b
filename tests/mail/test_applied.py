"""Applied notices, checked on real maintainer replies (kvm-x86 threads, kvmarm archive)."""

from __future__ import annotations

import email
import mailbox
import subprocess
from pathlib import Path

import pytest

from bot.mail.applied import parse_applied


def text_body(msg: email.message.Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True) or b""
            return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def notices(path: Path) -> list[tuple[str, str | None, str | None, tuple]]:
    out = []
    for msg in mailbox.mbox(path):
        applied = parse_applied(text_body(msg))
        if applied is not None:
            commits = tuple((c.index, c.commit) for c in applied.commits)
            out.append((str(msg["subject"]), applied.tree, applied.branch, commits))
    return out


@pytest.fixture(scope="module")
def threads(corpus: Path) -> Path:
    return corpus / "kvm-x86-threads"


def test_b4_ty_kvm_x86_svm(threads: Path) -> None:
    found = notices(threads / "41-PATCH-v2-0-8-KVM-SVM-Fix-exit-code-bugs.mbox")
    assert len(found) == 1  # the reviews in the thread are not notices
    subject, tree, branch, commits = found[0]
    assert subject.startswith("Re: [PATCH v2 0/8] KVM: SVM: Fix exit_code bugs")
    assert (tree, branch) == ("kvm-x86", "svm")
    assert [i for i, _ in commits] == list(range(1, 9))
    assert commits[0] == (1, "217463aa329e") and commits[7] == (8, "d6c20d19f7d3")
    body = next(text_body(m) for m in mailbox.mbox(threads / "41-PATCH-v2-0-8-KVM-SVM-Fix-exit-code-bugs.mbox")
                if "Applied to kvm-x86" in text_body(m))
    first = parse_applied(body).commits[0]
    assert first.title == "KVM: SVM: Add a helper to detect VMRUN failures"
    assert first.url == "https://github.com/kvm-x86/linux/commit/217463aa329e"


def test_partial_application_by_index(threads: Path) -> None:
    found = notices(threads / "40-PATCH-0-9-KVM-SVM-Fix-hilarious-exit-code-bugs.mbox")
    assert [(t, b, c) for _, t, b, c in found] == [("kvm-x86", "fixes", ((1, "da01f64e7470"), (2, "f402ecd7a8b6")))]


def test_queued_forms_by_paolo(threads: Path) -> None:
    found = notices(threads / "10-PATCH-v3-0-8-KVM-x86-Hyper-V-hypercall-fix-and-cleanups.mbox")
    by_subject = {s.split("]")[0]: c for s, _, _, c in found}
    assert by_subject == {
        "Re: [PATCH v3 1/8": (),  # "Queued this one for stable, thanks."
        "Re: [PATCH v3 0/8": tuple((i, None) for i in range(2, 9)),  # "Queued 2-8, thanks."
    }


def test_pushed_to_branch(threads: Path) -> None:
    found = notices(threads / "28-PATCH-v6-00-33-KVM-VMX-Support-updated-eVMCSv1-revision-use-vmcs-config-for-L1-VMX-MSRs.mbox")
    assert [(t, b) for _, t, b, _ in found] == [(None, "for_paolo/6.1")]


# kvmarm archive blobs: (blob id, tree, branch, (index, commit) of the first listed patch, count)
KVMARM = [
    ("00727661aa0130ace7f1fb9836f51ae21abff6ff", None, "next",
     (1, "85fbe08e4da862dc64fc10071c4a03e51b6361d0"), 9),
    ("0139700ea94a071f8fc7cf61ebcb362b9c46e307", "kvmtool", "master", (1, "324cc0969b7c"), 1),
    ("028179c1126580e045b5b368f5402a6f1910c1a5", "arm64", "for-next/misc", (1, "5e10f9887ed8"), None),
    ("2b7fecfda46efdf72f6fd0cf621715d5680620c8", "arm64", "for-next/kselftest", (5, "32de73e89099"), 1),
    ("2aec7155502d3ddebccd830b05528bf883b59048", "https://gitlab.com/rhdrjones/kvm-unit-tests", "arm/queue",
     None, 0),
    ("e7d05f25f128797d30cb15ea395c92b897dafe4b", "kvm", "next", None, 0),
    ("183aa89504e2eb3cb0d75b4a0b908e97ef3fceba", None, None, (1, None), 5),
    ("cfe71978189491dc4d7490e656955c519799f789", None, None, None, 0),
]
# Not notices: a tester ("Applied this series and verified ..."), "applied:" before tags.
KVMARM_NOT = ["b88d41f00373a087f7f1898c0d1ece6f3a698c51", "32897fc03d0abc6f3643c5bc1f91c813d4f99414"]


def blob_body(repo: Path, blob: str) -> str:
    raw = subprocess.run(["git", "-C", str(repo), "cat-file", "blob", blob], check=True,
                         capture_output=True).stdout
    return text_body(email.message_from_bytes(raw))


@pytest.mark.corpus
@pytest.mark.parametrize(("blob", "tree", "branch", "first", "count"), KVMARM, ids=[k[0][:10] for k in KVMARM])
def test_kvmarm_notices(kvmarm_git: Path, blob, tree, branch, first, count) -> None:
    applied = parse_applied(blob_body(kvmarm_git, blob))
    assert applied is not None
    assert (applied.tree, applied.branch) == (tree, branch)
    if first is not None:
        assert (applied.commits[0].index, applied.commits[0].commit) == first
    if count is not None:
        assert len(applied.commits) == count
    assert all(c.index is not None for c in applied.commits)


@pytest.mark.corpus
@pytest.mark.parametrize("blob", KVMARM_NOT)
def test_kvmarm_non_notices(kvmarm_git: Path, blob: str) -> None:
    assert parse_applied(blob_body(kvmarm_git, blob)) is None


BRIEF_FORMS = [
    ("Applied to kvm-x86 mmu, thanks!\n\n[1/3] KVM: x86/mmu: Foo\n      https://github.com/kvm-x86/linux/commit/abcdef123456\n"
     "[3/3] KVM: x86/mmu: Baz\n      https://github.com/kvm-x86/linux/commit/123456abcdef\n\n--\nhttps://github.com/kvm-x86/linux/tree/next\n",
     "kvm-x86", "mmu", [(1, "KVM: x86/mmu: Foo", "abcdef123456"), (3, "KVM: x86/mmu: Baz", "123456abcdef")]),
    ("Applied to kvm-x86 next, thanks!\n", "kvm-x86", "next", []),
    ("Queued for 6.15, thanks\n", None, None, []),
    ("Applied, thanks!\n\n[1/1] KVM: foo\n      commit: 0123456789abcdef0123456789abcdef01234567\n", None, None,
     [(1, "KVM: foo", "0123456789abcdef0123456789abcdef01234567")]),
    ("applied to kvmarm/next\n", "kvmarm", "next", []),
    ("Queued, https://gitlab.com/rhdrjones/kvm-unit-tests/commits/arm/queue\n\nThanks,\ndrew\n",
     "https://gitlab.com/rhdrjones/kvm-unit-tests", "arm/queue", []),
    ("Queued 1-20 and 22-28.  Initially I skipped 21.\n", None, None,
     [(i, "", None) for i in [*range(1, 21), *range(22, 29)]]),
]


@pytest.mark.parametrize(("body", "tree", "branch", "commits"), BRIEF_FORMS, ids=[b[0][:30] for b in BRIEF_FORMS])
def test_notice_forms(body: str, tree, branch, commits) -> None:
    applied = parse_applied("On Mon, Sean wrote:\n> [PATCH] quoted\n\n" + body)
    assert applied is not None
    assert (applied.tree, applied.branch) == (tree, branch)
    assert [(c.index, c.title, c.commit) for c in applied.commits] == commits


@pytest.mark.parametrize("body", [
    "> Applied to kvm-x86 mmu, thanks!\n\nLooks wrong to me.\n",  # quoted
    "Reviewed-by: X <x@y.org>\n",
    "The fix was\napplied to the wrong tree.\n",  # a wrapped sentence
    "applied?\n",
    "Applied on top of kvm/queue, this fails to build.\n",
    "",
])
def test_not_a_notice(body: str) -> None:
    assert parse_applied(body) is None


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NOTICE_LINES = st.sampled_from([
    "", "Applied to kvm-x86 mmu, thanks!", "Queued 2-8, thanks.", "[1/3] KVM: x", "      commit: abcdef1",
    "      https://github.com/kvm-x86/linux/commit/abcdef123456", "> Applied, thanks", "-- ", "Applied to",
    "Queued 1-999999999", "Applied to ,", "Pushed to branch `` at:", "Applied patch to (",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_NOTICE_LINES, st.text(max_size=12)), max_size=15).map("\n".join))
def test_parse_applied_never_raises(body: str) -> None:
    applied = parse_applied(body)
    if applied is not None:
        assert all(c.index is not None and c.index >= 0 for c in applied.commits)
