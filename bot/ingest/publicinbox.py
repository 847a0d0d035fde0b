"""Public-inbox v2 archives: every commit holds one mail in blob `m`.

A whole epoch (or a `A..B` range of it) is streamed with exactly two git
processes: one `git rev-list --reverse` and one `git cat-file --batch` fed
`<commit>:m` lines by a small thread, so no process is started per mail.
Another thread reads cat-file's output a bounded way ahead of the consumer
(about 1,000 mails), so git works while the consumer does and memory stays
flat.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from bot.ingest.record import RawMail, SourceError

_EPOCH = re.compile(r"(\d+)\.git")


def is_git_dir(path: Path) -> bool:
    """A bare repository (or a work tree's .git): has objects/ and HEAD."""
    return path.is_dir() and (path / "objects").is_dir() and (path / "HEAD").is_file()


def epochs(path: Path) -> list[Path] | None:
    """The epoch repositories of a public-inbox v2 top directory, oldest first."""
    gitdir = path / "git"
    if not gitdir.is_dir():
        return None
    found = []
    for child in gitdir.iterdir():
        m = _EPOCH.fullmatch(child.name)
        if m and is_git_dir(child):
            found.append((int(m.group(1)), child))
    return [p for _, p in sorted(found)] or None


def _git(gitdir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", f"--git-dir={gitdir}", *args], capture_output=True, check=False
    )


def check_range(gitdir: Path, rev_range: str) -> None:
    """Raise SourceError unless `rev_range` is `A..B` with both ends commits here."""
    if rev_range.count("..") != 1 or "..." in rev_range:
        raise SourceError(f"bad range {rev_range!r}: expected A..B")
    for end in rev_range.split(".."):
        if not end:
            continue
        if _git(gitdir, "rev-parse", "--verify", "--quiet", f"{end}^{{commit}}").returncode:
            raise SourceError(f"bad range {rev_range!r}: {end!r} is not a commit in {gitdir}")


def iter_git(gitdir: Path, rev_range: str | None = None) -> Iterator[RawMail]:
    """The mails of one epoch in commit order (oldest first), each with its commit id.

    `A..B` excludes A and includes B, as in git. Commits without an `m` blob
    (public-inbox deletions) are skipped. A bad range raises SourceError here,
    before anything is read.
    """
    if rev_range:
        check_range(gitdir, rev_range)
    return _stream(gitdir, rev_range)


# The reader thread runs this far ahead of the consumer (_AHEAD lists of
# _CHUNK mails): enough for a bulk import's next batch (1,000) to be read while
# it tracks one, ~10 MB of kvmarm mail at most (16 lists: the same rate, +10 MB).
_CHUNK = 128
_AHEAD = 8
# cat-file's pipe, enlarged (Linux) from 64 KB, and the buffers on our ends of
# its pipes: the reader (and feeder) thread takes the GIL back after each read
# (write), which a busy main thread can delay by the switch interval (5 ms),
# so each should move a lot. (A 1 MB read buffer with 8 KB writes measured
# ~200 mails/s slower.)
_PIPE_SIZE = 1 << 20
_END = None


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or above the system's limit: the default pipe works, slower


def _stream(gitdir: Path, rev_range: str | None) -> Iterator[RawMail]:
    rev = rev_range or "HEAD"
    if not rev_range and _git(gitdir, "rev-parse", "--verify", "--quiet", "HEAD").returncode:
        return  # an empty repository
    revlist = subprocess.Popen(
        ["git", f"--git-dir={gitdir}", "rev-list", "--reverse", rev, "--"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    catfile = subprocess.Popen(
        # A 16 MB delta-base cache, not git's 96 MB: reading an epoch oldest first
        # (each mail's delta base is a newer mail) it is as fast (kvmarm: 0.89 s
        # either way) and git's peak RSS falls from 150 to 84 MB.
        ["git", "-c", "core.deltaBaseCacheLimit=16m", f"--git-dir={gitdir}", "cat-file", "--batch", "--buffer"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        bufsize=_PIPE_SIZE,
    )
    assert revlist.stdout is not None and catfile.stdin is not None and catfile.stdout is not None
    _grow_pipe(catfile.stdout.fileno())
    pending: deque[str] = deque()
    origin = str(gitdir)
    # Lists of mails, then _END; or the reader's exception.
    ready: queue.Queue[list[RawMail] | BaseException | None] = queue.Queue(maxsize=_AHEAD)

    def feed() -> None:
        # Runs beside the reader so cat-file never waits on us and we never
        # wait on a full pipe: commit ids go to `pending` before the request.
        assert revlist.stdout is not None and catfile.stdin is not None
        try:
            for line in revlist.stdout:
                sha = line.strip().decode("ascii")
                if not sha:
                    continue
                pending.append(sha)
                catfile.stdin.write(f"{sha}:m\n".encode("ascii"))
            catfile.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass  # the reader stopped early and closed the pipe

    def read() -> None:
        # Reads cat-file's output ahead of the consumer, in its own thread, so
        # that git works while the consumer does (in the consumer's thread a
        # bulk import waited ~1.3 s of ~4 s on kvmarm for git to produce).
        assert catfile.stdout is not None
        out = catfile.stdout
        chunk: list[RawMail] = []
        try:
            while True:
                header = out.readline()
                if not header:
                    break
                sha = pending.popleft()
                parts = header.split()
                if len(parts) == 2 and parts[1] == b"missing":
                    continue
                if len(parts) != 3:
                    raise SourceError(f"unexpected git cat-file output: {header!r}")
                size = int(parts[2])
                data = out.read(size)
                out.read(1)  # the newline after each object
                chunk.append(RawMail(data=data, ref=sha, origin=origin))
                if len(chunk) == _CHUNK:
                    ready.put(chunk)
                    chunk = []
            if chunk:
                ready.put(chunk)
            ready.put(_END)
        except BaseException as exc:  # handed to the consumer; after an early close, dropped
            ready.put(exc)

    feeder = threading.Thread(target=feed, name="publicinbox-feed", daemon=True)
    reader = threading.Thread(target=read, name="publicinbox-read", daemon=True)
    feeder.start()
    reader.start()
    finished = False
    try:
        while (got := ready.get()) is not _END:
            if isinstance(got, BaseException):
                finished = True  # the reader has ended
                raise got
            yield from got
        finished = True
    finally:
        # Normal end: both have exited. Early close: stop them; the feeder
        # then sees a broken pipe, and the reader the end of its pipe.
        for proc in (revlist, catfile):
            if proc.poll() is None:
                proc.kill()
        while not finished:  # unblock the reader if it waits on a full queue
            got = ready.get()
            finished = got is _END or isinstance(got, BaseException)
        reader.join()
        catfile.stdout.close()
        feeder.join(timeout=10)
        for proc in (revlist, catfile):
            proc.wait()
        revlist.stdout.close()
        try:
            catfile.stdin.close()
        except OSError:
            pass


def iter_publicinbox(path: Path, rev_range: str | None = None) -> Iterator[RawMail]:
    """A bare epoch repository, or a v2 top directory with git/0.git, git/1.git, ...

    Arguments are checked at the call (SourceError), the mails read lazily.
    """
    if is_git_dir(path):
        return iter_git(path, rev_range)
    repos = epochs(path)
    if not repos:
        raise SourceError(f"{path} is not a public-inbox v2 archive")
    if rev_range:
        # A range names commits of one epoch: use the epoch(s) that have them.
        usable = []
        for repo in repos:
            try:
                check_range(repo, rev_range)
            except SourceError:
                continue
            usable.append(repo)
        if not usable:
            raise SourceError(f"bad range {rev_range!r}: not found in any epoch of {path}")
        repos = usable
    return _chain(repos, rev_range)


def _chain(repos: list[Path], rev_range: str | None) -> Iterator[RawMail]:
    for repo in repos:
        yield from _stream(repo, rev_range)
