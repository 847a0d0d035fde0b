"""bot/ and bench/ type-check clean with mypy (in the test extra), so a type
slip fails CI.

mypyc already checks bot/mail and bot/series when it compiles them; this
covers the rest (store, ingest, notify, discord, cli) and the benchmarks,
where errors had crept in unseen. About 7 s with a fresh cache.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_nothing_in_bot_and_bench(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "bot", "bench"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("Success: no issues found")
