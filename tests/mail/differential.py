"""The parser against the standard library's `email.policy.default`, field by field.

`compare(raw)` parses one mail both ways and returns the fields that differ,
each either explained by one of the named, documented differences in
`KNOWN` (a rule that must recognise the exact shape of the difference) or
left unexplained. tests/mail/test_differential.py runs it over the corpus.
"""

from __future__ import annotations

import email
import email.message
import email.policy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from bot.mail import ParsedMail, parse_mail
from bot.mail.headers import message_ids


@dataclass(frozen=True)
class Std:
    """What `email.policy.default` makes of one mail (an exception's name where it raised)."""

    msg: email.message.EmailMessage
    subject: Any
    author: Any
    date: Any
    message_id: Any
    in_reply_to: Any
    references: Any
    body: Any


def _get(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - the stdlib's failure is data here
        return Raised(type(exc).__name__)


@dataclass(frozen=True)
class Raised:
    error: str


def _header(msg: email.message.EmailMessage, name: str) -> str | None:
    value = msg[name]
    return None if value is None else str(value)


def _author(msg: email.message.EmailMessage) -> tuple[str, str] | None:
    value = msg["from"]
    if value is None:
        return None
    addresses = value.addresses
    return (addresses[0].display_name, addresses[0].addr_spec) if addresses else None


def _body(msg: email.message.EmailMessage) -> str | None:
    part = msg.get_body(preferencelist=("plain",))
    return None if part is None else part.get_content()


def read_std(raw: bytes) -> Std:
    msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    return Std(
        msg=msg,
        subject=_get(lambda: _header(msg, "subject")),
        author=_get(lambda: _author(msg)),
        date=_get(lambda: msg["date"].datetime if msg["date"] is not None else None),
        message_id=_get(lambda: _header(msg, "message-id")),
        in_reply_to=_get(lambda: _header(msg, "in-reply-to")),
        references=_get(lambda: _header(msg, "references")),
        body=_get(lambda: _body(msg)),
    )


def _ids(value: Any) -> Any:
    """The ids of an In-Reply-To/References value the way the stdlib gives it."""
    return tuple(message_ids(value)) if isinstance(value, str) else value


def _one_line(value: Any) -> Any:
    """Header text with its folding whitespace collapsed (both sides alike)."""
    return " ".join(value.split()) if isinstance(value, str) else value


def fields(mail: ParsedMail, std: Std) -> dict[str, tuple[Any, Any]]:
    """(stdlib, ours) per compared field, normalised the same way on both sides."""
    irt = _ids(std.in_reply_to)
    return {
        "subject": (_one_line(std.subject if std.subject is not None else ""), _one_line(mail.subject.raw)),
        "from": (std.author, (mail.author.name, mail.author.email)),
        "date": (std.date, mail.date),
        "message_id": (
            _ids(std.message_id)[0] if isinstance(std.message_id, str) and _ids(std.message_id) else std.message_id,
            mail.message_id,
        ),
        "in_reply_to": (irt[0] if isinstance(irt, tuple) and irt else None if irt == () else irt, mail.in_reply_to),
        "references": (tuple(dict.fromkeys(_ids(std.references))) if isinstance(std.references, str) else (
            () if std.references is None else std.references), mail.references),
        "body": (std.body if std.body is not None else "", mail.body),
    }


@dataclass(frozen=True)
class Known:
    """One documented way our parser differs from the stdlib, and why."""

    name: str
    field: str
    why: str
    applies: Callable[[Any, Any, ParsedMail, Std], bool]


# patchwork's deliberately corrupted mails (fixtures/patchwork/fuzz): see "corrupted-fixture".
FUZZ_DIR = "fixtures/patchwork/fuzz/"


def _warned(mail: ParsedMail, *needles: str) -> bool:
    return any(n in w for w in mail.warnings for n in needles)


def _text_leaves(msg: email.message.EmailMessage) -> list[email.message.EmailMessage]:
    return [
        p for p in msg.walk()  # type: ignore[misc]
        if not p.is_multipart() and p.get_content_type() == "text/plain" and not p.is_attachment()
    ]


def _crlf(text: Any) -> Any:
    return text.replace("\r\n", "\n") if isinstance(text, str) else text


def _header_count(std: Std, name: str) -> int:
    return len(std.msg.get_all(name) or [])


def _raw_header(std: Std, name: str) -> str:
    values = std.msg._headers  # (name, raw value) pairs as read: the folding is kept
    return next((str(v) for n, v in values if n.lower() == name), "")


def _without_spaces(value: Any) -> Any:
    return "".join(value.split()) if isinstance(value, str) else value


def _same_address(s: str, o: str) -> bool:
    """The same address once the domain's case (case-insensitive by RFC 5321) is ignored."""
    sl, _, sd = s.rpartition("@")
    ol, _, od = o.rpartition("@")
    return sl == ol and sd.lower() == od.lower()


def _surrogate_escaped(s: Any, o: Any) -> bool:
    """`s` is the stdlib's surrogateescape reading of the UTF-8 text `o`."""
    try:
        return isinstance(s, str) and s.encode("utf-8", "surrogateescape").decode("utf-8") == o
    except UnicodeError:
        return False


def _naive_as_utc(s: Any, o: Any) -> bool:
    return isinstance(s, datetime) and s.tzinfo is None and o == s.replace(tzinfo=timezone.utc)


KNOWN: tuple[Known, ...] = (
    Known(
        "crlf-in-encoded-body", "body",
        "A base64/QP body encoding CRLF line ends: the stdlib keeps the \\r, we store \\n line ends.",
        lambda s, o, m, std: isinstance(s, str) and "\r\n" in s and _crlf(s) == o,
    ),
    Known(
        "text-parts-joined", "body",
        "A multipart mail with several inline text/plain parts (a list's footer part, a second note):"
        " get_body() returns the first, our body is all of them joined by newlines.",
        lambda s, o, m, std: isinstance(s, str) and len(_text_leaves(std.msg)) > 1 and o.startswith(_crlf(s)),
    ),
    Known(
        "no-message-id", "message_id",
        "No Message-ID header: we derive a stable synthetic id from the content; the stdlib has none.",
        lambda s, o, m, std: s is None and m.synthetic_id,
    ),
    Known(
        "several-references-headers", "references",
        "Several References headers: the stdlib's msg['references'] is the first, we read every one.",
        lambda s, o, m, std: isinstance(s, tuple) and _header_count(std, "references") > 1 and o[: len(s)] == s,
    ),
    Known(
        "space-between-encoded-words", "from",
        "Two encoded words split by a fold: RFC 2047 section 6.2 drops the space between them, the"
        " stdlib's header parser keeps one.",
        lambda s, o, m, std: isinstance(s, tuple) and s[1] == o[1] and _without_spaces(s[0]) == _without_spaces(o[0])
        and "?=\n" in _raw_header(std, "from"),
    ),
    Known(
        "date-without-zone", "date",
        "A Date with no usable zone (`-0000`, a bad one): the stdlib gives a naive datetime, ours is"
        " always aware and takes it as UTC.",
        lambda s, o, m, std: _naive_as_utc(s, o),
    ),
    Known(
        "date-from-received", "date",
        "An unreadable or absurd Date: the stdlib gives None (or raises); we take the newest Received"
        " date, and say so in a warning.",
        lambda s, o, m, std: (s is None or isinstance(s, Raised))
        and _warned(m, "unreadable Date", "no Date header"),
    ),
    Known(
        "unknown-charset", "body",
        "A charset Python does not know: the stdlib raises LookupError, we decode as UTF-8 (or"
        " Latin-1) and warn.",
        lambda s, o, m, std: isinstance(s, Raised) and _warned(m, "unknown charset"),
    ),
    Known(
        "address-without-domain", "from",
        "A From address without an @: the stdlib takes the bare word as the address, we keep the"
        " value as a name with no address.",
        lambda s, o, m, std: isinstance(s, tuple) and "@" not in s[1] and o[1] == "",
    ),
    Known(
        "domain-case", "from",
        "We lower-case the domain of an address (domains compare case-insensitively, so one sender"
        " is one Person); the stdlib keeps it as written (`Jonathan.Cameron@Huawei.com`).",
        lambda s, o, m, std: isinstance(s, tuple) and s[0] == o[0] and s[1] != o[1] and _same_address(s[1], o[1]),
    ),
    Known(
        "quoted-empty-local-part", "from",
        "An address with a quoted empty local part (`\"\"@novsu.ru`): the stdlib unquotes it to"
        " `@novsu.ru`, which is no address; we keep the quotes.",
        lambda s, o, m, std: isinstance(s, tuple) and s[0] == o[0] and o[1] == '""' + s[1],
    ),
    Known(
        "raw-utf8-header", "from",
        "8-bit UTF-8 in a header (not RFC 2047 encoded): policy.default keeps the bytes as surrogate"
        " escapes, we decode them as UTF-8.",
        lambda s, o, m, std: isinstance(s, tuple) and s[1] == o[1] and _surrogate_escaped(s[0], o[0]),
    ),
)

# Corrupted mail: patchwork's fuzz fixtures flip bytes in headers and bodies
# on purpose. Where our parser recorded the damage (a warning), the two
# readings of the garbage may differ in any field; test_differential still
# parses these mails and checks they are storable. Anywhere else, and
# without a warning, a difference must match a rule above.
CORRUPTED = Known(
    "corrupted-fixture", "*",
    "patchwork's deliberately corrupted fuzz mails, where our parse warned about the damage.",
    lambda s, o, m, std: bool(m.warnings),
)


@dataclass(frozen=True)
class Difference:
    field: str
    std: Any
    ours: Any
    known: str | None  # the KNOWN rule that explains it, or None: unexplained


def compare(raw: bytes, origin: str = "") -> tuple[ParsedMail, list[Difference]]:
    """Our parse of `raw` and every field where it differs from the stdlib's."""
    mail = parse_mail(raw)
    std = read_std(raw)
    out: list[Difference] = []
    for name, (s, o) in fields(mail, std).items():
        if s == o:
            continue
        rule = next((k for k in KNOWN if k.field == name and k.applies(s, o, mail, std)), None)
        if rule is None and FUZZ_DIR in origin and CORRUPTED.applies(s, o, mail, std):
            rule = CORRUPTED
        out.append(Difference(name, s, o, rule.name if rule is not None else None))
    return mail, out


def string_fields(obj: object) -> list[str]:
    """Every str inside a parse result (models, tuples, nested)."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, BaseModel):
        return [s for name in type(obj).model_fields for s in string_fields(getattr(obj, name))]
    if isinstance(obj, tuple | list):
        return [s for item in obj for s in string_fields(item)]
    return []


def unstorable(mail: ParsedMail) -> list[str]:
    """The str fields of `mail` that cannot be encoded as UTF-8 (lone surrogates)."""
    bad = []
    for text in string_fields(mail):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            bad.append(text[:80])
    return bad
