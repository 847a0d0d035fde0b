"""The "KVM mailing list update" report as plain text.

Layout follows the older tool's digest byte for byte (tests/data/seed/
digest.txt) with two deliberate changes: subjects are complete (it cut them
at the header fold) and the patch list is filled (it left it empty).
Deterministic: the same inputs always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.digest.counts import person_label, top_contributors, top_domains
from bot.digest.entries import is_new_entry, message_text, title_of
from bot.digest.model import DigestMail, Window
from bot.digest.patchlist import patch_list_lines

SEPARATOR = "-" * 70


def _header(window: Window) -> list[str]:
    return [
        f"From {window.start} to {window.end}",
        f"KVM mailing list update from {window.start} to {window.end}",
        "",
    ]


def _counts(mails: Sequence[DigestMail]) -> list[str]:
    authors = [m.parsed.author for m in mails]
    lines = ["Top 15 contributor Email domains (Based on Email Body)", ""]
    lines += [f"{count:7d} {domain}" for count, domain in top_domains(authors)]
    lines += ["", "Top 15 contributors (Based on Email Body)", ""]
    lines += [f"{count:7d}  {who}" for count, who in top_contributors(authors)]
    return lines + [""]


def _entry(mail: DigestMail) -> list[str]:
    parsed = mail.parsed
    return [
        f"New:  {title_of(parsed)}",
        parsed.subject.raw,
        f"Author: {person_label(parsed.author)}",
        "",
        message_text(parsed.body),
        "",
        SEPARATOR,
        "",
    ]


def render_digest(window: Window, mails: Sequence[DigestMail]) -> str:
    """The whole report for `mails` (any order; arrival is their `seq`)."""
    ordered = sorted(mails, key=lambda m: m.seq)
    lines = _header(window) + _counts(ordered)
    lines += ["===== Patch list in this time period =====", ""]
    lines += patch_list_lines(ordered)
    lines += ["", "===== Patch Commit Messages ====", ""]
    # Newest first, as `git log` lists a range.
    for mail in reversed(ordered):
        if is_new_entry(mail.parsed):
            lines += _entry(mail)
    return "\n".join(lines) + "\n"
