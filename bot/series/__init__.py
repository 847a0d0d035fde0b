"""Series tracking: group patches into postings (series) and versions (lineages).

Pure logic: `decide(mail, index)` returns a `Decision`; `MemoryIndex` is the
in-memory `SeriesIndex` the store keeps and applies decisions to. With a
tracker window (`bot.series.window`) it holds only recent series, and the store
loads what a mail's lookups miss (recorded by a `Probe`) before deciding.
"""

from bot.series.decision import AppliedRecord, Decision, MemberRecord, Role, TrailerRecord
from bot.series.memindex import MemoryIndex
from bot.series.models import Event, EventKind, PatchView, SeriesView
from bot.series.replies import waits_for_parent
from bot.series.state import Member, SeriesIndex, SeriesState
from bot.series.tracker import decide

__all__ = [
    "AppliedRecord",
    "Decision",
    "Event",
    "EventKind",
    "Member",
    "MemberRecord",
    "MemoryIndex",
    "PatchView",
    "Role",
    "SeriesIndex",
    "SeriesState",
    "SeriesView",
    "TrailerRecord",
    "decide",
    "waits_for_parent",
]
