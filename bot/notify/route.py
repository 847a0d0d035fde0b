"""Event -> the channels it goes to and what it does there. Pure.

Every event of a matching series touches the card (post it if the channel has
none yet, else edit it to the latest state; unchanged renders cost nothing).
A patch arriving also gets its own message in the series thread when the
subscription wants threads, and a stable request alerts the subscription's
alert channel. A series that is a duplicate posting of another goes nowhere; a single
patch gets no thread unless the subscription asks (`single_threads`); a
stable backport is routed only where a filter names the kind, and never alerts.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.notify.filters import files_of, matches
from bot.notify.models import Subscription, Target
from bot.series.models import Event, EventKind, SeriesView

# The one channel preview mode uses when no subscription exists at all.
PREVIEW_CHANNEL_ID = 0
PREVIEW_ALL = Subscription(id=None, guild_id=0, channel_id=PREVIEW_CHANNEL_ID)


def _is_patch_event(event: Event) -> bool:
    slot = event.data.get("slot")
    return event.kind is EventKind.PATCH_ADDED and (slot is None or (isinstance(slot, int) and slot > 0))


def wants_thread(series: SeriesView, sub: Subscription) -> bool:
    """A single patch's card says it all: a thread of one message only on request."""
    return sub.threads and (series.total > 1 or series.pull or sub.single_threads)


def targets_for(
    event: Event, series: SeriesView, sub: Subscription, files: tuple[str, ...] | None = None
) -> list[Target]:
    if series.duplicate_of is not None or not matches(sub.filter, series, files):
        return []
    threads = wants_thread(series, sub)
    out = [
        Target(
            channel_id=sub.channel_id,
            subscription_id=sub.id,
            card=True,
            threads=threads,
            patch=threads and _is_patch_event(event),
        )
    ]
    # A backport asks stable for nothing new: it never pings.
    if event.kind is EventKind.STABLE_REQUESTED and sub.alert_channel_id is not None and not series.backport:
        out.append(
            Target(
                channel_id=sub.alert_channel_id,
                subscription_id=sub.id,
                alert=True,
                alert_role_id=sub.alert_role_id,
            )
        )
    return out


def route(event: Event, series: SeriesView, subscriptions: Iterable[Subscription]) -> list[Target]:
    """One target per channel, in subscription order (merged where channels coincide)."""
    by_channel: dict[int, Target] = {}
    files = files_of(series)  # once, not once a subscription (50 channels: 50 times)
    for sub in subscriptions:
        for target in targets_for(event, series, sub, files):
            have = by_channel.get(target.channel_id)
            by_channel[target.channel_id] = target if have is None else have.merge(target)
    return list(by_channel.values())
