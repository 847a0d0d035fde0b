"""Replies that arrived before the patch they answer, kept until it is posted.

For every reply not yet placed in a series we remember which mail it answers
(ids only); the replies that matter (review trailers or an applied notice, see
`bot.series.waits_for_parent`) are kept too, slimmed of their text. When a
cover or patch joins, the bulk importer walks the replies below it, depth
first in arrival order, exactly as the single-mail path walks
`mails.in_reply_to` in the database.
"""

from __future__ import annotations

from bot.mail.models import ParsedMail
from bot.series import Decision
from bot.store.parsepool import slim_mail
from bot.store.rows import RowBatch

LIMIT = 200_000  # replies remembered per import; beyond that they stay plain replies


class Orphans:
    def __init__(self, limit: int = LIMIT) -> None:
        self._children: dict[str, list[str]] = {}
        self._waiting: dict[str, ParsedMail] = {}
        self._count = 0
        self._limit = limit
        self._known: set[str] = set()
        # series id -> replies whose applied notice waits for a patch of it (`pending_replies`)
        self._pending: dict[int, dict[str, ParsedMail]] = {}
        # Series with stored `pending_replies` not read yet (each is read when the
        # import first meets its series, not all at every SMTP commit: applied
        # notices naming patches that never reached the list wait there for
        # good); None: not asked yet (once per import).
        self.unread_pending: set[int] | None = None

    def keep_pending(self, series_id: int, mail: ParsedMail) -> None:
        self._pending.setdefault(series_id, {})[mail.message_id] = mail

    def pending_of(self, series_id: int | None) -> list[ParsedMail]:
        """The waiting replies of a series a patch just joined (decide them again)."""
        return [] if series_id is None else list(self._pending.get(series_id, {}).values())

    def settle_pending(self, d: Decision, batch: RowBatch, mail: ParsedMail) -> None:
        """After deciding reply `mail`: keep it while it waits, else let it go."""
        was = next((sid for sid, waiting in self._pending.items() if d.message_id in waiting), None)
        if was is not None:
            del self._pending[was][d.message_id]
        if d.waits and d.series_id is not None:
            self.keep_pending(d.series_id, mail)
        elif was is not None:
            batch.resolved.append(d.message_id)

    def knows(self, message_id: str) -> bool:
        return message_id in self._known

    def add(self, mail: ParsedMail, *, waiting: bool) -> None:
        """Remember an unplaced reply (and keep it when it gives trailers)."""
        if mail.in_reply_to is None or self._count >= self._limit:
            return
        self._count += 1
        self._known.add(mail.message_id)
        self._children.setdefault(mail.in_reply_to, []).append(mail.message_id)
        if waiting:
            self._waiting[mail.message_id] = slim_mail(mail)  # the tracker reads none of what it drops

    def take(self, message_id: str, limit: int) -> list[ParsedMail]:
        """The kept replies below `message_id`, depth first, each handed out once."""
        out: list[ParsedMail] = []
        stack, visited = [message_id], 0
        while stack and visited < limit:
            for child in self._children.pop(stack.pop(), ()):
                visited += 1
                stack.append(child)
                mail = self._waiting.pop(child, None)
                if mail is not None:
                    out.append(mail)
        return out
