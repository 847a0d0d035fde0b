"""What a mail is (patch, cover, reply, pull, bot, other), from facts already parsed.

Pure and cheap: the subject's prefixes and counters, whether the mail itself
carries a diff, and whether it answers another mail. The order of the rules
is the point:

1. bot reports first (they carry `n/N` counters but are not series);
2. replies and forwards next: a `Re:` mail with a diff is still a reply, one
   that carries a patch (never a new series member); a forward never does;
3. pull requests (a numbered pull mail with a diff is a patch of the pull);
3b. stable backports (AUTOSEL, `[PATCH 6.6 12/40]`, `[PATCH 5.15.y]`,
   `[PATCH stable 6.1]`), covers included: a kind of their own, so they never
   look like a mainline series;
4. index 0 is a cover letter, even with an interdiff or range-diff in it;
5. a diff makes a patch, unless the mail answers another one without any
   bracketed prefix (an unnumbered "how about this instead?" diff);
6. no diff: a mail answering another is a reply (a `[PATCH n/N]` one lost
   its `Re:`); a lone `[PATCH]` without a diff is still a patch, else other.
"""

from __future__ import annotations

from typing import Final

from bot.mail.models import Kind, Person, Subject

# Kind's members, read once: a read on the Enum class costs ~1k instructions
# (EnumType.__getattr__); compiled, a Final is a C static.
_PATCH: Final = Kind.PATCH
_COVER: Final = Kind.COVER
_PULL: Final = Kind.PULL
_REPLY: Final = Kind.REPLY
_BOT: Final = Kind.BOT
_OTHER: Final = Kind.OTHER
_BACKPORT: Final = Kind.BACKPORT

# Senders whose mail is an automated report whatever the subject says.
_BOT_SENDERS: Final = frozenset({"lkp@intel.com"})
_BOT_DOMAINS: Final = ("@syzkaller.appspotmail.com",)


def is_bot_sender(author: Person) -> bool:
    email = author.email.lower()
    return email in _BOT_SENDERS or email.endswith(_BOT_DOMAINS)


def classify(
    subject: Subject, *, has_diff: bool, in_reply_to: str | None, author: Person
) -> tuple[Kind, bool]:
    """(kind, carries_patch) for one mail."""
    if subject.bot_report or is_bot_sender(author):
        return _BOT, False
    if subject.is_reply or subject.is_forward:
        return _REPLY, has_diff and not subject.is_forward
    if subject.pull:
        if has_diff and subject.index:
            return _PATCH, False
        return _PULL, False
    if subject.stable_backport:
        return _BACKPORT, False
    if subject.index == 0:
        return _COVER, False
    patchish = subject.is_patch or subject.index is not None
    if has_diff:
        # With a diff, any bracketed prefix marks a posting ("[PATCH/FIXUP FOR STABLE] ...").
        if in_reply_to and not (patchish or subject.prefixes):
            return _REPLY, True
        return _PATCH, False
    if in_reply_to:
        return _REPLY, False
    return (_PATCH if patchish else _OTHER), False
