"""What a mail arriving late changes about postings placed before it.

Mail comes in any order. When a cover or patch joins its posting, earlier
guesses may turn out wrong: a posting kept as a partial reroll is complete
after all, a newer version answered this very k/N before it arrived, the
posting's lineage only now shows (its cover has the title and links), or
another posting that came first was waiting for this one (a newer version
answering it, or the same posting sent again). `LateFix` collects those
corrections as updates and events for the joining mail's `Decision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.mail.models import ParsedMail
from bot.series.lineage import early_partial_reroll, find_lineage, place_in_lineage
from bot.series.models import Event
from bot.series.state import Member, SeriesIndex, SeriesState, copy_state
from bot.series.threads import explicit_version, nearest_member
from bot.series.titles import same_title, similarity


@dataclass
class LateFix:
    mail: ParsedMail
    slot: int
    s: SeriesState  # the posting the mail joins, as it was before
    index: SeriesIndex
    when: datetime
    after_members: dict[int, str]
    updates: list[tuple[int, str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def revisit(self, nearest: Member | None) -> None:
        self._partial_after_all(nearest)
        if self._early_reroll():
            return
        if self._own_lineage():
            return
        self._waiting_postings()

    def _place(self, me: SeriesState, link: tuple[SeriesState, str], peer: SeriesState | None = None) -> None:
        updates, events, mine = place_in_lineage(me, link, self.index, self.when, self.mail.message_id, peer=peer)
        self.updates += updates + [(me.series_id, f, v) for f, v in mine.items()]
        self.events += events

    def _partial_after_all(self, nearest: Member | None) -> None:
        """Not a patch-by-patch answer to the old version after all (a cover, or
        a patch threaded to its own posting): a full new version in the chain."""
        s = self.s
        if not s.partial or (nearest and nearest.series_id == s.supersedes and nearest.slot == self.slot):
            return
        self.updates.append((s.series_id, "partial", False))
        if s.supersedes is not None:
            probe = copy_state(s)
            probe.members, probe.partial, probe.supersedes = self.after_members, False, None
            self._place(probe, (self.index.series(s.supersedes), "thread"))
        self.notes.append("no longer a partial reroll")

    def _early_reroll(self) -> bool:
        """A newer version of this very k/N arrived first, answering it: a
        partial reroll of this posting, which stays current."""
        s, sid = self.s, self.s.series_id
        reroll = early_partial_reroll(self.mail, self.slot, s, self.index)
        if reroll is None:
            return False
        rid = reroll.series_id
        if reroll.lineage_id != s.lineage_id:
            if self.index.lineage(s.lineage_id) == [sid]:
                self.updates.append((sid, "lineage_id", reroll.lineage_id))
            else:
                self.updates.append((rid, "lineage_id", s.lineage_id))
        self.updates += [(rid, "partial", True), (rid, "supersedes", sid)]
        if s.superseded_by == rid:
            self.updates.append((sid, "superseded_by", None))
        self.notes.append(f"series {rid} is a partial reroll of this one")
        return True

    def _own_lineage(self) -> bool:
        """A cover (or a lower patch) arriving late names the posting better:
        its title, change-id and links may reveal the lineage."""
        s, mail, slot = self.s, self.mail, self.slot
        alone = s.supersedes is None and s.duplicate_of is None and self.index.lineage(s.lineage_id) == [s.series_id]
        if not alone or slot >= s.title_slot:
            return False
        explicit = explicit_version(mail)
        probe = copy_state(s)
        probe.members = self.after_members
        probe.member_titles = {**s.member_titles, slot: mail.subject.title}
        probe.title = mail.subject.title
        probe.title_slot = slot
        probe.version = mail.subject.version if explicit else s.version
        probe.version_label = mail.subject.version_label if explicit else s.version_label
        link = find_lineage(mail, slot, nearest_member(mail, self.index), self.index, self.when, probe)
        if link is None:
            return False
        self._place(probe, link)
        self.notes.append(f"lineage {link[0].lineage_id} via {link[1]}")
        return True

    def _waiting_postings(self) -> None:
        """A posting that came first but could not be placed until this mail
        arrived joins our lineage: a newer version that answered this mail, or
        the same posting sent again (same k/N title, same version)."""
        s, mail, slot, index = self.s, self.mail, self.slot, self.index
        title = mail.subject.title if slot < s.title_slot else s.title
        twins = [
            other_id
            for other_id in index.series_with_title(s.author_email, mail.subject.title)
            if not mail.subject.stable_backport
            if index.series(other_id).version_key == s.version_key
            and same_title(index.series(other_id).member_titles.get(slot, ""), mail.subject.title)
        ]
        answering = index.series_answering(mail.message_id)
        for how, other_id in [("thread", i) for i in answering] + [("title", i) for i in twins]:
            o = index.series(other_id)
            if (
                other_id == s.series_id
                or o.lineage_id == s.lineage_id
                or o.supersedes is not None
                or o.duplicate_of is not None
                or index.lineage(o.lineage_id) != [other_id]
                or (how == "thread" and o.version_key == s.version_key and similarity(o.title, title) == 0)
            ):
                continue  # already placed, or a follow-up set answering us (case 16)
            if (
                how == "thread"
                and slot > 0
                and set(o.members) == {slot}
                and o.declared_total == s.declared_total
                and o.version_key != s.version_key
            ):
                o = copy_state(o)
                o.partial = True  # it answered this very k/N: a partial reroll
                self.updates.append((other_id, "partial", True))
            after = copy_state(s)
            after.members = self.after_members
            after.member_titles = {**s.member_titles, slot: mail.subject.title}
            self._place(o, (s, how), peer=after)
            self.notes.append(f"series {other_id} joins lineage {s.lineage_id} via {how}")
            return
