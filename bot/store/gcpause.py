"""Keep the cyclic GC out of a bulk import.

Measured on kvmarm: full (generation 2) collections rescan the tracker index
and the libraries' objects and cost about 0.5 s of a 5 s import; a bulk
import makes few cycles (about 1,200 collected afterwards). Freezing moves the
objects alive at the start out of the collector's view for the import's
length. A host that froze the heap itself (the service does at start-up)
already has that, so it is left alone.

The collector is also off for the import's length: even with the heap frozen,
the young collections that the import's allocations trigger (unpickling the
parse worker's results, building rows) took about 0.25 s of the main
process's 2.8 s CPU on kvmarm (py-spy: a quarter of the unpickling thread's
samples were in the collector), with the same peak RSS without them. The
few cycles made meanwhile are collected after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def heap_frozen(enabled: bool = True) -> Iterator[None]:
    if not enabled:
        yield
        return
    freeze = not gc.get_freeze_count()
    collecting = gc.isenabled()
    if freeze:
        gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()  # as the host had it
        if freeze:
            gc.unfreeze()  # back to the oldest generation: nothing is kept from the collector for good
