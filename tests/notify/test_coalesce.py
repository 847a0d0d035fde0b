"""The card-edit debounce rule, without depending on how fast a burst arrives.

`CardEditor.edit_cards` decides from loop time whether a channel is quiet;
these tests set the channel's clock readings themselves, so the decision is
the same on a loaded machine as on an idle one.
"""

from __future__ import annotations

import asyncio

from bot.notify.delivery.cache import Recent
from bot.notify.delivery.editing import CardEditor
from bot.notify.delivery.state import ChannelState, Progress


class RecordingEditor(CardEditor):
    """The real rule; the edits themselves recorded instead of made."""

    def __init__(self, *, coalesce_delay: float, max_edit_delay: float) -> None:
        # No store, sink or cards: the rule reads only the channel state and the clock.
        super().__init__(
            None, None, Recent(None), None, None, Progress(),  # type: ignore[arg-type]
            coalesce_delay=coalesce_delay, max_edit_delay=max_edit_delay,
        )
        self.flushes: list[dict[int, set[int]]] = []

    async def _flush_cards(self, ch: ChannelState, only: list[int] | None = None) -> None:
        sids = list(ch.dirty) if only is None else only
        self.flushes.append({sid: ch.dirty.pop(sid) for sid in sids})
        for sid in sids:
            ch.dirty_at.pop(sid, None)


def _owing(now: float, *, last_delivery: float, first_owed: float) -> ChannelState:
    ch = ChannelState(channel_id=7)
    ch.dirty = {1: {11, 12, 13}, 2: {21}}
    ch.dirty_at = {1: first_owed, 2: first_owed}
    ch.last_delivery = last_delivery
    return ch


async def test_no_edit_while_the_channel_is_busy() -> None:
    editor = RecordingEditor(coalesce_delay=0.01, max_edit_delay=1000.0)
    now = asyncio.get_running_loop().time()
    ch = _owing(now, last_delivery=now + 1000.0, first_owed=now)  # a delivery "just now", in any timing
    await editor.edit_cards(ch)
    assert editor.flushes == []
    assert ch.dirty == {1: {11, 12, 13}, 2: {21}}


async def test_one_edit_per_card_once_quiet() -> None:
    editor = RecordingEditor(coalesce_delay=0.01, max_edit_delay=1000.0)
    now = asyncio.get_running_loop().time()
    ch = _owing(now, last_delivery=now - 1.0, first_owed=now - 1.0)
    await editor.edit_cards(ch)
    # Every owed event of a card is covered by that card's single edit.
    assert editor.flushes == [{1: {11, 12, 13}, 2: {21}}]
    assert ch.dirty == {}


async def test_a_card_owed_too_long_is_edited_under_steady_traffic() -> None:
    editor = RecordingEditor(coalesce_delay=1000.0, max_edit_delay=0.5)
    now = asyncio.get_running_loop().time()
    # Never quiet, but both cards have been owed for far longer than 5 x max_edit_delay.
    ch = _owing(now, last_delivery=now + 1000.0, first_owed=now - 100.0)
    await editor.edit_cards(ch)
    assert editor.flushes == [{1: {11, 12, 13}, 2: {21}}]
