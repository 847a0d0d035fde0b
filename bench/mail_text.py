"""Speed of the mail text parsers (subjects, trailers, applied notices) on real mail.

    python bench/mail_text.py [--git DIR] [--limit N]

Reads the kvmarm public-inbox archive (clones the shared bundle into a
temporary directory unless --git names a clone), extracts every mail's
subject and text body with Python's email package (untimed), then times, on
one core, each parser over all mails as the mail parser calls them:
parse_subject on every subject (caches cleared first; best of three passes), parse_trailers on every
body (reply mode for replies), parse_applied on every reply body.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.mail.applied import parse_applied  # noqa: E402
from bot.mail.subject import _analyse_group, parse_subject  # noqa: E402
from bot.mail.people import parse_person  # noqa: E402
from bot.mail.trailers import _parse_fix, _trailer, parse_trailers  # noqa: E402

BUNDLE = ROOT.parent / "shared" / "corpus" / "kvmarm-epoch0.bundle"


def blobs(git_dir: Path, limit: int | None):
    proc = subprocess.Popen(
        ["git", "-C", str(git_dir), "cat-file", "--batch-all-objects", "--batch"], stdout=subprocess.PIPE
    )
    out = proc.stdout
    assert out is not None
    n = 0
    while limit is None or n < limit:
        header = out.readline()
        if not header:
            break
        _, kind, size = header.split()
        data = out.read(int(size))
        out.read(1)
        if kind == b"blob":
            n += 1
            yield data
    proc.kill()


def text_of(raw: bytes) -> tuple[str, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    subject = " ".join(str(msg.get("Subject", "")).split())
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            text = payload.decode(part.get_content_charset() or "utf-8", "replace") if isinstance(payload, bytes) else ""
            return subject, text
    return subject, ""


def timed(label: str, fn, items, clear=None) -> float:
    """Best of three passes (the machine is shared), caches cleared before each."""
    secs = float("inf")
    for _ in range(3):
        if clear:
            clear()
        start = time.perf_counter()
        for item in items:
            fn(item)
        secs = min(secs, time.perf_counter() - start)
    rate = len(items) / secs if secs else float("inf")
    print(f"{label:<34} {len(items):>7} calls {secs:>7.3f} s {rate:>10.0f} /s {secs / len(items) * 1e6:>7.1f} us each")
    return secs


def clear_subject_caches() -> None:
    parse_subject.cache_clear()
    _analyse_group.cache_clear()


def clear_trailer_caches() -> None:
    _trailer.cache_clear()
    _parse_fix.cache_clear()
    parse_person.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--git", type=Path)
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        git_dir = args.git
        if git_dir is None:
            git_dir = Path(tmp) / "0.git"
            subprocess.run(["git", "clone", "--quiet", "--bare", str(BUNDLE), str(git_dir)], check=True)
        mails = [text_of(raw) for raw in blobs(git_dir, args.limit)]
    subjects = [s for s, _ in mails]
    parse_subject.cache_clear()
    parsed = [parse_subject(s) for s in subjects]
    replies = [body for (s, body), p in zip(mails, parsed, strict=True) if p.is_reply]
    commits = [body for (s, body), p in zip(mails, parsed, strict=True) if not p.is_reply]
    print(f"{len(mails)} mails: {len(commits)} non-replies, {len(replies)} replies")
    total = timed("parse_subject (cold caches)", parse_subject, subjects, clear_subject_caches)
    total += timed("parse_trailers (commit messages)", parse_trailers, commits, clear_trailer_caches)
    total += timed("parse_trailers (replies)", lambda b: parse_trailers(b, reply=True), replies, clear_trailer_caches)
    total += timed("parse_applied (replies)", parse_applied, replies)
    print(f"{'all four, per mail':<34} {len(mails):>7} mails {total:>7.3f} s {len(mails) / total:>10.0f} mails/s")
    found = sum(1 for b in replies if parse_applied(b) is not None)
    with_trailers = sum(1 for b in commits if parse_trailers(b).trailers)
    print(f"applied notices found: {found}; non-replies with trailers: {with_trailers}/{len(commits)}")


if __name__ == "__main__":
    main()
