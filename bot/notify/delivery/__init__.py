"""The delivery worker: routes committed events and posts them, exactly once, in order.

Two stages, both restartable from the store alone:

1. routing (`routing`): events after the routing cursor become delivery rows,
   one per (event, channel), in the same transaction that advances the cursor;
2. posting (`posting`): one task per channel posts that channel's pending
   deliveries in event order. Each sink call's result (card/thread ids in
   `posts`, a message id in `deliveries`) is recorded before the next call,
   and creates carry a nonce the sink de-duplicates, so a retry after a crash
   or an error repeats nothing; past the nonce window, a send whose outcome
   is unknown is first looked for in the channel by its footer and adopted
   (`once`). Transient failures (5xx, outage, connection) back off and retry
   the same delivery, keeping order; Discord's 429s are waited out by
   discord.py's own rate limiter. A 403 parks the channel's deliveries until
   permissions change, a timer, a restart or `deliveries retry` (`parking`):
   nothing is dropped unless the channel is gone. When a series thread cannot
   be used (permissions, a full server, a locked or deleted thread), its
   patches go under the card, and missing permissions are told to the
   channel once (`fallback`). Other permanent refusals are recorded as failed
   and logged; a deleted channel disables its subscriptions. A series that
   stops matching a channel where its card is posted has the card, its
   thread and its patch messages taken down there (`removal`), as one more
   delivery in the channel's order.

Card edits (`editing`) coalesce, in a second task per channel so they never
hold up new posts: a delivery that only changes the card stays pending until
the channel is quiet for `coalesce_delay` (or an edit has been owed for
`max_edit_delay` under steady traffic), then the card is edited once to the
latest render (skipped when the render hash is unchanged) and those
deliveries are settled together.

`worker.DeliveryWorker` composes them. It sees only the `Sink` protocol, so
preview mode and Discord run the same code.
"""
