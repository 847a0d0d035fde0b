"""Golden tests: the 18 seed mails give the old tool's digest, byte for byte,
except the two documented improvements, asserted explicitly below.

(a) from a public-inbox v2 epoch built here (one commit per mail, arrival
order), the range `BASE..TIP` covering all 18: BASE is the commit before the
window, as `git log BASE..TIP` reads; (b) from the .eml files.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.cli import main
from bot.digest.patchlist import LEGEND

from .inbox import build_inbox

SEED_IDS = ("dc22a1ba", "5f0831e1")
# Improvement 1: the old tool cut subjects at the header fold.
FULL_SUBJECTS = {
    "KVM: x86: Add a module param to control and enumerate device": "posted IRQs",
    "KVM: Allow building irqbypass.ko as as module when kvm.ko is": "a module",
    "KVM: nVMX: Check MSR load/store list counts during VM-Enter": "consistency checks",
    "KVM: x86/mmu: Dynamically allocate shadow MMU's hashed": "page list",
    "KVM: x86/mmu: Wrap sanity check on number of TDP MMU pages": "with KVM_PROVE_MMU",
}
# Improvement 2: the patch list, filled.
PATCH_LIST = [
    LEGEND,
    "",
    "   [PATCH] KVM: x86/mmu: Wrap sanity check on number of TDP MMU pages with KVM_PROVE_MMU",
    "",
    "   [PATCH 0/3] KVM: x86: Dynamically allocate hashed page list",
    "   [PATCH 1/3] KVM: x86/mmu: Dynamically allocate shadow MMU's hashed page list",
    "   [PATCH 2/3] KVM: x86: Allocate kvm_vmx/kvm_svm structures using kzalloc()",
    "   [PATCH 3/3] KVM: x86/mmu: Defer allocation of shadow MMU's hashed page list",
    "",
    "   [PATCH] KVM: x86: Explicitly zero-initialize on-stack CPUID unions",
    "",
    "   [PATCH] KVM: nVMX: Check MSR load/store list counts during VM-Enter consistency checks",
    "",
    "FS [PATCH] KVM: Allow building irqbypass.ko as as module when kvm.ko is a module",
    "",
    "   [PATCH] KVM: x86: Add a module param to control and enumerate device posted IRQs",
    "",
    "   [PATCH 0/8] x86/irq: KVM: Optimize KVM's PIR harvesting",
    "F  [PATCH 1/8] x86/irq: Ensure initial PIR loads are performed exactly once",
    "   [PATCH 2/8] x86/irq: Track if IRQ was found in PIR during initial loop (to load PIR vals)",
    "   [PATCH 3/8] KVM: VMX: Ensure vIRR isn't reloaded at odd times when sync'ing PIR",
    "   [PATCH 4/8] x86/irq: KVM: Track PIR bitmap as an \"unsigned long\" array",
    "   [PATCH 5/8] KVM: VMX: Process PIR using 64-bit accesses on 64-bit kernels",
    "   [PATCH 6/8] KVM: VMX: Isolate pure loads from atomic XCHG when processing PIR",
    "   [PATCH 7/8] KVM: VMX: Use arch_xchg() when processing PIR to avoid instrumentation",
    "   [PATCH 8/8] x86/irq: KVM: Add helper for harvesting PIR to deduplicate KVM and posted MSIs",
]
# A list mail before the window: the range's excluded base commit.
BASE_MAIL = (
    b"From: Archive <archive@example.invalid>\n"
    b"Message-ID: <window-base@example.invalid>\n"
    b"Date: Fri, 14 Mar 2025 19:00:00 -0700\n"
    b"Subject: the mail before the window\n"
    b"\n"
    b"Not part of the digest.\n"
)


def seed_files(seed_dir: Path) -> list[Path]:
    with (seed_dir / "INDEX.tsv").open(newline="") as fh:
        rows = sorted(csv.DictReader(fh, delimiter="\t"), key=lambda r: int(r["arrival"]))
    return [seed_dir / row["file"] for row in rows]


def improved_seed(seed_dir: Path, start: str, end: str) -> str:
    """The old digest with our header labels and the two improvements applied."""
    old = (seed_dir / "digest.txt").read_text()
    assert old.startswith(f"From {SEED_IDS[0]} to {SEED_IDS[1]}\n")
    lines = old.replace(SEED_IDS[0], start).replace(SEED_IDS[1], end).split("\n")
    cut = 0
    for i, line in enumerate(lines):
        for prefix in ("New:  ", "[PATCH] ", "[PATCH 1/3] "):
            title = line.removeprefix(prefix)
            if line.startswith(prefix) and title in FULL_SUBJECTS:
                lines[i] = f"{line} {FULL_SUBJECTS[title]}"
                cut += 1
    assert cut == 2 * len(FULL_SUBJECTS)
    at = lines.index("===== Patch list in this time period =====") + 2
    assert lines[at] == "" and lines[at + 1] == "===== Patch Commit Messages ===="
    lines[at:at] = PATCH_LIST
    return "\n".join(lines)


def digest(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["digest", *argv]) == 0
    return capsys.readouterr().out


def test_public_inbox_range_gives_the_seed_digest(
    seed_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mails = [BASE_MAIL] + [p.read_bytes() for p in seed_files(seed_dir)]
    commits = build_inbox(tmp_path / "0.git", mails)
    base, tip = commits[0], commits[-1]
    out = digest(capsys, "--inbox", str(tmp_path / "0.git"), "--range", f"{base}..{tip}")
    assert out == improved_seed(seed_dir, base[:8], tip[:8])
    # A shorter range: the last 9 commits are the PIR series alone.
    out = digest(capsys, "--inbox", str(tmp_path / "0.git"), "--range", f"{commits[9]}..{tip}")
    assert "      9 google.com\n" in out
    assert out.count("\nNew:  ") == 2


def test_plain_files_give_the_seed_digest(
    seed_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = seed_files(seed_dir)
    out = digest(capsys, *map(str, files))
    span = ("2025-03-15 02:34 UTC", "2025-03-15 03:06 UTC")  # first and last Date
    assert out == improved_seed(seed_dir, *span)
    # A directory of them: read in file-name order, which is the arrival order.
    for path in files:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    assert digest(capsys, str(tmp_path)) == out


def test_improvements_are_what_the_seed_lacked(seed_dir: Path) -> None:
    old = (seed_dir / "digest.txt").read_text()
    assert "enumerate device posted IRQs" not in old
    assert "===== Patch list in this time period =====\n\n\n=====" in old
