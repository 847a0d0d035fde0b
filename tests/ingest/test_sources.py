"""Mail sources: .eml, mbox, directories, public-inbox v2 git (whole or A..B)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.ingest.sources import RawMail, SourceError, is_mbox, iter_mbox, iter_path, iter_paths
from tests.helpers import compose

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}


def mail(n: int) -> bytes:
    return compose(f"From: a@x\nSubject: mail {n}\nMessage-ID: <m{n}@x>", "body\n")


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    return subprocess.run(
        ["git", f"--git-dir={repo}", *args], input=stdin, capture_output=True, check=True, env=ENV
    ).stdout.decode().strip()


def make_inbox(repo: Path, mails: list[bytes], delete_at: int | None = None) -> list[str]:
    """A public-inbox v2 epoch: one commit per mail, the mail in blob `m` (a `d` blob deletes)."""
    subprocess.run(["git", "init", "-q", "--bare", str(repo)], check=True, env=ENV)
    commits: list[str] = []
    parent: list[str] = []
    for i, raw in enumerate(mails):
        name = "d" if i == delete_at else "m"
        blob = git(repo, "hash-object", "-w", "--stdin", stdin=raw)
        tree = git(repo, "mktree", stdin=f"100644 blob {blob}\t{name}\n".encode())
        commit = git(repo, "commit-tree", tree, *parent, "-m", f"mail {i}")
        parent = ["-p", commit]
        commits.append(commit)
    git(repo, "update-ref", "refs/heads/master", commits[-1])
    return commits


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    top = tmp_path_factory.mktemp("inbox")
    (top / "git").mkdir()
    commits = make_inbox(top / "git" / "0.git", [mail(i) for i in range(6)], delete_at=3)
    return top, commits


def test_whole_epoch_in_commit_order(inbox: tuple[Path, list[str]]) -> None:
    top, commits = inbox
    got = list(iter_path(top / "git" / "0.git"))
    # commit 3 holds a deletion (`d`), not a mail: skipped
    assert [r.data for r in got] == [mail(i) for i in (0, 1, 2, 4, 5)]
    assert [r.ref for r in got] == [commits[i] for i in (0, 1, 2, 4, 5)]
    assert all(r.commit == r.ref for r in got)


def test_top_directory_and_range(inbox: tuple[Path, list[str]]) -> None:
    top, commits = inbox
    assert [r.ref for r in iter_path(top)] == [commits[i] for i in (0, 1, 2, 4, 5)]
    # A..B excludes A, includes B, as git does
    ranged = list(iter_path(top, f"{commits[0]}..{commits[2]}"))
    assert [r.data for r in ranged] == [mail(1), mail(2)]
    tail = list(iter_path(top / "git" / "0.git", f"{commits[4]}.."))
    assert [r.data for r in tail] == [mail(5)]


@pytest.mark.parametrize("bad", ["nonsense", "a..b", "HEAD...HEAD~1", "deadbeef..HEAD"])
def test_bad_range_is_refused_before_reading(inbox: tuple[Path, list[str]], bad: str) -> None:
    top, _ = inbox
    with pytest.raises(SourceError, match="bad range"):
        iter_path(top / "git" / "0.git", bad)


def _git_children() -> list[int]:
    """Our child processes that are git (Linux /proc), zombies included."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            comm = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if fields[1] == me and comm.startswith("git"):
            found.append(int(stat.parent.name))
    return found


def test_early_close_stops_git(inbox: tuple[Path, list[str]]) -> None:
    top, commits = inbox
    it = iter_path(top)
    first = next(it)
    assert first.ref == commits[0]
    if Path("/proc/self/stat").exists():
        assert len(_git_children()) == 2  # exactly one rev-list and one cat-file
    it.close()  # must not hang, and must reap both git processes
    if Path("/proc/self/stat").exists():
        assert _git_children() == []
    assert list(iter_path(top))[-1].ref == commits[5]


def test_early_close_while_the_reader_waits_on_a_full_queue(
    inbox: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from bot.ingest import publicinbox

    # one mail a list, one list ahead: the reader blocks with mails left to read
    monkeypatch.setattr(publicinbox, "_CHUNK", 1)
    monkeypatch.setattr(publicinbox, "_AHEAD", 1)
    top, commits = inbox
    it = iter_path(top)
    assert next(it).ref == commits[0]
    it.close()  # must not hang
    assert not [t for t in threading.enumerate() if t.name.startswith("publicinbox-")]
    if Path("/proc/self/stat").exists():
        assert _git_children() == []
    assert [r.ref for r in iter_path(top)] == [commits[i] for i in (0, 1, 2, 4, 5)]


MBOX = b"""From mboxrd@z Thu Jan  1 00:00:00 1970
From: a@x
Subject: one
Message-ID: <1@x>

first body
>From the quoted line
>>From doubly quoted

From b@x Mon Sep 17 00:00:00 2001
From: b@x
Subject: two
Message-ID: <2@x>

From a quick look this is not a separator (no date, no header after it).
second body

From C
From: c@x
Subject: three

third
"""


def test_mbox_split_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "list.mbox"
    path.write_bytes(MBOX)
    assert is_mbox(path)
    got = list(iter_mbox(path))
    assert len(got) == 3
    assert got[0].data.endswith(b"first body\nFrom the quoted line\n>From doubly quoted\n")
    assert b"From a quick look this is not a separator" in got[1].data
    assert got[2].data.startswith(b"From: c@x\n")
    offsets = [int(r.ref.rsplit(":", 1)[1]) for r in got]
    assert [MBOX[o : o + 5] for o in offsets] == [b"From "] * 3
    assert all(r.origin == str(path) and r.commit is None for r in got)


def test_eml_directories_and_errors(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.eml").write_bytes(mail(1))
    (tmp_path / "b" / "c.mbox").write_bytes(b"From x Mon Jan  1 00:00:00 2024\n" + mail(2) + b"\nFrom x Mon Jan  1 00:00:00 2024\n" + mail(3))
    (tmp_path / ".hidden").write_bytes(mail(9))
    got = list(iter_path(tmp_path))
    assert [r.data for r in got] == [mail(1), mail(2), mail(3)]
    assert got[0] == RawMail(data=mail(1), ref=str(tmp_path / "a.eml"), origin=str(tmp_path / "a.eml"))
    with pytest.raises(SourceError, match="no such file"):
        iter_paths([tmp_path / "a.eml", tmp_path / "missing"])
    with pytest.raises(SourceError, match="--range"):
        iter_path(tmp_path / "a.eml", "a..b")


@pytest.mark.corpus
def test_real_archive_streams(kvmarm_git: Path) -> None:
    n = 0
    last = None
    for raw in iter_path(kvmarm_git):
        n += 1
        last = raw
    assert n == 21367
    assert last is not None and last.commit is not None and last.data.startswith(b"Return-Path:")


def test_directory_skips_files_that_are_not_mail(seed_dir: Path) -> None:
    """The seed folder holds INDEX.tsv and digest.txt beside its 18 mails."""
    got = list(iter_path(seed_dir))
    names = [Path(r.ref).name for r in got]
    assert len(got) == 18
    assert names == sorted(p.name for p in seed_dir.glob("*.eml"))
    assert "INDEX.tsv" not in names and "digest.txt" not in names


def test_directory_takes_mail_without_a_suffix(tmp_path: Path) -> None:
    (tmp_path / "0001").write_bytes(mail(1))
    (tmp_path / "notes.txt").write_bytes(b"a note, not a mail\n")
    assert [r.data for r in iter_path(tmp_path)] == [mail(1)]
