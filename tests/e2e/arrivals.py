"""The 42 x86 threads of the shared corpus, and the arrival orders they are sent in."""

from __future__ import annotations

import bisect
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


def steps(timed: list[tuple[float, Mail]], settle: float) -> list[tuple[float, list[Mail]]]:
    """The arrivals grouped into steps the worker's clock moves through, each
    at its last mail's time: far fewer steps, and no answer of the settle
    rules changes. Those compare the clock at one step with the clock at an
    earlier one plus `settle` (a series' first or latest mail); here, for
    every pair of mails in different steps, "at least `settle` apart" holds
    of their step times exactly when it holds of their own times, and a step
    spans less than `settle`. Mails within a step come as a burst, in order."""
    times = sorted({at for at, _ in timed})
    ends = _greedy_ends(times, settle / 2)
    while bad := _violations(times, ends, settle):
        ends |= bad  # a mail ending its own step is at its own time
    step_time: dict[float, float] = {}
    pending: list[float] = []
    for at in times:
        pending.append(at)
        if at in ends:
            step_time.update(dict.fromkeys(pending, at))
            pending = []
    out: list[tuple[float, list[Mail]]] = []
    for at, mail in timed:
        g = step_time[at]
        if out and out[-1][0] == g:
            out[-1][1].append(mail)
        else:
            out.append((g, [mail]))
    return out


def _greedy_ends(times: list[float], span: float) -> set[float]:
    """Step ends: a step takes every time within `span` of its first."""
    ends: set[float] = set()
    first = None
    for i, at in enumerate(times):
        if first is None:
            first = at
        if i + 1 == len(times) or times[i + 1] - first >= span:
            ends.add(at)
            first = None
    return ends


def _violations(times: list[float], ends: set[float], settle: float) -> set[float]:
    """Times whose step time answers "`settle` apart?" otherwise than their own, for some pair."""
    step: list[float] = []
    pending: list[float] = []
    for at in times:
        pending.append(at)
        if at in ends:
            step += [at] * len(pending)
            pending = []
    width = max((g - at for g, at in zip(step, times, strict=True)), default=0.0)
    bad: set[float] = set()
    for i, ta in enumerate(times):
        # Only pairs about `settle` apart can answer differently (each moves by at most `width`).
        lo = bisect.bisect_left(times, ta + settle - width)
        hi = bisect.bisect_right(times, ta + settle + width)
        for j in range(max(lo, i + 1), hi):
            if step[i] != step[j] and (times[j] - ta >= settle) != (step[j] - step[i] >= settle):
                bad |= {ta, times[j]}
    return bad
