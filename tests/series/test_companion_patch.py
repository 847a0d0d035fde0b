"""A patch for another project sent inside a kernel series' thread (issue 12, the TscScaling thread).

"[PATCH QEMU EXAMPLE] i386: ..." answers the cover of an 11-patch kernel
series: the QEMU side of it, for another tree. b4 leaves it out of the series
(its slot 1 is the kernel's 01/11) and a maintainer reads it as the QEMU
patch it is, so it is a posting of its own, whichever came first; and the
kernel's 01/11 is never split off because the QEMU patch came first.
"""

from __future__ import annotations

import itertools

from .conftest import Tracker, mail

KERNEL = [
    mail("k0", "[PATCH 0/3] KVM: VMX: Support TscScaling with eVMCS"),
    mail("k1", "[PATCH 1/3] KVM: x86: hyper-v: Expose access to debug MSRs", irt="k0"),
    mail("k2", "[PATCH 2/3] x86/hyperv: Fix the eVMCS definition", irt="k0"),
    mail("k3", "[PATCH 3/3] KVM: VMX: Support TSC scaling with eVMCS", irt="k0"),
]
QEMU = mail("q1", "[PATCH QEMU EXAMPLE] i386: Support Enlightened VMCS revisions", irt="k0", at=1)


def _grouping(order: tuple[int, ...]) -> list[tuple[str, ...]]:
    tracker = Tracker()
    mails = [*KERNEL, QEMU]
    tracker.feed(*(mails[i] for i in order))
    return sorted(tuple(sorted(s.members.values())) for s in tracker.postings())


def test_the_companion_patch_is_a_posting_of_its_own_and_the_series_stays_whole_in_every_order() -> None:
    want = [("k0", "k1", "k2", "k3"), ("q1",)]
    for order in itertools.permutations(range(5)):
        assert _grouping(order) == want, order
