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


def test_unparsed_lists_what_was_kept_and_gives_its_bytes_back(seed_dir: Path, tmp_path: Path, capfdbinary):
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"\x00\x01 not a mail at all \xff\xfe\n")
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    assert main(["ingest", "--db", url, str(seed_dir / "01-tdp-mmu-prove-mmu.eml"), str(junk)]) == 0
    assert "`kvm-patchbot unparsed` lists them" in capfdbinary.readouterr().err.decode()

    assert main(["unparsed", "--db", url]) == 0
    got = capfdbinary.readouterr()
    out, err = got.out.decode(), got.err.decode()
    (line,) = out.splitlines()
    assert line.startswith("#2 <") and f"@kvm-patchbot.invalid> 24 bytes from backfill:eml:{junk} at " in line
    assert line.endswith(" UTC: no mail header block found")
    assert "1 mail kept but not understood" in err

    assert main(["unparsed", "--db", url, "--jsonl"]) == 0
    (row,) = [json.loads(x) for x in capfdbinary.readouterr().out.decode().splitlines()]
    assert row["size"] == 24 and row["errors"] == ["no mail header block found"] and row["seq"] == 2

    assert main(["unparsed", "--db", url, "--raw", f"<{row['message_id']}>"]) == 0
    assert capfdbinary.readouterr().out == junk.read_bytes()
    assert main(["unparsed", "--db", url, "--raw", "nope@x"]) == 1
    assert "no mail <nope@x>" in capfdbinary.readouterr().err.decode()
