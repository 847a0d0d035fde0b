from __future__ import annotations

import pytest

from bot.cli import main


def test_demo_previews_the_seed_mails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(
        "kvm-patchbot demo: 18 mails sent over SMTP, 7 cards, 11 thread messages (preview: temporary)"
    )
    assert out.count("  # thread: ") == 2  # the two series; single patches get none
    # The cards as they ended up: the 8-patch series complete, its patches in its thread.
    assert "[PATCH 0/8] x86/irq: KVM: Optimize KVM's PIR harvesting" in out
    assert "  Received: 8/8" in out and "  Received: 3/3" in out
    assert "  Apply: `b4 am 20250315030630.2371712-1-seanjc@google.com`" in out
    assert "      -- kvm-patchbot · series 7 · 8/8" in out
