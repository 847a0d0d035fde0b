"""The one-line delivery status `/kvm status` answers with."""

from __future__ import annotations

from bot.store import Store
from bot.store import delivery as q


class DeliveryStatus:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def summary(self) -> str:
        counts = await q.count_by_status(self.store)
        return "kvm-patchbot deliveries: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none yet")
