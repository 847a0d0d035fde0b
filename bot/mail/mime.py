"""Mail bodies: transfer encodings, charsets, multipart trees, attachments.

Only mails whose Content-Type is multipart pay for the MIME walk; a plain
text mail is one transfer decode and one charset decode. Text never raises:
see `headers.decode_bytes` for the fallbacks. RFC 2231 continued parameters
(`filename*0*=`, `filename*1*=`) are the one shape handed to the stdlib's
`email.message` to read.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Final

from bot.mail.headers import (
    without_surrogates,
    decode_bytes,
    decode_rfc2047,
    read_headers,
    remember,
    split_mail,
    to_text,
    unfold,
)

# A continued RFC 2231 parameter: `name*0=` or `name*0*=`.
_CONTINUED: Final = re.compile(r"\*\d+\*?\s*=")
_PARAM: Final = re.compile(r';\s*([\w.*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_TAG: Final = re.compile(r"<[^>]*>")
_BLANKS: Final = re.compile(r"\n\s*\n\s*\n+")
_NUL_LINE: Final = re.compile(r"^[\x00 \t]*\x00[\x00 \t]*(?:\n|\Z)", re.MULTILINE)
MAX_DEPTH: Final = 8
# Only attachments this small are decoded to look for a diff in them.
MAX_ATTACHMENT_TEXT: Final = 4 * 1024 * 1024


@dataclass(slots=True)
class Part:
    """One leaf of the MIME tree that is not part of the text body."""

    content_type: str
    filename: str | None
    size: int
    text: str | None  # decoded when it may hold a diff; None for binary data


@dataclass(slots=True, init=False)  # (init=False: see headers.RawHeaders)
class Body:
    text: str
    parts: list[Part]
    html_only: bool

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.parts = []
        self.html_only = False


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """(`type/subtype` lower-cased, parameters with lower-case names, unquoted)."""
    semi = value.find(";")
    ctype = (value if semi == -1 else value[:semi]).strip().lower()
    params: dict[str, str] = {}
    if semi != -1 and "*" in value and _CONTINUED.search(value, semi) is not None:
        # RFC 2231 continuations (`filename*0*=`, `name*1=`): the stdlib joins
        # the segments and decodes the charset; a shape our loop does not read.
        return ctype or "text/plain", _stdlib_params(value)
    if semi != -1:
        for name, val in _PARAM.findall(value[semi:]):
            if val[:1] == '"':
                val = val[1:-1].replace('\\"', '"')
            name = name.lower()
            if name.endswith("*"):
                # RFC 2231: charset'lang'percent-encoded
                name = name.rstrip("*")
                _, _, val = val.rpartition("'")
                val = _pct_decode(val)
            params.setdefault(name, val)
    return ctype or "text/plain", params


def _stdlib_params(value: str) -> dict[str, str]:
    """`parse_content_type`'s parameters, read by `email.message.Message`."""
    import email.message
    import email.utils

    msg = email.message.Message()
    msg["Content-Type"] = value
    params: dict[str, str] = {}
    for name, val in msg.get_params(failobj=[])[1:]:
        text = email.utils.collapse_rfc2231_value(val)
        params.setdefault(name.lower(), without_surrogates(text))
    return params


def _pct_decode(text: str) -> str:
    if "%" not in text:
        return text
    from urllib.parse import unquote

    return unquote(text)


def decode_transfer(data: bytes, cte: str, warnings: list[str]) -> bytes:
    """Undo Content-Transfer-Encoding; 7bit/8bit/binary/unknown pass through."""
    cte = cte.strip().lower()
    if not cte or cte in ("7bit", "8bit", "binary"):
        return data
    try:
        if cte == "quoted-printable":
            return binascii.a2b_qp(data)
        if cte == "base64":
            try:
                return binascii.a2b_base64(data, strict_mode=False)
            except binascii.Error:
                # Broken padding or stray characters: drop the junk and retry.
                clean = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
                clean = clean[: len(clean) - len(clean) % 4]
                warnings.append("broken base64 body")
                return binascii.a2b_base64(clean)
    except (binascii.Error, ValueError) as exc:
        warnings.append(f"cannot decode {cte} body: {exc}")
        return data
    warnings.append(f"unknown transfer encoding {cte!r}")
    return data


def html_to_text(html: str) -> str:
    """Crude tag stripping for mails that only have an HTML body."""
    import html as htmllib

    text = _TAG.sub("", html.replace("<br>", "\n").replace("<br/>", "\n").replace("</p>", "\n\n"))
    return _BLANKS.sub("\n\n", htmllib.unescape(text))


def _text_of(data: bytes, params: dict[str, str], warnings: list[str]) -> str:
    if data.find(b"\r") != -1:  # (not `in`: see headers.header_text)
        data = data.replace(b"\r\n", b"\n")
    text = decode_bytes(data, params.get("charset"), warnings)
    if "\x00" in text:
        warnings.append("NUL bytes removed from body")
        # A line of NULs goes whole: left empty, it would split the paragraph
        # it sits in (a trailer block would lose its Signed-off-by).
        text = _NUL_LINE.sub("", text).replace("\x00", "")
    return text


_CHARSET: Final = re.compile(r'charset\s*=\s*"?([^";\s]*)', re.IGNORECASE)
# A text/plain Content-Type value -> its charset parameter (None: none). Few
# values recur ("text/plain; charset=UTF-8" and the like): the regex, with
# its match object, runs once a value. Bounded.
_CHARSET_OF: Final[dict[str, str | None]] = {}


def _charset_param(content_type: str) -> str | None:
    if content_type in _CHARSET_OF:
        return _CHARSET_OF[content_type]
    m = _CHARSET.search(content_type)
    charset = m.group(1) if m else None
    remember(_CHARSET_OF, content_type, charset, 256)
    return charset


def read_body(content_type: str, cte: str, disposition: str, body: bytes, warnings: list[str]) -> Body:
    """The text body and the other parts of a mail, whatever its MIME shape."""
    if (
        (not content_type or content_type[:10].lower() == "text/plain")
        and (not cte or cte.lower() in ("7bit", "8bit"))
        and not disposition
    ):
        # Most list mail: one inline text/plain part, not transfer-encoded.
        charset = _charset_param(content_type) if content_type else None
        return Body(text=_text_of(body, {"charset": charset} if charset is not None else {}, warnings))
    ctype, params = parse_content_type(content_type) if content_type else ("text/plain", {})
    if not ctype.startswith("multipart/"):
        out = Body()
        _leaf(out, ctype, params, cte, disposition, body, warnings, top=True)
        return out
    out = Body()
    texts: list[str] = []
    htmls: list[str] = []
    _walk(ctype, params, body, out, texts, htmls, warnings, 0)
    if texts:
        out.text = "\n".join(texts)
    elif htmls:
        out.text = html_to_text("\n".join(htmls))
        out.html_only = True
        warnings.append("HTML-only body converted to text")
    return out


def _leaf(
    out: Body,
    ctype: str,
    params: dict[str, str],
    cte: str,
    disposition: str,
    data: bytes,
    warnings: list[str],
    top: bool = False,
    texts: list[str] | None = None,
    htmls: list[str] | None = None,
) -> None:
    raw = decode_transfer(data, cte, warnings)
    dparams = parse_content_type(disposition)[1] if disposition else {}
    filename = dparams.get("filename") or params.get("name")
    if filename and "=?" in filename:
        filename = decode_rfc2047(filename, warnings)
    attached = disposition.strip().lower().startswith("attachment")
    if ctype == "text/plain" and not attached and not (filename and not top and _patch_name(filename)):
        text = _text_of(raw, params, warnings)
        if top:
            out.text = text
        elif texts is not None:
            texts.append(text)
        return
    if ctype == "text/html" and not attached:
        text = _text_of(raw, params, warnings)
        if top:
            out.text = html_to_text(text)
            out.html_only = True
            warnings.append("HTML-only body converted to text")
        elif htmls is not None:
            htmls.append(text)
        return
    part_text: str | None = None
    textual = ctype.startswith("text/") or ctype in ("application/octet-stream", "application/x-patch")
    if textual and len(raw) <= MAX_ATTACHMENT_TEXT:
        part_text = _text_of(raw, params, warnings)
    out.parts.append(Part(content_type=ctype, filename=filename, size=len(raw), text=part_text))


def _patch_name(filename: str) -> bool:
    return filename.lower().endswith((".patch", ".diff"))


def _walk(
    ctype: str,
    params: dict[str, str],
    body: bytes,
    out: Body,
    texts: list[str],
    htmls: list[str],
    warnings: list[str],
    depth: int,
) -> None:
    boundary = params.get("boundary")
    if not boundary:
        warnings.append(f"{ctype} without a boundary: read as text")
        texts.append(_text_of(body, {}, warnings))
        return
    if depth >= MAX_DEPTH:
        warnings.append("MIME nesting too deep: inner parts skipped")
        return
    parts = split_multipart(body, boundary.encode("utf-8", "replace"))
    if parts is None:
        warnings.append("multipart boundary not found: body read as text")
        texts.append(_text_of(body, {}, warnings))
        return
    alternative = ctype == "multipart/alternative"
    for part in parts:
        head, pbody = split_mail(part) if not part.startswith(b"\n") else (b"", part[1:])
        hdrs = read_headers(head)
        pct = unfold(hdrs.first("content-type") or b"")
        pctype, pparams = parse_content_type(to_text(pct, warnings)) if pct else ("text/plain", {})
        pcte = to_text(unfold(hdrs.first("content-transfer-encoding") or b""))
        pdisp = to_text(unfold(hdrs.first("content-disposition") or b""))
        if pctype.startswith("multipart/"):
            _walk(pctype, pparams, pbody, out, texts, htmls, warnings, depth + 1)
        elif pctype == "message/rfc822":
            # A forwarded or bounced mail: its content is not this mail's.
            out.parts.append(Part(content_type=pctype, filename=None, size=len(pbody), text=None))
        else:
            if alternative and pctype != "text/plain" and texts:
                continue
            _leaf(out, pctype, pparams, pcte, pdisp, pbody, warnings, texts=texts, htmls=htmls)
        if alternative and texts:
            # The first text/plain alternative is the body; the rest are renderings of it.
            break


def split_multipart(body: bytes, boundary: bytes) -> list[bytes] | None:
    """The parts between `--boundary` lines (preamble and epilogue dropped)."""
    delim = b"--" + boundary
    if body.startswith(delim):
        body = b"\n" + body
    marker = b"\n" + delim
    pos = body.find(marker)
    if pos == -1:
        return None
    parts: list[bytes] = []
    while pos != -1:
        start = body.find(b"\n", pos + len(marker))
        if body.startswith(b"--", pos + len(marker)):
            break  # the closing delimiter
        if start == -1:
            break
        nxt = body.find(marker, start)
        parts.append(body[start + 1 : nxt if nxt != -1 else len(body)])
        pos = nxt
    return parts
