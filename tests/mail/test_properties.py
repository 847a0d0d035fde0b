"""Properties: whatever the bytes, parse_mail returns a valid model and never raises.

Example counts come from KVMBOT_PROPERTY_EXAMPLES (examples per test; the
default gives 12,000 across the file, which runs in well under a minute).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.mail import ParsedMail, parse_mail, to_json
from bot.mail.headers import WANTED

PER_TEST = int(os.environ.get("KVMBOT_PROPERTY_EXAMPLES", "3000"))
SETTINGS = settings(
    max_examples=PER_TEST,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TESTS = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KVMBOT_SHARED", TESTS.parent.parent / "shared"))


def _real_mails() -> list[bytes]:
    mails = [p.read_bytes() for p in sorted((TESTS / "data" / "seed").glob("*.eml"))]
    fixtures = SHARED / "corpus" / "fixtures"
    for name in (
        "patchwork/mail/0019-multipart-patch.mbox",
        "patchwork/mail/0026-git-add-mixed-binary-text-files.mbox",
        "patchwork/mail/0007-cvs-format-diff.mbox",
        "patchew/0016-nested-multipart.mbox",
        "patchew/0038-octet-stream.mbox",
        "patchew/0007-invalid-charset.mbox",
    ):
        path = fixtures / name
        if path.is_file():
            mails.append(path.read_bytes())
    return mails


REAL = _real_mails()


def check(raw: bytes) -> ParsedMail:
    mail = parse_mail(raw)
    again = ParsedMail.model_validate(mail.model_dump())
    assert again == mail
    assert mail.message_id
    assert mail.date is None or mail.date.tzinfo is not None
    json.dumps(to_json(mail))
    return mail


@SETTINGS
@given(st.binary(max_size=8192))
def test_arbitrary_bytes(raw: bytes) -> None:
    check(raw)


_header_names = st.sampled_from([*WANTED, "received", "mime-version", "x-junk", "From "])
_header_values = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "=?utf-8?B?SsO2cmc=?= <j@x>",
            "=?bogus?Q?=FF=FE?=",
            "=?utf-8?B?!!!?=",
            "multipart/mixed; boundary=B",
            'multipart/alternative; boundary="B"',
            "text/plain; charset=nonsense",
            "base64",
            "quoted-printable",
            "<a@b> (comment (nested)) <c@d>",
            "Fri, 31 Dec 9999 23:59:60 +9999",
            "[PATCH v2 0/3] KVM: x86: foo",
            "Re: [PATCH 1/1] x",
        ]
    ),
)
_bodies = st.one_of(
    st.binary(max_size=2048),
    st.sampled_from(
        [
            b"--B\nContent-Type: text/x-patch\n\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n--B--\n",
            b"---\n x | 1 +\n 1 file changed, 1 insertion(+)\n\ndiff --git a/x b/x\n@@ -1,0 +1,5 @@\n+a\n",
            b"--B\n\n--B\nContent-Type: multipart/mixed; boundary=B\n\n--B--",
            b"Index: a\n=========\n--- a\n+++ a\n@@ -9 +9 @@\n",
        ]
    ),
)


@SETTINGS
@given(st.lists(st.tuples(_header_names, _header_values), max_size=12), _bodies, st.booleans())
def test_mail_shaped_input(headers: list[tuple[str, str]], body: bytes, crlf: bool) -> None:
    nl = "\r\n" if crlf else "\n"
    head = "".join(f"{n}: {v}{nl}" for n, v in headers).encode("utf-8", "surrogatepass")
    check(head + nl.encode() + body)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "duplicate", "insert", "delete"]))
        if not raw:
            break
        at = draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[at] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del raw[at:]
        elif op == "duplicate":
            # repeat the header (or any line) that starts at the chosen line
            start = raw.rfind(b"\n", 0, at) + 1
            end = raw.find(b"\n", at)
            end = len(raw) if end == -1 else end + 1
            raw[start:start] = raw[start:end] * draw(st.integers(1, 3))
        elif op == "insert":
            raw[at:at] = draw(st.sampled_from([b"\x00", b"\n", b"\n\n", b"=?", b"\r", b"--", b"@@ -1 +1 @@\n", b"\xff\xfe"]))
        else:
            del raw[at : at + draw(st.integers(1, 64))]
    return bytes(raw)


@SETTINGS
@given(mutated())
def test_mutated_real_mails(raw: bytes) -> None:
    check(raw)


@SETTINGS
@given(st.sampled_from(REAL), st.integers(0, 2**16))
def test_truncated_real_mails_keep_their_identity(raw: bytes, cut: int) -> None:
    """Cut anywhere after the Message-ID header: the id survives the damage."""
    marker = raw.lower().find(b"\nmessage-id:")
    if marker == -1:
        return
    line_end = raw.find(b"\n", marker + 1)
    cut = line_end + 1 + cut % max(1, len(raw) - line_end)
    full, part = check(raw), check(raw[:cut])
    assert part.message_id == full.message_id
