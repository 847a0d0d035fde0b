"""Issue 12 item 5: stable backports are a kind of their own, `backport`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ingest.sources import iter_path
from bot.mail import Kind, parse_mail, to_json
from tests.mail.mini import mail, patch_body

BACKPORTS = [
    # subject, index, total, backport_to
    ("[PATCH AUTOSEL 6.1 07/19] KVM: x86: Fix foo", 7, 19, ("6.1",)),
    ("[PATCH MANUALSEL 5.15 2/3] KVM: x86: Fix foo", 2, 3, ("5.15",)),
    ("[PATCH 6.6 12/40] KVM: x86: Fix foo", 12, 40, ("6.6",)),
    ("[PATCH 5.15.y] KVM: x86: Fix foo", None, None, ("5.15.y",)),
    ("[PATCH stable 6.1] KVM: x86: Fix foo", None, None, ("6.1",)),
    ("[PATCH 6.12,6.15] KVM: x86: Fix foo", None, None, ("6.12", "6.15")),
    ("[PATCH for-stable-5.10 1/2] KVM: x86: Fix foo", 1, 2, ("5.10",)),
    ("[PATCH stable v2] KVM: x86: Fix foo", None, None, ()),
]


@pytest.mark.parametrize(("subject", "index", "total", "targets"), BACKPORTS, ids=[b[0] for b in BACKPORTS])
def test_backport_kind(subject: str, index: int | None, total: int | None, targets: tuple[str, ...]) -> None:
    m = parse_mail(mail(patch_body(), subject))
    assert m.kind is Kind.BACKPORT
    assert (m.subject.index, m.subject.total, m.subject.title) == (index, total, "KVM: x86: Fix foo")
    assert m.backport_to == targets
    # still read as the patch it is: commit message, trailers, diffstat
    assert m.commit_message.startswith("Fix the foo.")
    assert [t.name for t in m.trailers] == ["Signed-off-by"]
    assert m.files == ("arch/x86/kvm/x86.c",) and m.diffstat is not None
    assert to_json(m)["kind"] == "backport" and to_json(m)["backport_to"] == list(targets)


def test_backport_cover_is_a_backport() -> None:
    body = "This is the start of the stable review cycle for the 6.6.40 release.\n"
    m = parse_mail(mail(body, "[PATCH 6.6 000/123] 6.6.40-rc1 review"))
    assert m.kind is Kind.BACKPORT and m.subject.index == 0 and m.backport_to == ("6.6",)
    assert m.commit_message.startswith("This is the start")


@pytest.mark.parametrize("subject", [
    "[PATCH v6 12/40] KVM: x86: Fix foo",
    "[PATCH 6/12] KVM: x86: Fix foo",
    "[PATCH v5.5 3/30] KVM: Scalable memslots",
    "[PATCH] KVM: x86: Fix foo",
])
def test_ordinary_patches_are_not_backports(subject: str) -> None:
    m = parse_mail(mail(patch_body(), subject))
    assert m.kind is Kind.PATCH and m.backport_to == ()


def test_reply_to_a_backport_is_a_reply() -> None:
    m = parse_mail(mail("Looks good.\n", "Re: [PATCH AUTOSEL 6.1 07/19] KVM: x86: Fix foo", reply_to="0@x"))
    assert m.kind is Kind.REPLY and m.backport_to == ()
    assert m.subject.autosel and m.subject.index == 7


@pytest.mark.corpus
def test_real_backports(corpus: Path) -> None:
    """stable-fixes.mbox holds AUTOSEL picks; each is a backport with its target and counters."""
    got = [parse_mail(r.data) for r in iter_path(corpus / "stable-fixes.mbox")]
    backports = [m for m in got if m.kind is Kind.BACKPORT]
    assert {m.subject.raw.split("]")[0] + "]" for m in backports} >= {
        "[PATCH AUTOSEL 4.19 162/167]", "[PATCH AUTOSEL 5.4 55/78]",
    }
    for m in backports:
        assert m.backport_to and m.backport_to[0][0].isdigit()
        assert m.subject.index and m.subject.total and m.fixes
    # every other fix there is an ordinary patch
    assert all(m.kind is Kind.PATCH for m in got if not m.subject.stable_backport)
