"""`kvm-patchbot series` and `kvm-patchbot reparse` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from bot.cli import main


def test_series_jsonl_on_the_seed_mails(seed_dir: Path, capsys):
    assert main(["series", "--jsonl", str(seed_dir)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 7  # two series and five single patches
    pir = next(r for r in rows if r["title"] == "x86/irq: KVM: Optimize KVM's PIR harvesting")
    assert (pir["total"], pir["complete"], pir["missing"], pir["version"], pir["rfc"]) == (8, True, [], 1, False)
    assert pir["cover"] == "20250315030630.2371712-1-seanjc@google.com"
    assert pir["lore_url"] == "https://lore.kernel.org/r/20250315030630.2371712-1-seanjc@google.com"
    assert [p["index"] for p in pir["patches"]] == list(range(9))
    assert pir["author"] == {"name": "Sean Christopherson", "email": "seanjc@google.com"}
    for key in ("series_id", "lineage_id", "version_label", "resend", "supersedes", "superseded_by",
                "fixes", "stable", "applied", "first_seen", "last_seen"):
        assert key in pir
    patch = pir["patches"][1]
    for key in ("message_id", "title", "reviewed_by", "acked_by", "tested_by", "fixes", "stable", "applied"):
        assert key in patch
    singles = [r for r in rows if r["cover"] is None]
    assert len(singles) == 5 and all(r["total"] == 1 and r["complete"] for r in singles)


def test_series_text_and_reparse_on_a_db(seed_dir: Path, tmp_path: Path, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}"
    assert main(["series", "--db", url, str(seed_dir / "02-hashed-page-list-0of3-cover.eml")]) == 0
    out = capsys.readouterr().out
    assert "KVM: x86: Dynamically allocate hashed page list" in out and "0/3 missing 1,2,3" in out
    assert main(["series", "--db", url, *map(str, sorted(seed_dir.glob("0[345]-*.eml")))]) == 0
    assert "3/3 complete" in capsys.readouterr().out
    assert main(["reparse", "--db", url]) == 0
    assert "reparsed 4 mails" in capsys.readouterr().out and main(["series", "--db", url]) == 0
    assert "3/3 complete" in capsys.readouterr().out


def test_series_missing_path_is_a_clear_error(tmp_path: Path, capsys):
    assert main(["series", str(tmp_path / "nope.mbox")]) == 2
    assert "nope.mbox" in capsys.readouterr().err
