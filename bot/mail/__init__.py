"""Parsing one list mail: raw bytes in, frozen models out, no I/O.

`parse_mail(raw)` is the entry point (it never raises); `to_json(mail)` is
the flat JSON `kvm-patchbot parse` prints.
"""

from bot.mail.models import (
    Applied,
    AppliedCommit,
    Attachment,
    Diffstat,
    DiffstatEntry,
    Fixes,
    Kind,
    ParsedMail,
    Person,
    StableTag,
    Subject,
    Trailer,
)
from bot.mail.parse import parse_mail, to_json

__all__ = [
    "Applied",
    "AppliedCommit",
    "Attachment",
    "Diffstat",
    "DiffstatEntry",
    "Fixes",
    "Kind",
    "ParsedMail",
    "Person",
    "StableTag",
    "Subject",
    "Trailer",
    "parse_mail",
    "to_json",
]
