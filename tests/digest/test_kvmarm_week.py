"""A week of the real kvmarm archive: the digest's figures against an
independent stdlib `email` reading of the same commits (tests/digest/reference.py)."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from bot.cli import main
from bot.digest.patchlist import LEGEND

from .reference import read_window

pytestmark = pytest.mark.corpus

WEEK = ("2022-11-07T00:00:00Z", "2022-11-14T00:00:00Z")  # by commit (archiving) date
_CONTRIBUTOR = re.compile(r"^ *(\d+)  .*<([^<>]+)>$")
_DOMAIN = re.compile(r"^ *(\d+) (\S+)$")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={repo}", *args], capture_output=True, text=True, check=True
    ).stdout


def blobs(repo: Path, commits: list[str]) -> list[bytes]:
    request = "".join(f"{c}:m\n" for c in commits).encode()
    out = subprocess.run(
        ["git", f"--git-dir={repo}", "cat-file", "--batch"],
        input=request, capture_output=True, check=True,
    ).stdout
    raws, at = [], 0
    for _ in commits:
        end = out.index(b"\n", at)
        size = int(out[at:end].split()[2])
        raws.append(out[end + 1 : end + 1 + size])
        at = end + 2 + size
    return raws


def section(text: str, head: str, tail: str) -> list[str]:
    return text.split(head + "\n", 1)[1].split(tail, 1)[0].strip("\n").split("\n")


def test_week_of_kvmarm(kvmarm_git: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = git(kvmarm_git, "log", "--reverse", "--format=%H %P", f"--since={WEEK[0]}", f"--until={WEEK[1]}")
    week = [line.split() for line in log.splitlines()]
    base, tip = week[0][1], week[-1][0]
    commits = git(kvmarm_git, "rev-list", "--reverse", f"{base}..{tip}").split()
    assert len(commits) > 150  # a busy week: 223 mails
    ref = read_window(blobs(kvmarm_git, commits))

    assert main(["digest", "--inbox", str(kvmarm_git), "--range", f"{base}..{tip}"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"From {base[:8]} to {tip[:8]}\n")

    domains = section(text, "Top 15 contributor Email domains (Based on Email Body)", "\n\nTop 15")
    expected = sorted(ref.domains.items(), key=lambda kv: (-kv[1], kv[0]))[:15]
    assert [_DOMAIN.match(line).groups() for line in domains] == [(str(n), d) for d, n in expected]

    people = section(text, "Top 15 contributors (Based on Email Body)", "\n\n=====")
    shown = [(int(n), addr.lower()) for n, addr in (_CONTRIBUTOR.match(line).groups() for line in people)]
    assert [n for n, _ in shown] == sorted(ref.senders.values(), reverse=True)[:15]
    assert all(ref.senders[addr] == n for n, addr in shown)

    assert text.count("\nNew:  ") == ref.new_entries
    listed = section(text, "===== Patch list in this time period =====", "\n\n===== Patch Commit")
    assert listed[0] == LEGEND
    subjects = [line[3:] for line in listed[1:] if line]
    assert Counter(subjects) == Counter(ref.patch_subjects)
    assert len(subjects) == len(ref.patch_subjects) > 50
