"""The arrival orders test groups arrivals into clock steps: only where no settle-rule answer changes."""

from __future__ import annotations

import itertools
import random

from . import arrivals

SETTLE = 180.0


def _mails(times: list[float]) -> list[tuple[float, arrivals.Mail]]:
    return [(at, arrivals.Mail(thread=0, pos=i, date=at, raw=b"")) for i, at in enumerate(times)]


def test_every_settle_comparison_is_the_same_at_the_step_times() -> None:
    rng = random.Random(3)
    for _ in range(30):
        # Bursts of mails seconds apart, bursts minutes to hours apart: as a list's traffic.
        times, at = [], 0.0
        for _ in range(rng.randint(3, 25)):
            at += rng.choice([rng.uniform(1, 300), rng.uniform(300, 7200)])
            for _ in range(rng.randint(1, 12)):
                times.append(at)
                at += rng.uniform(0, 40)
        timed = _mails(times)
        steps = arrivals.steps(timed, SETTLE)
        assert [m for _, ms in steps for m in ms] == [m for _, m in timed]  # every mail, in order
        step_of = {m.pos: at for at, ms in steps for m in ms}
        for (ta, a), (tb, b) in itertools.combinations(timed, 2):
            assert step_of[a.pos] >= ta  # a mail is never sent before its time
            assert (tb - ta >= SETTLE) == (step_of[b.pos] - step_of[a.pos] >= SETTLE), (ta, tb)
        assert len(steps) < len(set(times))  # and it does group
