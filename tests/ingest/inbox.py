"""Build small public-inbox v2 epochs in tmp: one commit per mail, the mail in blob `m`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "inbox",
    "GIT_AUTHOR_EMAIL": "inbox@example.org",
    "GIT_COMMITTER_NAME": "inbox",
    "GIT_COMMITTER_EMAIL": "inbox@example.org",
}


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    out = subprocess.run(
        ["git", f"--git-dir={repo}", *args], input=stdin, capture_output=True, check=True, env=_ENV
    )
    return out.stdout.decode().strip()


def new_epoch(repo: Path) -> Path:
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "master", str(repo)], check=True)
    return repo


def add_commit(repo: Path, mail: bytes | None) -> str:
    """Commit `mail` as blob `m` on master (None: a deletion, a commit without `m`)."""
    if mail is None:
        tree = _git(repo, "mktree", stdin=b"")
    else:
        blob = _git(repo, "hash-object", "-w", "--stdin", stdin=mail)
        tree = _git(repo, "mktree", stdin=f"100644 blob {blob}\tm\n".encode())
    parent = _git(repo, "rev-parse", "--verify", "--quiet", "refs/heads/master") if _has_head(repo) else None
    args = ["commit-tree", tree, "-m", "mail"] + (["-p", parent] if parent else [])
    commit = _git(repo, *args)
    _git(repo, "update-ref", "refs/heads/master", commit)
    return commit


def _has_head(repo: Path) -> bool:
    return subprocess.run(
        ["git", f"--git-dir={repo}", "rev-parse", "--verify", "--quiet", "refs/heads/master"],
        capture_output=True,
    ).returncode == 0
