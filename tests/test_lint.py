"""ruff's lint rules ([tool.ruff] in pyproject.toml) hold over bot/, bench/ and tests/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_ruff_check_is_clean() -> None:
    done = _ruff("check", "--no-cache", "bot", "bench", "tests")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_configured_rules_catch_real_faults() -> None:
    """The project's rule set is the one in force: a file with an unused import,
    a dangling task and a blocking open in a coroutine fails it, rule by rule."""
    bad = (
        "import os\n"
        "import asyncio\n\n\n"
        "async def main() -> None:\n"
        "    asyncio.create_task(asyncio.sleep(1))\n"
        "    with open('x') as fh:\n"
        "        fh.read()\n"
    )
    done = _ruff("check", "--no-cache", "--output-format", "concise", "--stdin-filename", "bot/probe.py", "-",
                 stdin=bad)
    assert done.returncode == 1, done.stdout + done.stderr
    for rule in ("F401", "RUF006", "ASYNC230"):
        assert rule in done.stdout, (rule, done.stdout)
