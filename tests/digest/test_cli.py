"""`kvm-patchbot digest` on a real SQLite store by date, and its clear errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import Store

from .inbox import build_inbox
from .test_seed_golden import seed_files


async def test_db_window_by_date(seed_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/kvm.db"
    async with await Store.open(url) as store:
        for path in seed_files(seed_dir):
            await store.ingest(path.read_bytes(), source="file", source_ref=str(path))
    # Dated 02:40:07 (0/3) to 02:56:15 (device posted IRQs): 8 mails.
    argv = ["digest", "--db", url, "--since", "2025-03-15T02:40", "--until", "2025-03-15T03:00"]
    assert await _main_in_thread(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "From 2025-03-15 02:40 UTC to 2025-03-15 03:00 UTC\n"
        "KVM mailing list update from 2025-03-15 02:40 UTC to 2025-03-15 03:00 UTC\n\n"
        "Top 15 contributor Email domains (Based on Email Body)\n\n      8 google.com\n"
    )
    titles = [line for line in out.split("\n") if line.startswith("New:  ")]
    assert titles == [
        "New:  KVM: x86: Add a module param to control and enumerate device posted IRQs",
        "New:  KVM: Allow building irqbypass.ko as as module when kvm.ko is a module",
        "New:  KVM: nVMX: Check MSR load/store list counts during VM-Enter consistency checks",
        "New:  KVM: x86: Explicitly zero-initialize on-stack CPUID unions",
        "New:  KVM: x86/mmu: Dynamically allocate shadow MMU's hashed page list",
        "New:  KVM: x86: Dynamically allocate hashed page list",
    ]


async def _main_in_thread(argv: list[str]) -> int:
    # The command runs its own event loop; keep it off the test's loop.
    return await asyncio.to_thread(main, argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--range", "a..b"], "--range needs --inbox"),
        (["--since", "2025-03-15"], "give PATHs, --inbox with --range, or --since and --until"),
        (["/nonexistent/mail.eml"], "no such file or directory: /nonexistent/mail.eml"),
        (["--since", "2025-03-16", "--until", "2025-03-15"], "--since must be before --until"),
        (["--inbox", "/tmp"], "--inbox needs --range A..B"),
    ],
)
def test_bad_arguments_fail_clearly(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"kvm-patchbot digest: {message}\n"


def test_bad_range_names_the_missing_commit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commits = build_inbox(tmp_path / "0.git", [b"Subject: x\n\nx\n"])
    argv = ["digest", "--inbox", str(tmp_path / "0.git"), "--range", f"{'0' * 40}..{commits[0]}"]
    assert main(argv) == 2
    assert "is not a commit in" in capsys.readouterr().err
