"""An independent reading of a window of raw mails with the stdlib `email`
package, to check the digest's figures without the code under test."""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from dataclasses import dataclass, field

_REPLY = re.compile(r"^\s*(?:re|fwd?|aw)\s*:", re.IGNORECASE)
_TAGS = re.compile(r"^(?:\s*\[([^\]]*)\])+")
_TAG = re.compile(r"\[([^\]]*)\]")
_COUNTER = re.compile(r"\b(\d+)/(\d+)\b")


@dataclass
class Reference:
    domains: Counter[str] = field(default_factory=Counter)
    senders: Counter[str] = field(default_factory=Counter)
    patch_subjects: list[str] = field(default_factory=list)
    new_entries: int = 0


def subject_of(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return " ".join(str(msg.get("subject", "")).split())


def read_window(raws: list[bytes]) -> Reference:
    ref = Reference()
    names: dict[str, str] = {}
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        sender = msg["from"].addresses[0]
        addr = sender.addr_spec
        ref.domains[addr.rpartition("@")[2].lower()] += 1
        names.setdefault(addr.lower(), sender.display_name)
        ref.senders[addr.lower()] += 1
        subject = " ".join(str(msg.get("subject", "")).split())
        head = _TAGS.match(subject)
        if _REPLY.match(subject) or not head:
            continue
        tags = _TAG.findall(head.group(0))
        if not any(re.search(r"\bPATCH\b", t, re.IGNORECASE) for t in tags):
            continue
        ref.patch_subjects.append(subject)
        counter = next((_COUNTER.search(t) for t in tags if _COUNTER.search(t)), None)
        if counter is None or int(counter.group(1)) in (0, 1):
            ref.new_entries += 1
    return ref
