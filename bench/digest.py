"""Digest benchmark: `kvm-patchbot digest --inbox ... --range A..B` end to end
(temporary SQLite store, ingest, read back, group, render) on windows of the
kvmarm public-inbox archive chosen by commit date.

Usage: python bench/digest.py [--archive BUNDLE_OR_GITDIR] [--window SINCE UNTIL ...]
Defaults: the archive ../shared/corpus/kvmarm-epoch0.bundle (cloned to a
temporary directory) and a week, a month, a year and the whole epoch. Each
window runs in its own process so its peak RSS is its own. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT.parent / "shared" / "corpus" / "kvmarm-epoch0.bundle"
WINDOWS = [
    ("2022-11-07", "2022-11-14"),
    ("2022-10-01", "2022-11-01"),
    ("2022-01-01", "2023-01-01"),
    ("2019-01-01", "2023-02-01"),
]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={repo}", *args], capture_output=True, text=True, check=True
    ).stdout


def _range(repo: Path, since: str, until: str) -> tuple[str, int]:
    """`A..B` over the commits archived in [since, until); A is the one before."""
    log = _git(repo, "log", "--reverse", "--format=%H %P", f"--since={since}", f"--until={until}")
    rows = [line.split() for line in log.splitlines()]
    base = rows[0][1] if len(rows[0]) > 1 else rows[0][0]  # the root has no parent
    rev = f"{base}..{rows[-1][0]}"
    return rev, int(_git(repo, "rev-list", "--count", rev))


def _one(repo: Path, rev: str) -> dict[str, float]:
    from bot.cli import main

    out = io.StringIO()
    start = time.perf_counter()
    with redirect_stdout(out):
        rc = main(["digest", "--inbox", str(repo), "--range", rev])
    seconds = time.perf_counter() - start
    return {
        "rc": rc,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "lines": out.getvalue().count("\n"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--archive", type=Path, default=BUNDLE)
    ap.add_argument("--window", nargs=2, action="append", metavar=("SINCE", "UNTIL"))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_one(Path(args.child[0]), args.child[1])))
        return
    with tempfile.TemporaryDirectory() as tmp:
        repo = args.archive
        if not (repo / "HEAD").exists():
            repo = Path(tmp) / "0.git"
            subprocess.run(["git", "clone", "-q", "--bare", str(args.archive), str(repo)], check=True)
        for since, until in args.window or WINDOWS:
            rev, mails = _range(repo, since, until)
            child = subprocess.run(
                [sys.executable, __file__, "--child", str(repo), rev],
                capture_output=True, text=True, check=True,
            )
            got = json.loads(child.stdout.strip().splitlines()[-1])
            rate = mails / got["seconds"] if got["seconds"] else 0.0
            print(
                f"{since}..{until}: {mails:6d} mails  {got['seconds']:7.2f} s  "
                f"{rate:6.0f} mails/s  peak {got['peak_rss_mb']} MB  {got['lines']} lines  rc={got['rc']}"
            )


if __name__ == "__main__":
    main()
