"""The "Patch list in this time period" section: every patch mail, by series.

Series appear in the order their first mail arrived; inside a series, mails
go by index (cover 0 first, an unnumbered patch before numbered ones), then
arrival. Each line is the full subject behind a three-column marker.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.digest.entries import is_patch_mail
from bot.digest.model import DigestMail
from bot.mail.models import ParsedMail

LEGEND = "Markers: F = carries a Fixes: tag, S = asks for a stable backport"


def marker(mail: ParsedMail) -> str:
    fixes = "F" if mail.fixes else " "
    stable = "S" if mail.stable.tagged and not mail.stable.noautosel else " "
    return f"{fixes}{stable}"


def patch_line(mail: ParsedMail) -> str:
    return f"{marker(mail)} {mail.subject.raw}"


def group_by_series(mails: Sequence[DigestMail]) -> list[list[DigestMail]]:
    """Patch mails grouped by series, groups in first-arrival order."""
    groups: dict[object, list[DigestMail]] = {}
    for mail in sorted(mails, key=lambda m: m.seq):
        if not is_patch_mail(mail.parsed):
            continue
        key: object = mail.series_id if mail.series_id is not None else ("mail", mail.seq)
        groups.setdefault(key, []).append(mail)
    return [
        sorted(group, key=lambda m: (m.parsed.subject.index or 0, m.seq))
        for group in groups.values()
    ]


def patch_list_lines(mails: Sequence[DigestMail]) -> list[str]:
    """The section's body: legend, then one blank-separated block per series."""
    groups = group_by_series(mails)
    if not groups:
        return []
    lines = [LEGEND]
    for group in groups:
        lines.append("")
        lines.extend(patch_line(m.parsed) for m in group)
    return lines
