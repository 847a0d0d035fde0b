from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from bot.config import SubscriptionFilter
from bot.notify.filters import matches, series_kind
from bot.notify.models import Subscription, Target
from bot.notify.route import route
from bot.series.models import Event, EventKind

from .views import Fixes, StableTag, patch, series


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (SubscriptionFilter(), True),
        (SubscriptionFilter(lists=["<KVM.vger.kernel.org>"]), True),
        (SubscriptionFilter(lists=["linux-kernel.vger.kernel.org"]), False),
        (SubscriptionFilter(subsystems=["KVM: x86"]), True),
        (SubscriptionFilter(subsystems=["kvm"]), True),
        (SubscriptionFilter(subsystems=["KVM: x8"]), False),
        (SubscriptionFilter(subsystems=["KVM: arm64"]), False),
        (SubscriptionFilter(paths=["arch/x86/kvm/svm/*"]), True),
        (SubscriptionFilter(paths=["arch/x86/kvm"]), True),
        (SubscriptionFilter(paths=["arch/arm64/*"]), False),
        (SubscriptionFilter(authors=["SEANJC@"]), True),
        (SubscriptionFilter(authors=["Paolo"]), False),
        (SubscriptionFilter(kinds=["series"]), True),
        (SubscriptionFilter(kinds=["single", "pull"]), False),
        (SubscriptionFilter(stable_only=True), False),
        (SubscriptionFilter(fixes_only=True), False),
        (SubscriptionFilter(rfc=True), False),
        (SubscriptionFilter(rfc=False), True),
        (SubscriptionFilter(subsystems=["KVM: x86"], authors=["nobody"]), False),
        (SubscriptionFilter(subsystems=["KVM: x8*"]), True),  # a glob over the whole subsystem
        (SubscriptionFilter(subsystems=["kvm: ?86"]), True),
        (SubscriptionFilter(subsystems=["KVM: x8?"]), True),
        (SubscriptionFilter(subsystems=["KVM*arm*"]), False),
        (SubscriptionFilter(subsystems=["[KVM]: x86"]), False),  # brackets are literal, not a class
        (SubscriptionFilter(authors=["@google.com"]), True),
        (SubscriptionFilter(authors=["@google.co"]), False),  # the domain whole
        (SubscriptionFilter(authors=["@oogle.com"]), False),
        (SubscriptionFilter(title_words=["hash", "DYN"]), True),  # word prefixes, all of them
        (SubscriptionFilter(title_words=["hashed list"]), True),
        (SubscriptionFilter(title_words=["ashed"]), False),
        (SubscriptionFilter(title_words=["hashed", "pir"]), False),
    ],
)
def test_filter_criteria(flt: SubscriptionFilter, expected: bool) -> None:
    assert matches(flt, series()) is expected


def test_stable_fixes_and_kind_come_from_patches() -> None:
    s = series(
        total=1,
        cover=None,
        patches=(patch(None, "fix", fixes=(Fixes(sha="0123456789ab"),), stable=StableTag(tagged=True)),),
        missing=(),
    )
    assert series_kind(s) == "single"
    assert matches(SubscriptionFilter(stable_only=True, fixes_only=True, kinds=["single"]), s)


def test_paths_unknown_until_a_patch_arrives() -> None:
    cover_only = series(patches=(patch(0, "cover", files=()),))
    assert not matches(SubscriptionFilter(paths=["arch/x86/*"]), cover_only)


# Globs as subscribers write them, and paths as diffs name them (a directory,
# its files, a sibling whose name only starts alike, fnmatch's classes).
_GLOBS = ["arch/x86/kvm/*", "arch/x86/kvm", "arch/x86/kvm/", "arch/x86/kvm/*.c", "*/kvm/*", "*.h",
          "virt/kvm/kvm_main.c", "arch/?86/kvm", "arch/x86/kvm/[sv]mx/*", "arch/x86/kvm/[!v]*",
          "Documentation/virt/*", "a.b", "", "arch/x86/kvm/mmu", "tools/testing/selftests/kvm/**"]
_PATHS = ["arch/x86/kvm/x86.c", "arch/x86/kvm/mmu/mmu.c", "arch/x86/kvmfoo.c", "arch/x86/kvm",
          "arch/x86/kvm/vmx/vmx.c", "arch/x86/kvm/svm/svm.c", "arch/x86/include/asm/kvm_host.h",
          "virt/kvm/kvm_main.c", "arch/i86/kvm/x.c", "Documentation/virt/kvm/api.rst", "a.b", "axb",
          "arch/x86/kvm/mmu", "arch/x86/kvm/mmu.c", "tools/testing/selftests/kvm/x86/a.c", ""]


def _oracle(glob: str, path: str) -> bool:
    """What `paths` means, by the standard library: fnmatch, and a directory covers all below it."""
    base = glob.rstrip("/")
    return fnmatchcase(path, glob) or (not any(c in base for c in "*?[") and path.startswith(base + "/"))


@pytest.mark.parametrize("globs", [[g] for g in _GLOBS] + [_GLOBS[:3], ["*.h", "virt/kvm/kvm_main.c"], _GLOBS])
def test_paths_match_as_fnmatch_with_directories(globs: list[str]) -> None:
    flt = SubscriptionFilter(paths=globs)
    for path in _PATHS:
        one = series(patches=(patch(1, "p", files=(path,)),))
        assert matches(flt, one) == any(_oracle(g, path) for g in globs), (globs, path)


def _ev(kind: EventKind, **kw) -> Event:
    return Event(event_id=1, kind=kind, series_id=7, message_id="m@x", **kw)


def test_route_card_patch_and_alert_targets() -> None:
    subs = [
        Subscription(id=1, channel_id=100, alert_channel_id=200, alert_role_id=9),
        Subscription(id=2, channel_id=300, threads=False, filter=SubscriptionFilter(subsystems=["KVM: arm64"])),
        Subscription(id=3, channel_id=100, threads=True),
    ]
    s = series()
    added = route(_ev(EventKind.PATCH_ADDED, patch_index=2, data={"slot": 2}), s, subs)
    assert added == [Target(channel_id=100, subscription_id=1, card=True, threads=True, patch=True)]
    cover = route(_ev(EventKind.COVER_ADDED, data={"slot": 0}), s, subs)
    assert cover == [Target(channel_id=100, subscription_id=1, card=True, threads=True)]
    stable = route(_ev(EventKind.STABLE_REQUESTED), s, subs)
    assert [t.channel_id for t in stable] == [100, 200]
    assert stable[1].alert and stable[1].alert_role_id == 9 and not stable[1].card


def test_alert_channel_equal_to_card_channel_merges() -> None:
    subs = [Subscription(id=1, channel_id=100, alert_channel_id=100, alert_role_id=9)]
    (t,) = route(_ev(EventKind.STABLE_REQUESTED), series(), subs)
    assert t.card and t.alert and t.alert_role_id == 9


def test_duplicate_postings_go_nowhere() -> None:
    subs = [Subscription(id=1, channel_id=100)]
    assert route(_ev(EventKind.SERIES_CREATED), series(duplicate_of=6), subs) == []
