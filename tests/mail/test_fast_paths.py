"""The parser's fast paths give what the plain line-by-line code they replace gave.

Each fast path (a regex pass, a cheap gate, a loop over special characters
only) is checked against a straightforward reference on generated input
heavy in the characters that matter (newlines, quotes, brackets, colons).
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.mail.applied import _NOTICE_AFTER_NEWLINE, _may_have_notice, _read_notice, parse_applied
from bot.mail.diff import _STAT_TAIL, _plain_tail, _stat_line, _stat_line_re, find_diff
from bot.mail.headers import MAX_HEADER_LEN, WANTED, read_head, read_headers, split_mail, unfold
from bot.mail.people import split_addresses
from bot.mail.subject import _PLAIN_GROUP, _analyse_tokens, _component, _plain_group
from bot.mail.trailers import (
    _REPLY_LINE,
    _REPLY_NEEDLES,
    _may_be_reply_line,
    _meta,
    _reply_candidates,
    _split_line,
    parse_trailers,
    scan_reply,
)

SETTINGS = settings(max_examples=1500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _text(pieces: list[str], max_size: int = 30) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=max_size).map("".join)


@SETTINGS
@given(_text(["a", " ", "\t", "\r", "\n", "b", "\r\n", " \n\t"]).map(str.encode))
def test_unfold_is_the_fold_regex(value: bytes) -> None:
    assert unfold(value) == re.sub(rb"[ \t]*\r?\n[ \t]*", b" ", value).strip()


def _split_reference(value: str) -> list[str]:
    """The original character-by-character split."""
    if "," not in value:
        return [value] if value.strip() else []
    out: list[str] = []
    start = 0
    quoted = escaped = False
    angle = paren = 0
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "<":
            angle += 1
        elif ch == ">":
            angle = max(0, angle - 1)
        elif ch == "(":
            paren += 1
        elif ch == ")":
            paren = max(0, paren - 1)
        elif ch == "," and not angle and not paren:
            out.append(value[start:i])
            start = i + 1
    out.append(value[start:])
    return [part for part in out if part.strip()]


@SETTINGS
@given(_text(["a", " ", "\\", '"', "<", ">", "(", ")", ",", "@", "x.org", "é"]))
def test_split_addresses_is_the_character_walk(value: str) -> None:
    assert split_addresses(value) == _split_reference(value)


def _component_reference(title: str, pos: int) -> tuple[str, int] | None:
    colon = title.find(":", pos)
    if colon <= pos:
        return None
    after = colon + 1
    if after < len(title) and title[after] != " ":
        return None
    word = title[pos:colon]
    if not re.fullmatch(r"[A-Za-z0-9_][\w./+-]*", word):
        return None
    while after < len(title) and title[after] == " ":
        after += 1
    return word, after


@SETTINGS
@given(_text(["KVM", "x86", ":", " ", "/", "-", ".", "é", "_", "\t", "arm64: "], 12), st.integers(0, 4))
def test_subsystem_component_is_the_colon_scan(title: str, pos: int) -> None:
    assert _component(title, pos) == _component_reference(title, pos)


_LINES = st.sampled_from(
    [
        "Reviewed-by: A <a@x.org>",
        "  Acked-by : B <b@x.org>",
        "\u00a0Tested-by: C <c@x.org>",
        "> Signed-off-by: D <d@x.org>",
        "Fixes: 0123456789ab (\"x\")",
        "cc: stable@vger.kernel.org",
        "Link: https://lore.kernel.org/r/1",
        "Note: text with -by in it",
        "Hello -by: nothing",
        "Applied to kvm-x86 fixes, thanks!",
        "queued, thanks",
        "\fApplied, thanks",
        "  applied",
        "prose line",
        "",
        "-- ",
        "\r",
    ]
)


@SETTINGS
@given(st.lists(_LINES, max_size=12).map("\n".join))
def test_reply_candidates_hold_every_possible_trailer_line(text: str) -> None:
    starts = set(_reply_candidates(text))
    pos = 0
    for line in text.split("\n"):
        plain = line.rstrip("\r")
        could_be = (
            not plain.startswith(">")
            and any(n in plain.lower() for n in _REPLY_NEEDLES)
            and _split_line(plain.lstrip(), True) is not None
        )
        if could_be:
            assert pos in starts, line
        pos += len(line) + 1


_REPLY_SCAN_LINES = st.one_of(
    _LINES,
    st.sampled_from(
        [
            "diff --git a/x b/x",
            "--- a/x",
            "+++ b/x",
            "Index: x",
            "========",
            " diff -u a b",
            "base-commit: 0123456789ab",
            "change-id: 20250101-x-1234",
            " base-commit: 0123456789ab",
            "Queued\u2028",
            "Merged into next",
            "\u3000Reviewed-by: A <a@b>",
        ]
    ),
)


@SETTINGS
@given(
    st.lists(
        st.one_of(
            _REPLY_SCAN_LINES,
            _text(["> ", "a", "Q", "m", "d", "-", "x", "Z", "7", ":", " ", "\t", "\u3000", "\x1c", "\u017f", "é", "iff -"], 8),
        ),
        max_size=12,
    ).map("\n".join)
)
def test_reply_line_gate_lets_every_reply_line_through(text: str) -> None:
    ls = text.find("\n") + 1
    while 0 < ls < len(text):
        eol = text.find("\n", ls)
        eol = len(text) if eol == -1 else eol
        if _REPLY_LINE.match(text, ls - 1) is not None:
            assert _may_be_reply_line(text, ls, eol), text[ls:eol]
        ls = eol + 1


@SETTINGS
@given(st.lists(_REPLY_SCAN_LINES, max_size=12).map("\n".join))
def test_reply_scan_answers_as_the_separate_scans(text: str) -> None:
    scan = scan_reply(text)
    assert scan.diff == find_diff(text)
    assert scan.candidates == _reply_candidates(text)
    assert scan.verb_line == (_NOTICE_AFTER_NEWLINE.search(text) is not None)
    if not scan.meta:
        assert _meta(text, 0) == (None, None, ())
    assert parse_trailers(text, reply=True, scan=scan) == parse_trailers(text, reply=True)
    assert parse_applied(text, scan.verb_line) == parse_applied(text)


@SETTINGS
@given(
    _text(["From x\n", "\n", "\n\n", " ", "\t", ":", "To", "cc", "Subject", "X-Cc", "date", "body", "\r"]).map(
        str.encode
    )
)
def test_read_head_splits_and_reads_as_split_mail_and_read_headers(raw: bytes) -> None:
    head, body = split_mail(raw)
    got_head, got_body, got = read_head(raw)
    assert (got_head, got_body) == (head, body)
    want = read_headers(head)
    assert (got.values, got.head, got.warnings) == (want.values, want.head, want.warnings)


# The header regex the line scan (headers._scan) replaced: a wanted name in
# any case at a line's start, its colon, and the value with its folded lines.
_HEADER_REGEX = re.compile(
    rb"\n(" + b"|".join(re.escape(n.encode()) for n in WANTED) + rb")[ \t]*:[ \t]*(.*(?:\n[ \t].*)*)", re.IGNORECASE
)


def _headers_reference(head: bytes) -> tuple[dict[str, list[bytes]], list[str]]:
    values: dict[str, list[bytes]] = {}
    warnings: list[str] = []
    for written, value in _HEADER_REGEX.findall(b"\n" + head):
        name = written.lower().decode()
        if len(value) > MAX_HEADER_LEN:
            warnings.append(f"{name} header truncated from {len(value)} bytes")
            value = value[:MAX_HEADER_LEN]
        values.setdefault(name, []).append(value)
    return values, warnings


_HEAD_PIECES = [
    "\n", "\n\n", " ", "\t", ":", " : ", "To", "tO", "cc", "Subject", "X-Cc", "x-mailing-list", "Message-ID",
    "content-type", "Content-Typ", "Received", "date", "DATE", "body", "\r", "\x00", "\xe9", "From ",
]


@SETTINGS
@given(_text(_HEAD_PIECES).map(lambda t: t.encode("latin-1")))
def test_header_scan_reads_what_the_header_regex_read(head: bytes) -> None:
    got = read_headers(head)
    assert (got.values, got.warnings) == _headers_reference(head)


def test_header_scan_truncates_a_long_value_as_the_regex_did() -> None:
    head = b"Subject: x\nTo: " + b"a" * (MAX_HEADER_LEN + 5) + b"\n \tb\nCc:\n c\n"
    got = read_headers(head)
    assert (got.values, got.warnings) == _headers_reference(head)
    assert got.warnings == [f"to header truncated from {MAX_HEADER_LEN + 9} bytes"]


@SETTINGS
@given(_text([" ", "a/b.c", "|", " | ", "12", " +-", "++", "Bin", " 3 -> 4 bytes", "\t", "\u3000", "x"], 10))
def test_stat_line_reads_as_the_stat_line_regex(line: str) -> None:
    assert _stat_line(line, 0, len(line)) == _stat_line_re(line, 0, len(line))


@SETTINGS
@given(st.lists(_LINES, max_size=12).map("\n".join))
def test_applied_gate_never_hides_a_notice(text: str) -> None:
    if not _may_have_notice(text):
        assert _read_notice(text) is None


@SETTINGS
@given(
    st.tuples(
        st.sampled_from(["", "RFC ", "rfc ", "RFC  "]),
        st.sampled_from(["PATCH", "Patch", "PATCHv2"]),
        st.sampled_from(["", " v3", " V2", " v5.1", " v١", " v"]),
        st.sampled_from(["", " 12/21", " 01/3", " 0/4", " ١/٢", " 12345/2", " 1 of 2"]),
    ).map("".join),
    st.booleans(),
)
def test_plain_subject_groups_read_as_the_token_rules_read_them(group: str, first: bool) -> None:
    m = _PLAIN_GROUP.fullmatch(group)
    if m is not None:
        assert _plain_group(m) == _analyse_tokens(group, first)


def test_construct_matches_validation_and_copies_stay_apart() -> None:
    """`construct` builds what validation builds; a copy with changes leaves the
    shared fields set (and every other instance) as it was."""
    from bot.mail.construct import construct
    from bot.mail.models import Person, Trailer

    values = {"name": "Reviewed-by", "value": "A <a@x>", "extra": None, "note": None, "person": Person(name="A", email="a@x")}
    built, other = construct(Trailer, dict(values)), construct(Trailer, dict(values))
    validated = Trailer.model_validate(values)
    assert built == validated and built.model_dump() == validated.model_dump()
    assert built.model_fields_set == validated.model_fields_set == set(Trailer.model_fields)
    changed = built.model_copy(update={"note": "[for 1-3]"})
    assert changed.note == "[for 1-3]" and built.note is None and other.note is None
    assert built.model_fields_set == other.model_fields_set == set(Trailer.model_fields)


_DATE_PIECES = ["Tue,", "Tue", "15", "5", "115", "Mar", "March", "mar", "MAR", "2025", "25", "02:34:48", "2:34:48",
                "02:34", "02:34:48.5", "-0700", "+0000", "+2500", "-07000", "(PDT)", "GMT", "١٥", "-", ",", " ", "\t"]


@SETTINGS
@given(st.lists(st.sampled_from(_DATE_PIECES), max_size=8).map(" ".join))
def test_usual_date_reads_what_the_date_regex_reads(text: str) -> None:
    """The split fast path, where it answers, gives the regex's groups for the same text."""
    from bot.mail.headers import _DATE, _usual_date

    fields = _usual_date(text)
    if fields is not None:
        m = _DATE.search(text)
        assert m is not None and m.groups() == fields


def test_usual_date_covers_the_usual_form() -> None:
    from bot.mail.headers import _usual_date, parse_date

    assert _usual_date("Tue, 15 Mar 2025 02:34:48 -0700") == ("15", "Mar", "2025", "02", "34", "48", "-0700")
    assert _usual_date("5 Mar 2025 02:34:48 +0000 (UTC)") == ("5", "Mar", "2025", "02", "34", "48", "+0000")
    assert _usual_date("Tue, 15 Mar 2025 02:34 -0700") is None  # no seconds: the regex reads it
    assert parse_date("Tue, 15 Mar 2025 02:34 -0700").isoformat() == "2025-03-15T02:34:00-07:00"
    assert parse_date("Tue, 15 Mar 2025 02:34:48 -0700").isoformat() == "2025-03-15T02:34:48-07:00"


def test_clean_message_id_lists_read_as_before() -> None:
    from bot.mail.headers import header_message_ids

    assert header_message_ids(b"<a@x> <b@y>\n <c@z>") == ["a@x", "b@y", "c@z"]
    assert header_message_ids(b"<a@x> <b\n @y>") == ["a@x", "b@y"]  # folded inside an id: the general path
    assert header_message_ids(b"<a\x1c@x>") == ["a\x1c@x"]  # only ASCII whitespace splits, as before


@SETTINGS
@given(_text(["<", ">", "a@x", "b", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x00", ",", "<a@b>", "<c@d> "], 12))
def test_split_ids_read_what_the_clean_id_regex_reads(text: str) -> None:
    from bot.mail.headers import _CLEAN_ANGLE_ID, _split_ids

    got = _split_ids(text)
    if got is not None:
        assert got == _CLEAN_ANGLE_ID.findall(text) and len(got) == text.count("<")
    assert _split_ids("<a@x> <b@y>\n\t<c@z>\n") == ["a@x", "b@y", "c@z"]  # the usual value: no regex


@SETTINGS
@given(_text(["a", "Z", "-", ":", " ", "\t", "\n", "\x00", "\x7f", "~", "!", ";", "9", "\xe9"], 12).map(lambda t: t.encode("latin-1")))
def test_looks_like_headers_is_the_first_line_regex(head: bytes) -> None:
    from bot.mail.headers import _FIRST_LINE_HEADER, looks_like_headers

    assert looks_like_headers(head) == (bool(head) and _FIRST_LINE_HEADER.match(head) is not None)


@SETTINGS
@given(_text([" ", "  ", "\t", "1", "23", "+", "-", "++--", "x", "Bin", " 3 -> 4 bytes", "\u0663", "\x1c"], 10))
def test_plain_stat_tail_reads_as_the_tail_regex(tail: str) -> None:
    got = _plain_tail(tail, 0, len(tail))
    if got is not None:
        m = _STAT_TAIL.fullmatch(tail)
        assert m is not None and (m.group(1), m.group(2)) == got
    assert _plain_tail(" 12 +++---", 0, 10) == ("12", "+++---")  # the usual line: no regex
