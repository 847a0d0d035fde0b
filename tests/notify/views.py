"""Small SeriesView builders for the pure notify tests."""

from __future__ import annotations

from bot.mail.models import Diffstat, DiffstatEntry, Fixes, Person, StableTag
from bot.series.models import PatchView, SeriesView

SEAN = Person(name="Sean Christopherson", email="seanjc@google.com")


def patch(i: int | None, title: str, *, files: tuple[str, ...] = ("arch/x86/kvm/mmu/mmu.c",), **kw) -> PatchView:
    per = tuple(DiffstatEntry(path=f, insertions=10 * (n + 1), deletions=n) for n, f in enumerate(files))
    stat = Diffstat(files=len(per), insertions=sum(e.insertions for e in per), deletions=sum(e.deletions for e in per), per_file=per)
    kw.setdefault("author", SEAN)
    return PatchView(
        index=i,
        message_id=f"p{i}@example.com",
        title=title,
        subject=f"[PATCH {i}/3] KVM: x86/mmu: {title}" if i else f"[PATCH] KVM: x86/mmu: {title}",
        files=files,
        diffstat=stat,
        **kw,
    )


def series(**kw) -> SeriesView:
    base = dict(
        series_id=7,
        lineage_id=3,
        title="Dynamically allocate hashed page list",
        subject="[PATCH v3 0/3] KVM: x86: Dynamically allocate hashed page list",
        subsystem="KVM: x86",
        version=3,
        total=3,
        author=SEAN,
        list_id="kvm.vger.kernel.org",
        cover="cover@example.com",
        patches=(
            patch(0, "cover", files=()),
            patch(1, "one"),
            patch(2, "two", files=("arch/x86/kvm/vmx/vmx.c", "arch/x86/kvm/svm/svm.c")),
        ),
        missing=(3,),
    )
    base.update(kw)
    return SeriesView(**base)


__all__ = ["Fixes", "StableTag", "patch", "series", "SEAN"]
