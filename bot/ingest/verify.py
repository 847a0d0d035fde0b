"""Verify mode: the lore poller as the proof that no mail was lost.

With mail arriving by SMTP, each mail lore archives should already be in the
store. The poller hands each chunk of new lore commits here: what the store
has is a duplicate (dropped there as usual); what it has not is a gap, a mail
the list sent that never reached us. Gaps are imported all the same, counted
(a metric and a log line naming them), and announced like live mail when
they are recent (their Date within `recent`); an older gap is stored quietly,
as a back-fill is, so a long outage does not flood a channel with old cards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone

from bot.ingest.record import RawMail

log = logging.getLogger(__name__)

Known = Callable[[Sequence[str]], Awaitable[set[str]]]
Import = Callable[[list[RawMail], bool], Awaitable[None]]  # (mails, announce)
# A mail's (Message-ID, Date) as the store will see them: the app hands in the parser's.
Identify = Callable[[bytes], tuple[str, datetime | None]]
SHOWN = 10  # Message-IDs named in one log line


class Verifier:
    def __init__(
        self,
        known: Known,
        import_mails: Import,
        identify: Identify,
        *,
        recent: timedelta,
        count_gaps: Callable[[int], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._known = known
        self._import = import_mails
        self._identify = identify
        self.recent = recent
        self._count = count_gaps
        self._now = now
        self.gaps = 0  # since start

    async def import_chunk(self, mails: list[RawMail]) -> None:
        # Parsed off the loop, so the sink keeps serving.
        heads = await asyncio.to_thread(lambda: [self._identify(m.data) for m in mails])
        known = await self._known([mid for mid, _ in heads])
        since = self._now() - self.recent
        missing: list[str] = []
        announce: list[RawMail] = []
        quiet: list[RawMail] = []
        for mail, (mid, date) in zip(mails, heads, strict=True):
            if mid in known:
                quiet.append(mail)  # a duplicate: the store drops it (or keeps it as a variant)
                continue
            missing.append(mid)
            (announce if date is None or date >= since else quiet).append(mail)
        if quiet:
            await self._import(quiet, False)
        if announce:
            await self._import(announce, True)
        if missing:
            self.gaps += len(missing)
            if self._count is not None:
                self._count(len(missing))
            shown = ", ".join(f"<{m}>" for m in missing[:SHOWN]) + (" ..." if len(missing) > SHOWN else "")
            log.warning(
                "verify: %d of %d mails on lore never arrived by SMTP (%d recent, announced; %d older, stored "
                "quietly): %s", len(missing), len(mails), len(announce), len(missing) - len(announce), shown,
            )
        else:
            log.info("verify: all %d mails on lore had arrived by SMTP", len(mails))
