"""Typed inputs of the digest: the window it covers and the mails in it.

The report is a pure function of these (see `render.render_digest`); the
store-reading layer (`source`) builds them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from bot.mail.models import ParsedMail

SHORT_ID = 8  # commit ids in the header are abbreviated like the old tool's


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Window(_Frozen):
    """What the header names: `From <start> to <end>`.

    For a public-inbox range `A..B` the labels are the short ids of A and B as
    a git user reads `A..B`: A is the commit *before* the window (excluded, as
    in `git log A..B`) and B the last commit in it.
    """

    start: str
    end: str

    @classmethod
    def for_range(cls, base_commit: str, tip_commit: str) -> Window:
        return cls(start=base_commit[:SHORT_ID], end=tip_commit[:SHORT_ID])

    @classmethod
    def for_dates(cls, since: datetime, until: datetime) -> Window:
        return cls(start=_date_label(since), end=_date_label(until))


def _date_label(moment: datetime) -> str:
    """UTC, minutes; a bare date when the moment is midnight (the usual case)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class DigestMail(_Frozen):
    """One mail of the window, in arrival order, with its series grouping."""

    seq: int  # arrival order within the window's source
    parsed: ParsedMail
    # The tracker's series for a patch or cover; None where it has none (the
    # mail is then a group of its own in the patch list).
    series_id: int | None = None
