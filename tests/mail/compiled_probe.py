"""Fingerprints of parse results, for comparing the compiled parser with the source.

`tests/mail/test_compiled.py` runs this file twice over the same inputs: in
the test process (the pure-Python parser) and as a script in a subprocess
whose `bot` package is a mypyc-compiled build. Run as a script it prints one
JSON line naming the modules it loaded, then `[message_id, sha256]` per
mail, as JSON. A source is a path `iter_path` reads, or `mutate:N:SEED:PATH...`: N
deterministic byte-level mutations of the mails at those paths (the odd
branches real mail rarely takes, where compiled code's stricter types show).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

from bot.ingest.sources import iter_path
from bot.mail import parse_mail

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
    """(message_id, sha256 of every field) per mail, in input order."""
    for raw in inputs(sources):
        mail = parse_mail(raw)
        yield mail.message_id, hashlib.sha256(mail.model_dump_json().encode()).hexdigest()


def loaded_modules() -> dict[str, str]:
    return {name: str(getattr(mod, "__file__", "")) for name, mod in sorted(sys.modules.items()) if name.startswith("bot.mail.")}


if __name__ == "__main__":
    prints = list(fingerprints(sys.argv[1:]))
    out = sys.stdout
    out.write(json.dumps(loaded_modules()) + "\n")
    for pair in prints:
        out.write(json.dumps(pair) + "\n")
