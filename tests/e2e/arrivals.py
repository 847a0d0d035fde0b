"""The 42 x86 threads of the shared corpus, and the arrival orders they are sent in."""

from __future__ import annotations

import mailbox
import os
import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

# As tests/conftest.py finds the shared data (KVMBOT_SHARED, else ../shared).
_SHARED = Path(os.environ.get("KVMBOT_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
THREADS = _SHARED / "corpus" / "kvm-x86-threads"
# The most a list server and its MTAs hold a mail back, in the orders that model it.
MAX_DELAY = 120.0


@dataclass(frozen=True)
class Mail:
    thread: int
    pos: int  # position in its thread's mbox
    date: float  # epoch seconds of its Date header
    raw: bytes


def load() -> list[list[Mail]]:
    """Each thread's mails, in their mbox's order."""
    out = []
    for t, path in enumerate(sorted(THREADS.glob("*.mbox"))):
        thread = []
        for pos, msg in enumerate(mailbox.mbox(path)):
            raw = msg.as_bytes()
            date = parsedate_to_datetime(str(msg["Date"])).timestamp()
            thread.append(Mail(t, pos, date, raw))
        out.append(thread)
    return out


def by_date(threads: list[list[Mail]]) -> list[tuple[float, Mail]]:
    """Every mail at its Date."""
    return sorted(((m.date, m) for th in threads for m in th), key=lambda x: (x[0], x[1].thread, x[1].pos))


def delayed(threads: list[list[Mail]], seed: int) -> list[tuple[float, Mail]]:
    """Every mail at its Date plus a seeded random 0-120 s hold-up, in that order."""
    rng = random.Random(seed)
    timed = [(m.date + rng.uniform(0, MAX_DELAY), m) for m in (x for _, x in by_date(threads))]
    return sorted(timed, key=lambda x: (x[0], x[1].thread, x[1].pos))


def reversed_threads(threads: list[list[Mail]]) -> list[tuple[float, Mail]]:
    """Each thread in one burst at its first Date, its mails newest first."""
    out = []
    for th in sorted(threads, key=lambda th: min(m.date for m in th)):
        start = min(m.date for m in th)
        out += [(start, m) for m in sorted(th, key=lambda m: (m.date, m.pos), reverse=True)]
    return out


def shuffled(threads: list[list[Mail]], seed: int) -> list[tuple[float, Mail]]:
    """A backlog flushed at once (after an outage), in a seeded random order."""
    mails = [m for _, m in by_date(threads)]
    random.Random(seed).shuffle(mails)
    start = min(m.date for m in mails)
    return [(start, m) for m in mails]
