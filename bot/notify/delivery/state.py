"""What the worker keeps in memory: each channel's loops and owed card edits,
and a condition that wakes whoever waits for delivery to be idle."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.store import DeliveryRow


@dataclass
class ChannelState:
    channel_id: int
    nudge: asyncio.Event = field(default_factory=asyncio.Event)
    # series id -> event ids whose card edit is still owed (deliveries left pending).
    dirty: dict[int, set[int]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    current: DeliveryRow | None = None  # the delivery being attempted (for counting failed tries)
    dirty_at: dict[int, float] = field(default_factory=dict)  # series id -> loop time first owed
    # series id -> Message-IDs of its patches whose thread message is owed an
    # edit (trailers, applied): made with the series' coalesced card edit.
    dirty_patches: dict[int, set[str]] = field(default_factory=dict)
    editing: set[int] = field(default_factory=set)  # event ids of the card edits in flight
    last_delivery: float = 0.0  # loop time of the last delivery (quiet detection)
    edit_nudge: asyncio.Event = field(default_factory=asyncio.Event)
    editor: asyncio.Task[None] | None = None
    # Parked: Discord refused with a 403; nothing is sent here until unparked.
    parked: bool = False
    parked_at: float = 0.0  # loop time
    parked_reason: str = ""  # Discord's refusal, kept with every delivery parked here
    unparked: asyncio.Event = field(default_factory=asyncio.Event)
    # A send's outcome may be unknown (just started, or the last try failed):
    # look for the message before sending it again (`once`).
    verify: bool = True
    # Threads cannot be used here (why, and until when in loop time; None: until
    # permissions change): patches go under their card.
    threads_blocked: str | None = None
    threads_blocked_until: float | None = None
    dead_threads: set[int] = field(default_factory=set)  # series threads deleted by someone
    # series id -> patch slots posted here (read from the store once): thread order
    posted_slots: dict[int, set[int]] = field(default_factory=dict)
    # event ids of patches waiting for a lower patch (`settle`): not refetched until something posts
    held_back: set[int] = field(default_factory=set)

    # The posting loop waits for a nudge: nothing was pending when it last looked.
    waiting: bool = False
    # Given up for an even share of the channels (`claims`) the moment it is idle.
    hand_over: bool = False

    def idle(self) -> bool:
        """Nothing is being sent, owed, held back or parked here: the loops
        may be stopped (cancelled in their waits) and the channel handed over."""
        return (self.waiting and not self.nudge.is_set() and self.current is None and not self.parked
                and not self.dirty and not self.editing and not self.dirty_patches and not self.held_back)

    def owed(self) -> set[int]:
        return {e for events in self.dirty.values() for e in events} | self.editing

    def tasks(self) -> list[asyncio.Task[None]]:
        return [t for t in (self.task, self.editor) if t is not None]

    def forget_edits(self) -> None:
        self.dirty.clear()
        self.dirty_patches.clear()
        self.dirty_at.clear()
        self.editing.clear()


class Progress:
    """Signalled after every step that may have settled deliveries."""

    def __init__(self) -> None:
        self._changed = asyncio.Condition()

    async def changed(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def until(self, done: Callable[[], Awaitable[bool]]) -> None:
        """Return once `done()` holds, checking it again after each change."""
        async with self._changed:
            while not await done():
                await self._changed.wait()
