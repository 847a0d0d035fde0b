"""Every subject row of parser-cases.md, table-driven: expected fields per subject."""

from __future__ import annotations

import pytest

from bot.mail.subject import parse_subject, subject_version_key, version_key

# (subject, expected fields); fields not named keep their defaults-agnostic value.
CASES: list[tuple[str, dict]] = [
    ("[PATCH] KVM: x86: Fix foo",
     dict(version=1, index=None, total=None, title="KVM: x86: Fix foo", subsystem="KVM: x86", is_patch=True)),
    ("[PATCH v3 05/12] KVM: x86/mmu: Fix bar",
     dict(version=3, index=5, total=12, subsystem="KVM: x86/mmu", prefixes=("PATCH", "v3", "05/12"))),
    ("[PATCH 0/7] KVM: selftests: Baz",
     dict(version=1, index=0, total=7, subsystem="KVM: selftests", title="KVM: selftests: Baz")),
    ("[PATCH RFC v2 03/12] KVM: foo", dict(version=2, index=3, total=12, rfc=True)),
    ("[RFC PATCH v2 3/12] KVM: foo", dict(version=2, index=3, total=12, rfc=True)),
    ("[PATCHv2 1/3] foo", dict(version=2, index=1, total=3, is_patch=True)),
    ("[PATCH V2 1/4] foo", dict(version=2, index=1, total=4)),
    ("[PATCH RFCv2 3/5] foo", dict(rfc=True, version=2, index=3, total=5)),
    ("[PATCH v5.5 00/30] KVM: Scalable memslots",
     dict(version=5, version_label="5.5", index=0, total=30, title="KVM: Scalable memslots", subsystem="KVM")),
    ("[PATCH net,v7] net: foo", dict(version=7, tags=("net",), index=None)),
    ("[PATCH v6,19/24] foo", dict(version=6, index=19, total=24)),
    ("[v2,1/2] foo", dict(version=2, index=1, total=2, is_patch=True)),
    ("[PATCH1/8] foo", dict(index=1, total=8, version=1, is_patch=True)),
    ("[PATCH 1 of 2] foo", dict(index=1, total=2, prefixes=("PATCH", "1/2"))),
    ("[PATCH v4 12/11] foo", dict(version=4, index=12, total=11)),
    ("[PATCH kvmtool v4 6/5] foo", dict(version=4, index=6, total=5, tags=("kvmtool",))),
    ("[Patch 2/2]: powerpc/foo", dict(index=2, total=2, title="powerpc/foo", subsystem=None)),
    ("[PATCH v2 RESEND 1/3] foo", dict(resend=True, version=2, index=1, total=3)),
    ("[RESEND PATCH v2 1/3] foo", dict(resend=True, version=2, index=1, total=3)),
    ("[Resend RFC PATCH V4 1/2] foo", dict(resend=True, rfc=True, version=4, index=1, total=2)),
    ("[PATCH resend RFC 1/2] foo", dict(resend=True, rfc=True, version=1, index=1, total=2)),
    ("[RESEND] [PATCH] foo", dict(resend=True, is_patch=True, title="foo", prefixes=("RESEND", "PATCH"))),
    ("[RFC/PATCH 1/2] foo", dict(rfc=True, index=1, total=2, is_patch=True)),
    ("[RFC][PATCH 2/3] foo", dict(rfc=True, index=2, total=3, title="foo")),
    ("[PATCH] [RFC] foo", dict(rfc=True, is_patch=True, title="foo")),
    ("[RFC-PATCH] foo", dict(rfc=True, is_patch=True, prefixes=("RFC", "PATCH"))),
    ("[kvm-unit-tests PATCH v2 1/3] x86: foo",
     dict(tags=("kvm-unit-tests",), prefixes=("kvm-unit-tests", "PATCH", "v2", "1/3"), version=2, index=1, total=3)),
    ("[PATCH kvm-unit-tests v2] x86: foo", dict(tags=("kvm-unit-tests",), version=2, index=None)),
    ("[PATCH kvmtool v4 0/5] foo", dict(tags=("kvmtool",), version=4, index=0, total=5)),
    ("[PATCH net-next v3 0/4] net: dsa: Foo",
     dict(tags=("net-next",), version=3, index=0, total=4, subsystem="net")),
    ("[iommufd 0/2] foo", dict(tags=("iommufd",), index=0, total=2, is_patch=True)),
    ("[PATCH GSoC v6 00/10] foo", dict(tags=("GSoC",), version=6, index=0, total=10)),
    ("[PATCH -next] foo", dict(tags=("-next",), prefixes=("PATCH", "-next"))),
    ("[PATCH net-next v3 0/4] net: dsa: Foo (v3)", dict(version=3, title="net: dsa: Foo")),
    ("[PATCH] net: dsa: Foo (v2)", dict(version=2, title="net: dsa: Foo")),
    ("[PATCH v2] KVM: x86: Rewrite [a-z] regexes",
     dict(version=2, title="KVM: x86: Rewrite [a-z] regexes", prefixes=("PATCH", "v2"))),
    ("[PATCH v3 3/8] [not for merge] KVM: foo",
     dict(version=3, index=3, total=8, prefixes=("PATCH", "v3", "3/8", "not for merge"), title="KVM: foo", tags=())),
    ("[PATCH AUTOSEL 6.1 12/34] KVM: x86: foo",
     dict(autosel=True, stable_backport=True, stable_targets=("6.1",), index=12, total=34)),
    ("[PATCH 6.1.y] KVM: x86: foo", dict(stable_backport=True, stable_targets=("6.1.y",), version=1)),
    ("[PATCH 6.12,6.15] KVM: x86: foo", dict(stable_backport=True, stable_targets=("6.12", "6.15"))),
    ("[PATCH stable v2] KVM: x86: foo", dict(stable_backport=True, stable_targets=(), version=2)),
    ("[GIT PULL] KVM changes for 6.10",
     dict(pull=True, is_patch=False, title="KVM changes for 6.10", stable_backport=False, index=None)),
    ("[GIT PULL 00/12] KVM: s390: fixes", dict(pull=True, index=0, total=12, subsystem="KVM: s390")),
    ("[PULL kvm-unit-tests 1/7] s390x: foo", dict(pull=True, index=1, total=7, tags=("kvm-unit-tests",))),
    ("[s390:features 1/2] arch/s390/kvm/foo.c:12: warning: unused variable",
     dict(bot_report=True, index=None, total=None, is_patch=False, subsystem=None)),
    ("[syzbot] [kvm?] WARNING in kvm_foo",
     dict(bot_report=True, title="WARNING in kvm_foo", is_patch=False)),
    ("[linus:master] [mm] 1234abcd: will-it-scale.per_process_ops -5.3% regression",
     dict(bot_report=True, index=None, is_patch=False)),
    ("Re: [PATCH v3 05/12] KVM: x86/mmu: Fix bar",
     dict(is_reply=True, version=3, index=5, total=12, title="KVM: x86/mmu: Fix bar")),
    ("RE: [PATCH v3 05/12] foo", dict(is_reply=True, version=3, index=5, total=12)),
    ("Re: Re: [PATCH v3 05/12] foo", dict(is_reply=True, version=3, index=5, total=12)),
    ("Aw: [PATCH v2 1/2] foo", dict(is_reply=True, version=2, index=1)),
    ("AW: [PATCH v2 1/2] foo", dict(is_reply=True, version=2, index=1)),
    ("Sv: [PATCH v2 1/2] foo", dict(is_reply=True, version=2, index=1)),
    ("Odp: [PATCH v2 1/2] foo", dict(is_reply=True, version=2, index=1)),
    ("Antw: [PATCH v2 1/2] foo", dict(is_reply=True, version=2, index=1)),
    ("Re[2]: [PATCH v2 1/2] foo", dict(is_reply=True, version=2, index=1)),
    ("Fwd: [PATCH v2 1/2] foo", dict(is_reply=True, is_forward=True, version=2, index=1)),
    ("Fw: [PATCH v2 1/2] foo", dict(is_reply=True, is_forward=True, version=2, index=1)),
    ("Re: Fwd: [PATCH v2 1/2] foo", dict(is_reply=True, is_forward=True, version=2, index=1)),
    ("[Qemu-devel] Re: [PATCH v2 1/3] foo",
     dict(is_reply=True, version=2, index=1, total=3, prefixes=("PATCH", "v2", "1/3"))),
    ("[PATCH] Re-add the foo", dict(is_reply=False, is_patch=True, title="Re-add the foo")),
    ("[PATCH v2 00/15] x86/irq: KVM: Optimize KVM's PIR harvesting",
     dict(subsystem="x86/irq", index=0, total=15)),
    ("[PATCH] Revert \"KVM: x86: foo\"", dict(subsystem=None)),
    # Seen in the kvmarm archive.
    ("Re: [PATCH stable v4.9 v2] arm64: entry: Place an SB sequence",
     dict(version=2, stable_backport=True, stable_targets=("4.9",), is_reply=True)),
    ("[PATCH MANUALSEL 5.18 2/3] selftests: KVM: Handle compiler optimizations",
     dict(stable_backport=True, stable_targets=("5.18",), autosel=False, index=2, total=3)),
    ("RE: [PATCH for-stable-5.10 2/2] KVM: arm64: Workaround firmware",
     dict(stable_backport=True, stable_targets=("5.10",), index=2, is_reply=True)),
    ("Re: [stable:PATCH] KVM: arm64: Reset PMC_EL0", dict(stable_backport=True, is_patch=True, is_reply=True)),
    ("[PATCH V5 (RESEND) 0/4] arm64/cpufeature: Introduce ID_PFR2", dict(resend=True, version=5, index=0, total=4)),
    ("Re: [Question about KVM on arm64] Consider putting VINVALL",
     dict(prefixes=("Question about KVM on arm64",), tags=(), is_patch=False, is_reply=True)),
    ("Re: [RFC/RFT PATCH 1/3] memblock: update initialization", dict(rfc=True, index=1, total=3, tags=())),
    ("***SPAM*** Re: [PATCH v6 0/6] KASan for arm", dict(is_reply=True, version=6, index=0, total=6)),
    ("Re: ** POTENTIAL FRAUD ALERT - RED HAT ** RE: [PATCH v2 8/8] KVM: x86: Add checks",
     dict(is_reply=True, version=2, index=8, total=8, subsystem="KVM: x86")),
    ("[kvmarm:next 29/32] arch/arm64/kvm/sys_regs.c:1544:13: warning: initializer overrides",
     dict(bot_report=True, index=None, is_patch=False)),
    ("[PATCH 5.10 1/2] KVM: arm64: foo", dict(stable_backport=True, stable_targets=("5.10",), index=1)),
    ("[PATCH] kvm: arm64: vgic-v3: Fix foo", dict(subsystem="KVM: arm64", title="kvm: arm64: vgic-v3: Fix foo")),
    ("[PATCH] KVM: x86: nVMX: Fix foo", dict(subsystem="KVM: x86")),
    ("[PATCH] KVM: Scalable memslots v2", dict(subsystem="KVM")),
    ("[PATCH] tools headers UAPI: Sync kvm.h", dict(subsystem=None)),  # words with spaces
]


@pytest.mark.parametrize(("raw", "expected"), CASES, ids=[c[0] for c in CASES])
def test_subject_row(raw: str, expected: dict) -> None:
    got = parse_subject(raw)
    assert got.raw == raw
    for field, value in expected.items():
        assert getattr(got, field) == value, (field, got)


def test_reply_marker_requires_colon_and_title_keeps_rest() -> None:
    s = parse_subject("Re: [PATCH] Re-add the foo")
    assert s.is_reply and s.title == "Re-add the foo"


def test_folded_whitespace_is_collapsed() -> None:
    s = parse_subject("[PATCH v2 3/8] KVM: VMX: Add a module param to\n enumerate device posted IRQs")
    assert s.title == "KVM: VMX: Add a module param to enumerate device posted IRQs"


def test_empty_and_garbage_do_not_raise() -> None:
    assert parse_subject("").title == ""
    assert parse_subject("[PATCH").title == "[PATCH"
    assert parse_subject("[[]]]").version == 1


def test_version_key_orders_labels() -> None:
    keys = [version_key(6), version_key(5, "5.5"), version_key(5), version_key(5, "5.1")]
    assert sorted(keys) == [(5,), (5, 1), (5, 5), (6,)]
    assert subject_version_key(parse_subject("[PATCH v5.5 1/2] x")) == (5, 5)
    assert subject_version_key(parse_subject("[PATCH 1/2] x")) == (1,)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SUBJECT_BITS = st.sampled_from(
    ["[", "]", "PATCH", "v2", "v5.5", "1/3", " ", ",", "Re:", "Fwd:", "RFC", "KVM:", "x86:", "(v3)", "**",
     "[PATCH", "of", "2", "stable", "6.1.y", ":", "-", "/", "syzbot", "a:b"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_SUBJECT_BITS, st.text(max_size=5)), max_size=20).map("".join))
def test_parse_subject_never_raises(raw: str) -> None:
    s = parse_subject(raw)
    assert s.raw == raw and s.version >= 0
    assert (s.index is None) == (s.total is None)
