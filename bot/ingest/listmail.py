"""List-management mail: what the list's software (or a mail system) sends the
subscribed address itself, rather than list traffic.

Subscribing the bot's address to kvm@vger.kernel.org brings a confirmation
request that a human must answer; a delivery problem brings bounces and
probes. Treated as list traffic, they would be tracked as odd mails or, with
`list_ids` set, refused (550) and never seen. The sink keeps them apart for
the operator (`kvm-patchbot list-mail`). Pure functions over the header block.

List traffic always carries the list's List-Id header (vger adds it to every
post); list-management mail does not, and is told by its sender and subject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.header import decode_header, make_header
from enum import StrEnum

_HEADER_END = re.compile(rb"\r?\n\r?\n")
# The list software's own addresses: mlmmj (kvm+help@, kvm+owner@, kvm+subconf-...@),
# majordomo and Mailman (kvm-request@, kvm-owner@, majordomo@), sympa.
_SOFTWARE_LOCAL = re.compile(
    r"(?:[+-](?:help|owner|request|subconf|unsubconf|confsub|confunsub|subscribe|unsubscribe|bounces?-probe|probe)\b"
    r"|^(?:majordomo|mlmmj|sympa|listserv|mailman)\b)",
    re.I,
)
_DAEMON_LOCAL = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon)$", re.I)
_CONFIRM_SUBJECT = re.compile(r"\b(?:confirm\w*|verif\w*)\b.*\b(?:un)?subscri|\b(?:un)?subscri\w*\b.*\bconfirm", re.I)
_TROUBLE = re.compile(r"bounc|probe|undeliver|could not be delivered|delivery (?:status|failure)", re.I)
_WELCOME_SUBJECT = re.compile(r"\b(?:welcome|goodbye|you (?:are|have been) (?:un)?subscribed)\b", re.I)


class ListMailKind(StrEnum):
    CONFIRMATION = "confirmation"  # answer it to (un)subscribe
    BOUNCE = "bounce"  # a delivery status notification, or a list's probe of our address
    NOTICE = "notice"  # other mail from the list's software: welcome, goodbye, help


@dataclass(frozen=True)
class ListMailInfo:
    kind: ListMailKind
    sender: str  # the From header, decoded
    subject: str


def _decoded(value: object) -> str:
    text = str(value or "")
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # a malformed encoded word: the header as written
        return text


def _local_part(address: str) -> str:
    address = address.strip().strip("<>")
    return address.rpartition("@")[0] if "@" in address else address


def classify(raw: bytes, mail_from: str) -> ListMailInfo | None:
    """What kind of list-management mail this is, or None for list traffic.

    `mail_from` is the SMTP envelope sender ("" for a bounce: RFC 5321 null path)."""
    end = _HEADER_END.search(raw)
    msg = BytesHeaderParser(policy=compat32).parsebytes(raw[: end.end()] if end else raw)
    if msg.get("List-Id") is not None:
        return None
    sender = _decoded(msg.get("From"))
    subject = _decoded(msg.get("Subject"))
    from_local = _local_part(re.sub(r".*<([^>]*)>.*", r"\1", sender))
    ctype = str(msg.get("Content-Type") or "").lower()
    if (
        not mail_from.strip("<>")
        or ctype.startswith("multipart/report")
        or _DAEMON_LOCAL.match(from_local)
        or _DAEMON_LOCAL.match(_local_part(mail_from))
    ):
        return ListMailInfo(ListMailKind.BOUNCE, sender, subject)
    software = _SOFTWARE_LOCAL.search(from_local) or _SOFTWARE_LOCAL.search(_local_part(mail_from))
    if _CONFIRM_SUBJECT.search(subject) and (software or msg.get("Reply-To") is not None):
        return ListMailInfo(ListMailKind.CONFIRMATION, sender, subject)
    if software:
        trouble = _TROUBLE.search(subject) or _TROUBLE.search(from_local)  # mlmmj's probe of a bouncing address
        kind = ListMailKind.BOUNCE if trouble else ListMailKind.NOTICE
        return ListMailInfo(kind, sender, subject)
    if _WELCOME_SUBJECT.search(subject) and msg.get("Auto-Submitted", "no").lower() != "no":
        return ListMailInfo(ListMailKind.NOTICE, sender, subject)
    return None
