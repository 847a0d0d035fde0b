"""Where raw mail comes from: .eml files, mbox files, directories, public-inbox git.

Every source is an iterator of `RawMail` (bytes + a reference to the
origin), read lazily so memory stays flat however big the archive is.
Nothing here parses mail; `iter_path` picks the reader for a path.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from bot.ingest.publicinbox import epochs, is_git_dir, iter_publicinbox
from bot.ingest.record import RawMail, SourceError

__all__ = [
    "RawMail",
    "SourceError",
    "iter_eml",
    "iter_mbox",
    "iter_dir",
    "iter_path",
    "iter_paths",
    "iter_publicinbox",
    "is_mbox",
]

# An mbox separator: `From <sender> <asctime date>`; body lines starting with
# "From " are far less specific than this.
_FROM_LINE = re.compile(rb"From \S*[ \t]+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[ \t]")
_MBOXRD_QUOTED = re.compile(rb"^>(>*From )", re.MULTILINE)
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")
MBOX_SUFFIXES = (".mbox", ".mbx", ".mbox.txt")
MAIL_SUFFIXES = (".eml", ".msg", ".mail", ".patch")

log = logging.getLogger(__name__)


def iter_eml(path: Path) -> Iterator[RawMail]:
    """One file holding one mail (an mbox "From " first line is tolerated)."""
    yield RawMail(data=path.read_bytes(), ref=str(path), origin=str(path))


def is_mbox(path: Path) -> bool:
    """A file whose first line is an mbox separator (dated, or followed by a header)."""
    try:
        with path.open("rb") as fh:
            first = fh.readline(4096)
            second = fh.readline(4096)
    except OSError:
        return False
    if _FROM_LINE.match(first):
        return True
    return first.startswith(b"From ") and _HEADER_LINE.match(second) is not None


def _finish(lines: list[bytes]) -> bytes:
    data = b"".join(lines)
    # The blank line before the next separator belongs to the mbox format.
    if data.endswith(b"\n\n"):
        data = data[:-1]
    elif data.endswith(b"\r\n\r\n"):
        data = data[:-2]
    if b">From " in data:
        data = _MBOXRD_QUOTED.sub(rb"\1", data)
    return data


def iter_mbox(path: Path) -> Iterator[RawMail]:
    """Each mail of an mbox (mboxrd `>From ` unquoted), with `<path>:<offset>` refs.

    The separator line is dropped. It is only recognised after a blank line
    (or at the start), and must carry an asctime date or be followed by a
    header line (test mboxes use bare `From A` lines).
    """
    origin = str(path)
    with path.open("rb") as fh:
        lines: list[bytes] = []
        start = offset = 0
        prev_blank = True
        maybe: bytes | None = None  # an undated "From " line: decided by the next line
        maybe_at = 0
        for line in fh:
            if maybe is not None:
                if _HEADER_LINE.match(line):
                    if lines:
                        yield RawMail(data=_finish(lines), ref=f"{origin}:{start}", origin=origin)
                    lines = []
                    start = maybe_at
                else:
                    lines.append(maybe)
                maybe = None
            if prev_blank and line.startswith(b"From "):
                if _FROM_LINE.match(line):
                    if lines:
                        yield RawMail(data=_finish(lines), ref=f"{origin}:{start}", origin=origin)
                    lines = []
                    start = offset
                else:
                    maybe, maybe_at = line, offset
            else:
                lines.append(line)
            offset += len(line)
            prev_blank = line in (b"\n", b"\r\n")
        if maybe is not None:
            lines.append(maybe)
        if lines and any(line.strip() for line in lines):
            yield RawMail(data=_finish(lines), ref=f"{origin}:{start}", origin=origin)


def _iter_file(path: Path) -> Iterator[RawMail]:
    if is_mbox(path) or path.name.endswith(MBOX_SUFFIXES):
        return iter_mbox(path)
    return iter_eml(path)


def looks_like_mail(path: Path) -> bool:
    """A mail-ish file: a mail or mbox suffix, or a first line that is an mbox
    separator or a header. Lets a directory hold an index or notes beside its
    mails (the seed's INDEX.tsv, digest.txt) without importing them as mail.
    """
    if path.name.endswith(MAIL_SUFFIXES + MBOX_SUFFIXES):
        return True
    try:
        with path.open("rb") as fh:
            first = fh.readline(4096)
    except OSError:
        return False
    return is_mbox(path) or _HEADER_LINE.match(first) is not None


def iter_dir(path: Path) -> Iterator[RawMail]:
    """Every mail file under a directory (recursively, sorted by path; dot files
    and files that do not look like mail skipped, each skip logged)."""
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    for file in files:
        if looks_like_mail(file):
            yield from _iter_file(file)
        else:
            log.warning("skipped %s: not a mail or mbox file", file)


def iter_path(path: Path, rev_range: str | None = None) -> Iterator[RawMail]:
    """The mails at `path`: an .eml, an mbox, a directory, or a public-inbox archive.

    `rev_range` (`A..B`) only applies to public-inbox archives. Raises
    SourceError at once for a missing path or a range on a non-git source.
    """
    if not path.exists():
        raise SourceError(f"no such file or directory: {path}")
    git = is_git_dir(path) or (path.is_dir() and epochs(path) is not None)
    if rev_range and not git:
        raise SourceError(f"--range needs a public-inbox git archive, not {path}")
    if git:
        return iter_publicinbox(path, rev_range)
    if path.is_dir():
        return iter_dir(path)
    return _iter_file(path)


def iter_paths(paths: Iterable[Path], rev_range: str | None = None) -> Iterator[RawMail]:
    """`iter_path` over several paths, in order; all paths are checked before reading."""
    iters = [iter_path(Path(p), rev_range) for p in paths]
    return itertools.chain.from_iterable(iters)
