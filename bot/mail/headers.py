"""Mail headers straight from bytes: split, unfold, decode only what we use.

The stdlib `email` parser is far too slow for the archive rates we need
(it builds a full object tree for every header), so the header block is
scanned once, line by line, for just the headers the bot reads.
Nothing here raises on bad input: undecodable bytes become replacement
characters and the caller gets a warning.
"""

from __future__ import annotations

import binascii
import codecs
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_tz
from typing import Any, Final

# Headers the parser uses; everything else in the block is skipped unread.
WANTED: Final = (
    "message-id",
    "in-reply-to",
    "references",
    "from",
    "date",
    "subject",
    "to",
    "cc",
    "list-id",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "x-original-from",
    "reply-to",
    "x-mailing-list",
)


# Bytes a wanted header's name may start with, either case (1), or not (0):
# folded continuation lines, ARC-*, Authentication-Results, ... are turned
# away on this one lookup, before their colon is looked for.
_FIRST_LETTERS: Final = {c for n in WANTED for c in (ord(n[0]), ord(n[0].upper()))}
_MAY_START: Final = bytes(c in _FIRST_LETTERS for c in range(256))
# The wanted names' shapes: most names that get that far (X-Spam-Level,
# DKIM-Signature, Received, X-Virus-Scanned, ...) have another length, first
# letter or last letter, and are turned away without being looked up.
_LONGEST: Final = max(len(n) for n in WANTED)


def _shape_table(at: int) -> bytes:
    """1 at length * 256 + letter of each wanted name, the letter at `at`.

    A row per length holds every byte value: a name's byte of 0x80 or above
    (`| 32` keeps it there) must not reach into the next row, or past the end."""
    shapes = {len(n) * 256 + ord(n[at]) for n in WANTED}
    return bytes(i in shapes for i in range((_LONGEST + 1) * 256))


_FIRST_SHAPES: Final = _shape_table(0)
_LAST_SHAPES: Final = _shape_table(-1)
_WANTED_BYTES: Final = {n.encode(): n for n in WANTED}
# A line's text up to its colon ("Message-Id", "CC ", "Received", ...) -> the
# wanted name it spells, or "" for none. Bounded: mailers use few spellings.
# (Final: compiled, a C static, not a module-dict lookup a line.)
_NAME_OF: Final[dict[bytes, str]] = {}
_RECEIVED: Final = re.compile(rb"\nreceived[ \t]*:(.*(?:\n[ \t].*)*)", re.IGNORECASE)
_BLANK_LINE: Final = re.compile(b"\n\n")
_FIRST_LINE_HEADER: Final = re.compile(rb"[!-9;-~]+[ \t]*:")
_ENCODED_WORD: Final = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_ENCODED_GAP: Final = re.compile(r"(\?=)\s+(=\?)")
_COMMENT: Final = re.compile(r"\([^()]*\)")
_ANGLE_ID: Final = re.compile(r"<([^<>]*)>")
_DATE: Final = re.compile(
    r"(?:[A-Za-z]+,?\s*)?(\d{1,2})[\s-]+([A-Za-z]{3})[a-z]*[\s-]+(\d{2,4})\s+"
    r"(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?\s*([+-]\d{4}|[A-Za-z]{1,5})?"
)
_MONTHS: Final = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_ZONES: Final = {"ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -500, "edt": -400, "cst": -600,
          "cdt": -500, "mst": -700, "mdt": -600, "pst": -800, "pdt": -700}
# Dates outside this window are mailer bugs (1970 epochs, year 2106, ...).
MIN_YEAR, MAX_YEAR = 1990, 2100
MAX_HEADER_LEN: Final = 64 * 1024


def remember(cache: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Keep `value` for `key` in one of the parser's memos of recurring header
    values, emptied when it holds `limit` entries: bounded, whatever the input."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value


# init=False, here and on the parser's other dataclasses made once a mail or
# more: compiled, an `__init__` of the class's own is native code, while the
# one `dataclass` writes stays interpreted Python (2-3k instructions a call,
# 11k for a frozen class).
@dataclass(slots=True, init=False)
class RawHeaders:
    """The wanted headers of one mail, values still bytes, in order of appearance."""

    values: dict[str, list[bytes]]
    head: bytes
    warnings: list[str]

    def __init__(self, head: bytes = b"") -> None:
        self.values = {}
        self.head = head
        self.warnings = []

    def first(self, name: str) -> bytes | None:
        got = self.values.get(name)
        return got[0] if got else None

    def all(self, name: str) -> list[bytes]:
        return self.values.get(name, [])


def _without_separator(raw: bytes) -> bytes:
    """`raw` without an mbox "From " separator line left on it (not a header)."""
    if raw.startswith(b"From "):
        nl = raw.find(b"\n")
        return raw[nl + 1 :] if nl != -1 else b""
    return raw


def split_mail(raw: bytes) -> tuple[bytes, bytes]:
    """(header block, body) at the first empty line; CRLF already normalised."""
    raw = _without_separator(raw)
    if raw.startswith(b"\n"):
        return b"", raw[1:]
    m = _BLANK_LINE.search(raw)  # 2x faster than bytes.find for this needle
    if m is None:
        return raw, b""
    cut = m.start()
    return raw[: cut + 1], raw[cut + 2 :]


def read_head(raw: bytes) -> tuple[bytes, bytes, RawHeaders]:
    """`split_mail(raw)` and `read_headers` of its header block, from one
    pass over the block instead of one to split and one to read it.

    The headers are read from the block as found: when the caller must
    change it first (NUL bytes), it reads them again with `read_headers`.
    """
    raw = _without_separator(raw)
    if raw.startswith(b"\n"):
        return b"", raw[1:], RawHeaders()
    out = RawHeaders()
    blank = _scan(raw, out, to_blank=True)
    if blank == -1:
        out.head = raw
        return raw, b"", out
    out.head = raw[: blank + 1]
    return out.head, raw[blank + 2 :], out


def _scan(raw: bytes, out: RawHeaders, to_blank: bool) -> int:
    """Each wanted header of `raw` into `out`, in order; with `to_blank`, up to
    the first empty line, whose newline's index it returns (-1: none).

    A header is a line `Name[ \t]*:` (the name in any case) and its value is
    the rest of the line, blanks after the colon left out, with the folded
    lines (those starting with a blank) after it.
    """
    # Latin-1: one character per byte, so offsets in `text` are offsets in
    # `raw`; compiled, str.find is a direct call to memchr (bytes.find is a
    # generic method call), and one per line beats the regex engine's
    # byte-by-byte walk over the header block.
    text = raw.decode("latin-1")
    values = out.values
    n = len(raw)
    pos = 0
    while pos < n:
        nl = text.find("\n", pos)
        if nl == -1:
            nl = n
        if _MAY_START[raw[pos]]:
            colon = text.find(":", pos, nl)
            length = colon - pos
            # (`| 32`: a letter in lower case, and no other byte a lower-case
            # letter; a blank before the colon is not part of the name's length)
            if colon != -1 and (
                (
                    length <= _LONGEST
                    and _FIRST_SHAPES[length * 256 + (raw[pos] | 32)]
                    and _LAST_SHAPES[length * 256 + (raw[colon - 1] | 32)]
                )
                or raw[colon - 1] == 32
                or raw[colon - 1] == 9
            ):
                written = raw[pos:colon]
                name = _NAME_OF.get(written)
                if name is None:
                    name = _WANTED_BYTES.get(written.rstrip(b" \t").lower(), "")
                    remember(_NAME_OF, written, name, 1024)
                if name:
                    start = colon + 1
                    while start < nl and (raw[start] == 32 or raw[start] == 9):
                        start += 1
                    while nl + 1 < n and (raw[nl + 1] == 32 or raw[nl + 1] == 9):
                        nl = text.find("\n", nl + 1)
                        if nl == -1:
                            nl = n
                    value = raw[start:nl]
                    if len(value) > MAX_HEADER_LEN:
                        out.warnings.append(f"{name} header truncated from {len(value)} bytes")
                        value = value[:MAX_HEADER_LEN]
                    got = values.get(name)
                    if got is None:
                        values[name] = [value]
                    else:
                        got.append(value)
        if to_blank and nl + 1 < n and raw[nl + 1] == 10:
            return nl
        pos = nl + 1
    return -1


def looks_like_headers(head: bytes) -> bool:
    """Whether `head` opens with a header name and its colon (`_FIRST_LINE_HEADER`).

    Read a byte at a time (compiled, direct reads): the regex's call, state
    and match cost ten times as much. Its name class holds neither the
    blanks nor the colon after it, so no backtracking could find a match
    this misses.
    """
    n = len(head)
    i = 0
    while i < n and 33 <= head[i] <= 126 and head[i] != 58:  # [!-9;-~]
        i += 1
    if i == 0:
        return False
    while i < n and (head[i] == 32 or head[i] == 9):
        i += 1
    return i < n and head[i] == 58


def read_headers(head: bytes) -> RawHeaders:
    """The wanted headers with their folding kept (unfold when decoding)."""
    out = RawHeaders(head=head)
    _scan(head, out, to_blank=False)
    return out


def to_text(value: bytes, warnings: list[str] | None = None, what: str = "header") -> str:
    """Header bytes as text: ASCII fast path, else UTF-8, else Latin-1 (8-bit headers)."""
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        pass
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")
        if warnings is not None:
            warnings.append(f"8-bit {what} is not UTF-8; read as Latin-1")
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text


def unfold(value: bytes) -> bytes:
    """Join folded lines; the fold and the whitespace around it become one space."""
    if value.find(b"\n") == -1:  # (not `in`: see header_text)
        return value.strip()
    # What `[ \t]*\r?\n[ \t]*` -> " " does, per line: 3x faster than re.sub,
    # whose pattern has no literal start and is tried at every byte.
    # (each strip only when there is a blank to strip: compiled, a byte test
    # is a direct read, a strip a generic method call)
    lines = value.split(b"\n")
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if i and line and (line[0] == 32 or line[0] == 9):
            line = line.lstrip(b" \t")
        if i < last and line:
            if line[-1] == 13:  # \r
                line = line[:-1]
            if line and (line[-1] == 32 or line[-1] == 9):
                line = line.rstrip(b" \t")
        lines[i] = line
    return b" ".join(lines).strip()


# A MIME charset name as written -> `lookup_charset`'s answer: a mail's few
# names recur (codecs.lookup and the string work cost ~2k instructions a
# name). Bounded.
_CODEC_OF: Final[dict[str, str | None]] = {}


def lookup_charset(name: str) -> str | None:
    """A Python codec name for a MIME charset name, or None if unknown."""
    if name in _CODEC_OF:
        return _CODEC_OF[name]
    codec = _lookup_charset(name)
    remember(_CODEC_OF, name, codec, 256)
    return codec


def _lookup_charset(name: str) -> str | None:
    name = name.strip().strip('"').lower()
    if name in ("us-ascii", "ascii", "utf-8", "utf8"):
        return "utf-8"
    if name in ("unknown-8bit", "x-unknown", "8bit", ""):
        return None
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def decode_bytes(data: bytes, charset: str | None, warnings: list[str] | None = None) -> str:
    """Bytes in a declared charset as text; never raises.

    Unknown charsets and invalid bytes fall back to UTF-8 with replacement
    when the bytes are mostly UTF-8, else Latin-1 (every byte maps).
    """
    codec = lookup_charset(charset) if charset else "utf-8"
    if codec is not None:
        try:
            text = data.decode(codec)
            # (UTF-8 never decodes to a surrogate; UTF-7 and friends can)
            return text if codec == "utf-8" else without_surrogates(text)
        except (UnicodeDecodeError, LookupError):
            if warnings is not None:
                warnings.append(f"text is not valid {charset or 'utf-8'}")
    elif warnings is not None:
        warnings.append(f"unknown charset {charset!r}")
    if codec != "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    text = data.decode("utf-8", "replace")
    if text.count("\ufffd") * 20 > len(text):
        # Mostly not UTF-8 at all: Latin-1 keeps every byte readable.
        return data.decode("latin-1")
    return text


# (built with chr: mypyc cannot compile surrogates in a string literal)
_SURROGATE: Final = re.compile("[" + chr(0xD800) + "-" + chr(0xDFFF) + "]")


def without_surrogates(text: str) -> str:
    """`text` with any lone surrogate (UTF-7's `+2D0-`, a codec's odd output)
    replaced by U+FFFD: such a string cannot be encoded, so not stored."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _word_bytes(enc: str, payload: str) -> bytes | None:
    """The bytes of one encoded word's payload; None when it is broken."""
    try:
        if enc in "bB":
            pad = -len(payload) % 4
            return binascii.a2b_base64(payload + "=" * pad)
        return binascii.a2b_qp(payload.replace("_", " ").encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return None


def decode_rfc2047(text: str, warnings: list[str] | None = None) -> str:
    """Decode `=?charset?B|Q?...?=` words; whitespace between adjacent words is dropped.

    Adjacent words in one charset are decoded together, as the stdlib does:
    mailers split a multi-byte character across two words (`=?UTF-8?Q?caf=C3?=
    =?UTF-8?Q?=A9?=`), which decoded one by one would give two U+FFFD.
    """
    if "=?" not in text:
        return text
    text = _ENCODED_GAP.sub(r"\1\2", text)
    parts: list[str] = []
    pos = 0
    run_charset: str | None = None  # the charset of the words being joined
    run = b""
    for m in _ENCODED_WORD.finditer(text):
        charset = m.group(1).split("*", 1)[0]  # RFC 2231 language suffix
        data = _word_bytes(m.group(2), m.group(3))
        if run_charset is not None and (
            data is None or m.start() != pos or charset.lower() != run_charset.lower()
        ):
            parts.append(decode_bytes(run, run_charset, warnings))
            run_charset = None
        parts.append(text[pos : m.start()])
        if data is None:
            if warnings is not None:
                warnings.append("broken RFC 2047 encoded word")
            parts.append(m.group(3))
        elif run_charset is None:
            run_charset, run = charset, data
        else:
            run += data
        pos = m.end()
    if run_charset is not None:
        parts.append(decode_bytes(run, run_charset, warnings))
    parts.append(text[pos:])
    return "".join(parts)


def header_text(value: bytes | None, warnings: list[str] | None = None) -> str:
    """A header value unfolded and decoded to text ("" for None)."""
    if value is None:
        return ""
    # (Tests for a byte are made on the decoded text, or with bytes.find:
    # `b"x" in value` first tries b"x" as an integer, and the TypeError it
    # raises and clears costs more than the search.)
    if value.isascii():
        text = value.decode("ascii")
        if "\n" not in text:
            # the common case: one plain ASCII line
            text = text.strip()
            if "\x00" in text:
                text = text.replace("\x00", "")
            return decode_rfc2047(text, warnings) if "=?" in text else text
    text = to_text(unfold(value), warnings)
    if "=?" in text:
        text = decode_rfc2047(text, warnings)
    return text


# --- Message-IDs -------------------------------------------------------------


def _strip_comments(text: str) -> str:
    while "(" in text:
        stripped = _COMMENT.sub(" ", text)
        if stripped == text:
            break
        text = stripped
    return text


def message_ids(text: str) -> list[str]:
    """Every message-id in a References/In-Reply-To value, in order.

    Angle-bracketed ids win; a value without brackets is split on whitespace
    (some mailers drop them). RFC 2822 comments are ignored.
    """
    if "(" in text:
        text = _strip_comments(text)
    if "<" in text:
        # whitespace inside the brackets comes from folding in the middle of an id
        ids = [i if " " not in i and "\t" not in i else "".join(i.split()) for i in _ANGLE_ID.findall(text)]
        ids = [i for i in ids if i]
        if ids:
            return ids
    return [tok.strip("<>,;") for tok in text.split() if "@" in tok]


_CLEAN_ANGLE_ID: Final = re.compile(r"<([^<>\t\n\r\f\v ]+)>")  # ASCII whitespace only, as a bytes pattern has it


def clean_message_ids(value: bytes) -> list[str] | None:
    """The ids of a plain ASCII `<id> <id>` value (no comments, encoded words or
    folding inside an id), or None when the value needs the general path."""
    # (decoded once for the value, not once an id)
    return clean_ascii_ids(value.decode("ascii")) if value.isascii() else None


def clean_ascii_ids(text: str) -> list[str] | None:
    """`clean_message_ids` of an ASCII value already decoded."""
    if "(" in text or "=?" in text:
        return None
    ids = _split_ids(text)
    if ids is None:
        ids = _CLEAN_ANGLE_ID.findall(text)
    if ids and len(ids) == text.count("<"):  # every bracketed part was a clean id
        return ids
    return None


def _split_ids(text: str) -> list[str] | None:
    """The ids of the usual value, `<id>`s apart by whitespace, by splitting it
    (the regex, tried at every character, costs twice as much); None for
    any other (no id, junk between them, a bracket or a \x1c-\x1f, which
    split() splits on too, inside one), left to the regex."""
    ids: list[str] = []
    for token in text.split():
        if not (
            len(token) > 2
            and token.startswith("<")
            and token.endswith(">")
            and token.count("<") == 1
            and token.count(">") == 1
        ):
            return None
        ids.append(token[1:-1])
    return ids or None


def header_message_ids(value: bytes, warnings: list[str] | None = None) -> list[str]:
    """`message_ids` of a raw header value; plain ASCII `<id> <id>` lists skip the general path."""
    ids = clean_message_ids(value)
    return ids if ids is not None else message_ids(header_text(value, warnings))


def normalise_message_id(text: str) -> str | None:
    """One Message-ID without brackets, comments or whitespace; None if empty."""
    ids = message_ids(text)
    if ids:
        return ids[0]
    text = _strip_comments(text).strip().strip("<>").strip()
    return "".join(text.split()) or None


def dedupe(ids: list[str]) -> tuple[str, ...]:
    if len(ids) < 2:  # (most In-Reply-To values: no dict needed)
        return tuple(ids)
    return tuple(dict.fromkeys(ids))


# --- dates ------------------------------------------------------------------

_TZ_CACHE: Final[dict[int, timezone]] = {}


def _tz(offset_hhmm: int) -> timezone:
    tz = _TZ_CACHE.get(offset_hhmm)
    if tz is None:
        sign = -1 if offset_hhmm < 0 else 1
        hh, mm = divmod(abs(offset_hhmm), 100)
        tz = timezone(sign * timedelta(hours=hh, minutes=mm)) if offset_hhmm else timezone.utc
        _TZ_CACHE[offset_hhmm] = tz
    return tz


def _ascii_digits(s: str) -> bool:
    return s.isdigit() and s.isascii()


def _usual_date(text: str) -> tuple[str, str, str, str, str, str, str] | None:
    """`[Tue, ]15 Mar 2025 02:34:48 -0700` read by splitting: the groups `_DATE`
    gives for it, for most mail without the regex; None for any other form."""
    parts = text.split()
    if parts and parts[0][-1:] == ",":
        if not (parts[0][:-1].isalpha() and parts[0].isascii()):
            return None
        parts = parts[1:]
    if len(parts) < 5:
        return None
    day, mon, year, hms, zone = parts[0], parts[1], parts[2], parts[3], parts[4]
    if not (
        len(day) <= 2 and _ascii_digits(day)
        and len(mon) == 3 and mon.isalpha() and mon.isascii()
        and len(year) == 4 and _ascii_digits(year)
        and len(hms) == 8 and hms[2] == ":" and hms[5] == ":"
        and len(zone) == 5 and zone[0] in "+-" and _ascii_digits(zone[1:])
    ):
        return None
    hh, mi, ss = hms[:2], hms[3:5], hms[6:]
    if not (_ascii_digits(hh) and _ascii_digits(mi) and _ascii_digits(ss)):
        return None
    return day, mon, year, hh, mi, ss, zone


def parse_date(text: str) -> datetime | None:
    """An aware datetime from an RFC 2822-ish date; None when unreadable or absurd.

    A regex handles the usual forms; `email.utils.parsedate_tz` the rest.
    Missing or unknown zones are taken as UTC.
    """
    fields = _usual_date(text)
    if fields is not None:
        day, mon, year, hh, mi, sec, zone = fields
        return _date_of(day, mon, year, hh, mi, sec, zone)
    m = _DATE.search(text)
    if m:
        return _date_of(*m.groups())
    try:
        parts = parsedate_tz(text)
        if not parts:
            return None
        y = parts[0]
        if not MIN_YEAR <= y <= MAX_YEAR:
            return None
        off = parts[9] or 0
        return datetime(*parts[:6], tzinfo=timezone(timedelta(seconds=off)))
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


def _date_of(
    day: str, mon: str, year: str, hh: str, mi: str, ss: str | None, zone: str | None
) -> datetime | None:
    """`parse_date` from the fields of the usual form or of `_DATE` (typed
    strings: compiled, `int` of each is a direct call)."""
    try:
        month = _MONTHS.get(mon.lower())
        if month is None:
            return None
        y = int(year)
        if y < 100:
            y += 2000 if y < 50 else 1900
        offset = 0
        if zone:
            if zone[0] in "+-":
                offset = int(zone)
                if abs(offset) % 100 >= 60 or abs(offset) > 1400:
                    offset = 0
            else:
                offset = _ZONES.get(zone.lower(), 0)
        if not MIN_YEAR <= y <= MAX_YEAR:
            return None
        # (tzinfo passed by position, after microsecond: a call without keywords costs less)
        return datetime(y, month, int(day), int(hh), int(mi), int(ss or 0), 0, _tz(offset))
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


def received_date(head: bytes) -> datetime | None:
    """The date of the first (newest) Received: header that has a readable one."""
    for m in _RECEIVED.finditer(b"\n" + head):
        value = m.group(1)
        semi = value.rfind(b";")
        if semi == -1:
            continue
        got = parse_date(to_text(unfold(value[semi + 1 :])))
        if got is not None:
            return got
    return None
