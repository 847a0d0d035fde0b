"""When a series is routed, and how long a gap in its thread holds later patches.

vger delivers a series' mails out of order, up to minutes apart. A single
patch (1/1, unnumbered) and a pull request are routed at once. A series is
routed when what decides its card arrives, its cover letter or (with no
cover) its patch 1, or when `seconds` have passed since its first mail
reached us, whichever is first: until then its events queue nothing, and
once routed every event it had is queued (`Router`). In a thread, patch k
waits for patches 1..k-1 to be posted there, until `seconds` have passed
since the series' latest mail (the quiet window): then whatever has arrived
is posted, in index order.

Times come from an injectable clock (epoch seconds). A series' first and
latest arrival and whether it is held are kept in the store's `cursors`
table (`settle.<series id>` = "first latest held"), written before the
routing cursor moves, so a restart neither loses a held series nor routes it
early; a record is dropped once both windows are over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.series.models import SeriesView
from bot.store import Store
from bot.store import delivery as q

Clock = Callable[[], float]


@dataclass(slots=True)
class _Record:
    first: float
    last: float
    held: bool = False

    def encode(self) -> str:
        return f"{self.first!r} {self.last!r} {int(self.held)}"

    @classmethod
    def decode(cls, text: str) -> _Record | None:
        try:
            first, last, held = text.split()
            return cls(float(first), float(last), held == "1")
        except ValueError:
            return None


def decided(series: SeriesView) -> bool:
    """Whether what decides a series' routing has arrived: it is a single
    patch or a pull, or its cover letter or patch 1 is here."""
    if series.total <= 1 or series.pull or series.cover is not None:
        return True
    return any(p.index in (1, None) for p in series.patches)


class Settle:
    def __init__(self, store: Store, *, seconds: float = 0.0, clock: Clock = time.time) -> None:
        self.store = store
        self.seconds = seconds
        self.clock = clock
        self._records: dict[int, _Record] = {}
        self._dirty: set[int] = set()
        self._dropped: set[int] = set()
        self._loaded = False

    async def load(self) -> None:
        if self._loaded or self.seconds <= 0:
            return
        for sid, text in (await q.settle_records(self.store)).items():
            rec = _Record.decode(text)
            if rec is not None:
                self._records[sid] = rec
        self._loaded = True

    async def save(self) -> None:
        """Persist what changed; call before the routing cursor moves."""
        now = self.clock()
        for sid, rec in self._records.items():
            if not rec.held and now >= rec.last + self.seconds:
                self._dropped.add(sid)
        for sid in self._dropped:
            self._records.pop(sid, None)
            self._dirty.discard(sid)
        if self._dirty or self._dropped:
            await q.save_settle_records(
                self.store, {sid: self._records[sid].encode() for sid in self._dirty}, sorted(self._dropped)
            )
        self._dirty.clear()
        self._dropped.clear()

    # ------------------------------------------------------------ routing

    def seen(self, series_id: int) -> None:
        """A mail of the series was committed (its event is being routed now)."""
        if self.seconds <= 0:
            return
        now = self.clock()
        rec = self._records.get(series_id)
        if rec is None:
            self._records[series_id] = _Record(now, now)
        else:
            rec.last = max(rec.last, now)
        self._dropped.discard(series_id)
        self._dirty.add(series_id)

    def routable(self, series: SeriesView) -> bool:
        if self.seconds <= 0 or decided(series):
            return True
        rec = self._records.get(series.series_id)
        return rec is None or self.clock() >= rec.first + self.seconds

    def hold(self, series_id: int) -> None:
        rec = self._records.get(series_id)
        if rec is not None and not rec.held:
            rec.held = True
            self._dirty.add(series_id)

    def release(self, series_id: int) -> bool:
        """Stop holding the series; True if it was held (it is owed a catch-up)."""
        rec = self._records.get(series_id)
        if rec is None or not rec.held:
            return False
        rec.held = False
        self._dirty.add(series_id)
        return True

    def due(self) -> list[int]:
        """Held series whose window after their first mail is over."""
        now = self.clock()
        return sorted(sid for sid, r in self._records.items() if r.held and now >= r.first + self.seconds)

    # ------------------------------------------------------------ threads

    def gap_holds(self, series_id: int) -> bool:
        """Whether a missing lower patch still holds later ones back."""
        rec = self._records.get(series_id)
        return rec is not None and self.clock() < rec.last + self.seconds

    @property
    def active(self) -> bool:
        return bool(self._records)

    def next_deadline(self) -> float | None:
        """The clock reading at which something held may be released."""
        now = self.clock()
        times = [r.first + self.seconds for r in self._records.values() if r.held]
        times += [r.last + self.seconds for r in self._records.values()]
        later = [x for x in times if x > now]
        return min(later) if later else None
