"""Typed results of parsing one list mail.

These frozen models are the contract between `bot.mail` (which builds them
from raw bytes, without I/O) and every later stage. Field names follow the
JSON that `kvm-patchbot parse` prints, so `model_dump(mode="json")` is that
output.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.mail.construct import construct


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def __reduce__(self) -> tuple[Any, tuple[type[BaseModel], dict[str, Any]]]:
        # Pickled as its values, rebuilt by `construct` (compiled): the bulk
        # path's parse worker sends every ParsedMail across (bot.store.parsepool),
        # and pydantic's own __getstate__/__setstate__, a Python call each per
        # model, were about a third of that (0.42 -> 0.27 s CPU on kvmarm). The
        # values were valid when pickled; the copy equals the original.
        return construct, (type(self), self.__dict__)


class Kind(StrEnum):
    """What a mail is; see `bot.mail.classify` for the rules.

    `backport` is a patch (or cover) aimed at a stable tree rather than
    mainline: AUTOSEL/MANUALSEL picks and stable-queue postings such as
    `[PATCH AUTOSEL 6.1 07/19]`, `[PATCH 6.6 12/40]`, `[PATCH 5.15.y]`,
    `[PATCH stable 6.1]`. Its subject still gives index, total and title;
    `ParsedMail.backport_to` names the trees.
    """

    PATCH = "patch"
    COVER = "cover"
    REPLY = "reply"
    PULL = "pull"
    BOT = "bot"
    BACKPORT = "backport"
    OTHER = "other"
    UNPARSEABLE = "unparseable"


class Person(_Frozen):
    name: str = ""
    email: str = ""


class Subject(_Frozen):
    """A subject line taken apart: prefixes, counters and the bare title."""

    raw: str = ""
    title: str = ""
    subsystem: str | None = None
    # Every bracketed prefix token in order, normalised (e.g. ["PATCH", "v3", "05/12"]);
    # tree/project tags such as "kvm-unit-tests" or "net-next" stay in here.
    prefixes: tuple[str, ...] = ()
    # Project/tree tags among the prefixes ("kvm-unit-tests", "net-next", "-next", ...).
    tags: tuple[str, ...] = ()
    version: int = 1
    # The version as written where it is not a whole number ("5.5"), else None.
    version_label: str | None = None
    index: int | None = None
    total: int | None = None
    rfc: bool = False
    resend: bool = False
    is_reply: bool = False
    is_forward: bool = False
    # b4's `Re: (subset) [PATCH ...]`: a thank-you for some patches of a series only.
    subset: bool = False
    is_patch: bool = False  # a [PATCH ...]-style prefix is present
    pull: bool = False
    bot_report: bool = False
    autosel: bool = False
    # A backport aimed at stable trees ("6.1.y", "6.12"); empty when not one.
    stable_backport: bool = False
    stable_targets: tuple[str, ...] = ()


class Trailer(_Frozen):
    """One `Name: value` trailer line (unwrapped), in the order it was written."""

    name: str  # canonical case: "Reviewed-by", "Signed-off-by", "Fixes", ...
    value: str  # the value without the comment, e.g. "Jane Doe <jane@example.com>"
    extra: str | None = None  # "# arm64" comment or "(Documentation)" parenthetical
    person: Person | None = None  # for people trailers
    note: str | None = None  # a maintainer note such as "[sean: massage changelog]"


class Fixes(_Frozen):
    sha: str
    subject: str | None = None
    long_sha: bool = False  # more than the usual 12 hex digits
    nonstandard: bool = False  # e.g. "Fixes: commit <sha> (...)"


class StableTag(_Frozen):
    """What a mail asks of the stable trees."""

    tagged: bool = False
    versions: tuple[str, ...] = ()  # version hints: "5.10.x", "v6.1+", "6.6.y and later"
    prerequisites: tuple[str, ...] = ()  # commit ids named as prerequisites
    noautosel: bool = False  # stable+noautosel: opt-out, not a request
    embargoed: bool = False  # stable@kernel.org rather than stable@vger
    depends_on: tuple[Fixes, ...] = ()  # Stable-dep-of: trailers


class DiffstatEntry(_Frozen):
    path: str
    insertions: int = 0
    deletions: int = 0
    binary: bool = False
    old_path: str | None = None  # set for renames and copies


class Diffstat(_Frozen):
    files: int = 0
    insertions: int = 0
    deletions: int = 0
    per_file: tuple[DiffstatEntry, ...] = ()


class AppliedCommit(_Frozen):
    index: int | None = None
    title: str = ""
    commit: str | None = None
    url: str | None = None


class Applied(_Frozen):
    """A maintainer's "Applied to <tree> <branch>, thanks!" notice.

    `where` is the destination as written ("kvm-x86 svm", "kvm-arm64/misc-5.9",
    "stable" for "Queued this one for stable", "6.3" for "Queued (for 6.3)"),
    None when the notice names none; `tree`/`branch` are that destination
    taken apart. `indices` are the patch indexes the notice says were taken
    ("Queued 1-7", "Applied 1 and 2 to ...", or the indexes of a `b4 ty`
    per-patch list), sorted; empty when it does not say (the patch answered,
    or the whole series). `commits` holds the per-patch list (index, title,
    commit id or commit URL), or one bare entry per stated index.
    """

    tree: str | None = None
    branch: str | None = None
    where: str | None = None
    indices: tuple[int, ...] = ()
    commits: tuple[AppliedCommit, ...] = ()


class Attachment(_Frozen):
    filename: str | None = None
    content_type: str
    size: int
    is_diff: bool = False


class ParsedMail(_Frozen):
    """Everything the bot knows about one mail, derived from its raw bytes alone."""

    message_id: str  # without angle brackets
    synthetic_id: bool = False  # the mail had none: derived from its content
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()  # oldest first, de-duplicated
    author: Person = Person()
    date: datetime | None = None  # always timezone-aware when set
    to: tuple[Person, ...] = ()
    cc: tuple[Person, ...] = ()
    list_id: str | None = None
    subject: Subject = Subject()
    kind: Kind = Kind.OTHER
    # For kind backport: the stable trees it targets as the subject names them
    # ("6.1", "5.15.y"; `[PATCH 6.12,6.15]` gives both); empty when the subject
    # names none (`[PATCH stable v2]`) and for every other kind.
    backport_to: tuple[str, ...] = ()
    # The decoded text body (the text/plain part, or the first text part).
    body: str = ""
    # The commit message: body up to the `---` line before the diff, footer and
    # signature stripped; empty for mails that are not patches or covers.
    commit_message: str = ""
    trailers: tuple[Trailer, ...] = ()
    fixes: tuple[Fixes, ...] = ()
    stable: StableTag = StableTag()
    change_id: str | None = None
    base_commit: str | None = None
    # Links to earlier versions named in the mail (Supersedes:, "v1: https://lore...").
    previous_versions: tuple[str, ...] = ()
    diffstat: Diffstat | None = None  # as written in the mail's diffstat block
    diffstat_computed: Diffstat | None = None  # computed from the diff itself
    files: tuple[str, ...] = ()  # paths the diff touches
    has_diff: bool = False
    # A reply that carries a complete new patch ("how about this instead?").
    carries_patch: bool = False
    attachments: tuple[Attachment, ...] = ()
    applied: Applied | None = None
    size: int = 0
    errors: tuple[str, ...] = ()  # what could not be parsed; never raised
    warnings: tuple[str, ...] = Field(default=())  # odd but accepted input

    @property
    def is_reply(self) -> bool:
        return self.subject.is_reply
