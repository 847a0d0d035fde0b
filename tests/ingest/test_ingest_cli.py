"""`kvm-patchbot ingest` in-process against real SQLite files and git archives."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.ingest.gitimport import cursor_name

from .inbox import add_commit, new_epoch

SUMMARY = re.compile(
    r"(\d+) mails, (\d+) new, (\d+) duplicates, (\d+) unparseable, (\d+) series, [\d.]+ s, [\d,]+ mails/s"
)


def ingest(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, tuple[int, ...], str]:
    """(exit code, the summary's five counts or (), stderr)."""
    code = main(["ingest", "--db", f"sqlite+aiosqlite:///{db}", *args])
    err = capsys.readouterr().err
    found = SUMMARY.findall(err)
    return code, tuple(int(x) for x in found[-1]) if found else (), err


def cursors(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as con:
        return dict(con.execute("SELECT name, value FROM cursors"))


def test_eml_and_mbox_then_duplicates(capsys: pytest.CaptureFixture[str], tmp_path: Path, seed_dir: Path) -> None:
    db = tmp_path / "s.db"
    emls = [str(p) for p in sorted(seed_dir.glob("*.eml"))]
    mbox = tmp_path / "two.mbox"
    mbox.write_bytes(
        b"".join(b"From seanjc@google.com Fri Mar 14 19:40:07 2025\n" + p.read_bytes() + b"\n"
                 for p in sorted(seed_dir.glob("0[23]-*.eml")))
    )
    code, counts, _ = ingest(capsys, db, *emls[:5])
    assert code == 0 and counts == (5, 5, 0, 0, 2)  # one single patch + the 3-patch series
    code, counts, _ = ingest(capsys, db, str(mbox), *emls)
    assert code == 0 and counts == (20, 13, 7, 0, 5)


def test_git_incremental_imports_only_new_commits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, seed_dir: Path
) -> None:
    db = tmp_path / "g.db"
    seeds = [p.read_bytes() for p in sorted(seed_dir.glob("*.eml"))]
    repo = new_epoch(tmp_path / "0.git")
    for raw in seeds[:4]:
        add_commit(repo, raw)
    code, counts, err = ingest(capsys, db, str(repo), "--incremental")
    assert code == 0 and counts[:3] == (4, 4, 0)
    assert "4/4" in err  # the bar knew its total from git rev-list --count
    tip = [add_commit(repo, raw) for raw in seeds[4:9]][-1]
    code, counts, _ = ingest(capsys, db, str(repo), "--incremental")
    assert code == 0 and counts[:3] == (5, 5, 0)
    assert cursors(db) == {cursor_name(repo): tip}
    code, counts, _ = ingest(capsys, db, str(repo), "--incremental")
    assert code == 0 and counts[:3] == (0, 0, 0)


def test_git_range(capsys: pytest.CaptureFixture[str], tmp_path: Path, seed_dir: Path) -> None:
    db = tmp_path / "r.db"
    repo = new_epoch(tmp_path / "0.git")
    commits = [add_commit(repo, p.read_bytes()) for p in sorted(seed_dir.glob("*.eml"))[:6]]
    code, counts, _ = ingest(capsys, db, str(repo), "--range", f"{commits[1]}..{commits[4]}")
    assert code == 0 and counts[:3] == (3, 3, 0)
    with sqlite3.connect(db) as con:
        refs = [r[0] for r in con.execute("SELECT source_ref FROM mails ORDER BY seq")]
    assert refs == commits[2:5]
    assert cursors(db) == {}  # an explicit range leaves the incremental cursor alone


@pytest.mark.corpus
def test_kvmarm_range_counts(capsys: pytest.CaptureFixture[str], tmp_path: Path, kvmarm_git: Path) -> None:
    commits = subprocess.run(
        ["git", f"--git-dir={kvmarm_git}", "rev-list", "--reverse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.split()
    code, counts, err = ingest(capsys, tmp_path / "k.db", str(kvmarm_git), "--range", f"{commits[200]}..{commits[500]}")
    assert code == 0, err
    assert counts[0] == 300 and counts[1] + counts[2] == 300 and counts[3] == 0
    assert "300/300" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/such/file.eml"], "no such file or directory"),
        (["{mbox}", "--incremental"], "--incremental needs a public-inbox git archive"),
        (["{mbox}", "--range", "A..B"], "--range needs a public-inbox git archive"),
        (["{repo}", "--range", "nope..HEAD"], "is not a commit"),
    ],
)
def test_bad_input_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, seed_dir: Path, args: list[str], message: str
) -> None:
    mbox = tmp_path / "a.mbox"
    mbox.write_bytes(b"From x Fri Mar 14 19:40:07 2025\n" + (seed_dir / "01-tdp-mmu-prove-mmu.eml").read_bytes())
    repo = new_epoch(tmp_path / "0.git")
    add_commit(repo, mbox.read_bytes())
    args = [a.format(mbox=mbox, repo=repo) for a in args]
    code, _, err = ingest(capsys, tmp_path / "e.db", *args)
    assert code == 2 and message in err
    assert not (tmp_path / "e.db").exists()  # refused before the store was touched


def test_database_down_is_a_clear_error(capsys: pytest.CaptureFixture[str], seed_dir: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["ingest", "--db", f"postgresql+asyncpg://bot@127.0.0.1:{port}/kvm", str(seed_dir / "01-tdp-mmu-prove-mmu.eml")])
    err = capsys.readouterr().err
    assert code == 1 and "kvm-patchbot ingest:" in err and "Traceback" not in err
