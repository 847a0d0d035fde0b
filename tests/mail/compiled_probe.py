"""Fingerprints of parse results and tracker decisions, for comparing the
compiled parser and tracker with the source.

`tests/mail/test_compiled.py` runs this file twice over the same inputs: in
the test process (the pure-Python parser) and as a script in a subprocess
whose `bot` package is a mypyc-compiled build. Run as a script it prints one
JSON line naming the modules it loaded, then `[message_id, sha256]` per
mail, as JSON. A source is a path `iter_path` reads, or `mutate:N:SEED:PATH...`: N
deterministic byte-level mutations of the mails at those paths (the odd
branches real mail rarely takes, where compiled code's stricter types show).
With `--series` first, the fingerprints are of the tracker's decision for each
mail (fed in order to one index) and, last, of every series it ends with.
"""

from __future__ import annotations

import hashlib
import json
import dataclasses
import random
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from bot.ingest.sources import iter_path
from bot.mail import parse_mail
from bot.series import Decision, MemoryIndex, decide
from bot.series.diffhash import normalised_files
from bot.series.window import Known, Probe

_INSERTS = [b"\x00", b"\n", b"\n\n", b"=?", b"=?utf-8?q?", b"\r", b"--", b"@@ -1 +1 @@\n", b"\xff\xfe", b"<", b">", b","]


def _mutations(count: int, seed: int, paths: list[Path]) -> Iterator[bytes]:
    originals = [raw.data for path in paths for raw in iter_path(path)]
    rng = random.Random(seed)
    for _ in range(count):
        raw = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 4)):
            if not raw:
                break
            at = rng.randrange(len(raw))
            op = rng.randrange(5)
            if op == 0:
                raw[at] ^= rng.randint(1, 255)
            elif op == 1:
                del raw[at:]
            elif op == 2:
                end = min(len(raw), at + rng.randint(1, 200))
                raw[at:at] = raw[at:end] * rng.randint(1, 3)
            elif op == 3:
                raw[at:at] = rng.choice(_INSERTS)
            else:
                del raw[at : at + rng.randint(1, 64)]
        yield bytes(raw)


def inputs(sources: list[str]) -> Iterator[bytes]:
    for source in sources:
        if source.startswith("mutate:"):
            _, count, seed, *paths = source.split(":")
            yield from _mutations(int(count), int(seed), [Path(p) for p in paths])
        else:
            for raw in iter_path(Path(source)):
                yield raw.data


def fingerprints(sources: list[str]) -> Iterator[tuple[str, str]]:
    """(message_id, sha256 of every field and of its diff's file hashes) per mail, in input order."""
    for raw in inputs(sources):
        mail = parse_mail(raw)
        files = json.dumps(normalised_files(mail.body)) if mail.has_diff else ""  # as the store hashes a patch
        yield mail.message_id, hashlib.sha256((mail.model_dump_json() + files).encode()).hexdigest()


def _stable(value: object) -> object:
    """`value` with its sets sorted: set order follows string hashes, which differ per process."""
    if isinstance(value, (set, frozenset)):
        return sorted((_stable(v) for v in value), key=repr)
    if isinstance(value, (tuple, list)):
        return [_stable(v) for v in value]
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [_stable(getattr(value, f.name)) for f in dataclasses.fields(value)]
    return value


def _decision_text(d: Decision) -> str:
    return repr(_stable((
        d.message_id, str(d.role), d.series_id, d.new_lineage, d.refs, d.notes,
        d.new_series, d.member, d.updates, d.trailers, d.applied,
        [e.model_dump_json() for e in d.events],
    )))


def series_fingerprints(sources: list[str]) -> Iterator[tuple[str, str]]:
    """(message_id, sha256 of the decision) per mail, then ("series N", sha256 of its state)."""
    index = MemoryIndex()
    seen: set[str] = set()
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)  # for mails without a date
    for raw in inputs(sources):
        mail = parse_mail(raw)
        if mail.message_id in seen:  # a redelivery: the store never tracks it twice
            continue
        seen.add(mail.message_id)
        # Through the tracker window's Probe (which records what a window would
        # miss, and answers from the index): its compiled code runs too.
        d = decide(mail, Probe(index, Known(), mail.date or when), received_at=when)
        index.apply(d)
        yield mail.message_id, hashlib.sha256(_decision_text(d).encode()).hexdigest()
    sid = 1
    while True:
        try:
            state = index.series(sid)
        except KeyError:
            break
        yield f"series {sid}", hashlib.sha256(repr(_stable(state)).encode()).hexdigest()
        sid += 1
    for state in index.all_series():  # evicting every series leaves nothing behind
        index.remove_series(state.series_id)
    assert len(index) == 0 and not any(index.series_referencing(m) for m in seen), "eviction left series behind"


def loaded_modules() -> dict[str, str]:
    wanted = ("bot.mail.", "bot.series.")
    return {name: str(getattr(mod, "__file__", "")) for name, mod in sorted(sys.modules.items()) if name.startswith(wanted)}


if __name__ == "__main__":
    args = sys.argv[1:]
    prints = list(series_fingerprints(args[1:]) if args[:1] == ["--series"] else fingerprints(args))
    out = sys.stdout
    out.write(json.dumps(loaded_modules()) + "\n")
    for pair in prints:
        out.write(json.dumps(pair) + "\n")
