"""Build a public-inbox v2 epoch from raw mails with git plumbing (for tests).

One commit per mail, the mail in blob `m` of a one-entry tree, each commit
the child of the previous one, as public-inbox writes them. Author, committer
and dates are fixed so the commit ids are the same on every run.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

FIXED_DATE = "1742007600 +0000"  # 2025-03-15 03:00 UTC, around the seed mails


def _git(repo: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(repo), *args],
        input=stdin,
        capture_output=True,
        check=True,
        env=env,
    )
    return done.stdout.decode().strip()


def build_inbox(repo: Path, mails: Sequence[bytes]) -> list[str]:
    """Create the bare repository `repo`; returns the commit ids, oldest first."""
    subprocess.run(["git", "init", "--quiet", "--bare", str(repo)], check=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "inbox",
        "GIT_AUTHOR_EMAIL": "inbox@example.invalid",
        "GIT_COMMITTER_NAME": "inbox",
        "GIT_COMMITTER_EMAIL": "inbox@example.invalid",
        "GIT_AUTHOR_DATE": FIXED_DATE,
        "GIT_COMMITTER_DATE": FIXED_DATE,
    }
    commits: list[str] = []
    for raw in mails:
        blob = _git(repo, "hash-object", "-w", "--stdin", stdin=raw)
        tree = _git(repo, "mktree", stdin=f"100644 blob {blob}\tm\n".encode())
        parent = ["-p", commits[-1]] if commits else []
        commits.append(_git(repo, "commit-tree", tree, *parent, "-m", "mail", env=env))
    if commits:
        _git(repo, "update-ref", "refs/heads/master", commits[-1])
    return commits
