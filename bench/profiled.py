"""Run a module as `python -m` would, under cProfile; the profile is written
when the module returns or the process gets SIGTERM (the benchmarks stop
their processes so).

    python bench/profiled.py OUT.prof MODULE [ARGS...]
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
from collections import Counter
from typing import Any
from types import FrameType


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds to the dump below (an asyncio service installs its own handler)


def _count_statements() -> Counter[str]:
    """SQL statements run, by their start and FROM clause (round trips are what cost)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        text = " ".join(statement.split())
        cut = text.find(" FROM ")
        seen[text[:50] + (" ..." + text[cut:cut + 120] if cut > 50 else text[50:170])] += 1

    event.listen(Engine, "before_cursor_execute", count)
    return seen


def main() -> None:
    out, module, *argv = sys.argv[1:]
    statements = _count_statements()
    signal.signal(signal.SIGTERM, _stop)
    sys.argv = [module, *argv]
    sys.path[0] = ""  # as `python -m` has it: the working directory, not bench/
    prof = cProfile.Profile()
    try:
        prof.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        prof.dump_stats(out)
        with open(out + ".sql.txt", "w") as f:
            for text, n in statements.most_common():
                f.write(f"{n:8d} {text}\n")


if __name__ == "__main__":
    main()
