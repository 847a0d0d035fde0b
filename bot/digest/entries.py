"""Which mails the digest lists, and the text it shows for each.

A *patch mail* is a patch or a cover letter (the parser's kind). The commit
messages section has an entry ("New:") for each cover letter, each single
patch (no counter, or 1/1) and each first patch (1/N) of a series.
"""

from __future__ import annotations

import re

from bot.mail.models import Kind, ParsedMail

PATCH_KINDS = frozenset({Kind.PATCH, Kind.COVER})

# Leading bracketed tags of a subject: "[PATCH v2 3/8] [RFC] title" -> "title".
_LEADING_TAGS = re.compile(r"^(?:\s*\[[^\]]*\])+\s*")
# git's diffstat summary: " 3 files changed, 7 insertions(+), 7 deletions(-)".
_DIFFSTAT_SUMMARY = re.compile(
    r"^ ?\d+ files? changed(?:, \d+ insertions?\(\+\))?(?:, \d+ deletions?\(-\))?\s*$"
)
# Where a body without a diffstat stops: the diff itself or the signature.
_BODY_END = re.compile(r"^(?:diff --git |-- $|Index: |--- a/)")


def is_patch_mail(mail: ParsedMail) -> bool:
    return mail.kind in PATCH_KINDS


def is_new_entry(mail: ParsedMail) -> bool:
    """A cover, a single patch or the first patch of a series."""
    return is_patch_mail(mail) and (mail.kind is Kind.COVER or mail.subject.index in (None, 0, 1))


def title_of(mail: ParsedMail) -> str:
    """The subject without its bracketed tags, subsystem kept ("KVM: x86: ...")."""
    return _LEADING_TAGS.sub("", mail.subject.raw).strip()


def message_text(body: str) -> str:
    """The body up to and including the diffstat summary line.

    Without a diffstat: up to the diff or the signature, trailing blank lines
    dropped, so an entry never carries a diff.
    """
    lines = body.replace("\r\n", "\n").split("\n")
    for end, line in enumerate(lines):
        if _DIFFSTAT_SUMMARY.match(line):
            return "\n".join(lines[: end + 1])
    kept: list[str] = []
    for line in lines:
        if _BODY_END.match(line):
            break
        kept.append(line)
    while kept and kept[-1].strip() in ("", "---"):
        kept.pop()
    return "\n".join(kept)
