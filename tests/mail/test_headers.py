"""Header reading straight from bytes: folding, RFC 2047, ids, dates, people."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.mail import parse_mail
from bot.mail.models import Kind
from bot.mail.headers import (
    WANTED,
    decode_rfc2047,
    header_text,
    message_ids,
    normalise_message_id,
    parse_date,
    read_headers,
    split_mail,
)
from tests.helpers import compose as mail


BASE = """\
From: Jane Doe <jane@example.com>
Date: Fri, 14 Mar 2025 19:34:48 -0700
Message-ID: <m1@example.com>
"""


def test_folded_subject_comes_out_whole() -> None:
    raw = mail(
        BASE + "Subject: [PATCH] KVM: x86: Add a module param to control and enumerate device\n"
        " posted IRQs\n"
    )
    got = parse_mail(raw)
    assert got.subject.raw == "[PATCH] KVM: x86: Add a module param to control and enumerate device posted IRQs"
    assert got.subject.title.endswith("enumerate device posted IRQs")


def test_folded_with_tab_and_crlf() -> None:
    raw = (BASE + "Subject: [PATCH v2 1/3] KVM: foo\r\n\tbar baz\r\n").replace("\n", "\r\n")
    raw = raw.replace("\r\r\n", "\r\n") + "\r\nbody\r\n"
    got = parse_mail(raw.encode())
    assert got.subject.raw == "[PATCH v2 1/3] KVM: foo bar baz"
    assert got.subject.version == 2 and got.subject.index == 1 and got.subject.total == 3
    assert got.body == "body\n"


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("=?UTF-8?B?SsO2cmcgUsO2ZGVs?= <joro@8bytes.org>", "Jörg Rödel <joro@8bytes.org>"),
        ("=?iso-8859-1?Q?J=F6rg_R=F6del?= <joro@8bytes.org>", "Jörg Rödel <joro@8bytes.org>"),
        # whitespace between adjacent encoded words disappears
        ("=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"),
        ("=?utf-8?q?Re=3A_=5BPATCH=5D_caf=C3=A9?=", "Re: [PATCH] café"),
        # an unknown charset does not raise
        ("=?x-nonsense?B?SGk=?=", "Hi"),
        ("plain text =? not encoded", "plain text =? not encoded"),
    ],
)
def test_rfc2047(encoded: str, decoded: str) -> None:
    assert decode_rfc2047(encoded, []) == decoded


def test_rfc2047_author_and_8bit_headers() -> None:
    got = parse_mail(mail("From: =?UTF-8?B?SsO2cmcgUsO2ZGVs?= <joro@8bytes.org>\nMessage-ID: <a@b>\n"))
    assert (got.author.name, got.author.email) == ("Jörg Rödel", "joro@8bytes.org")
    raw = b"From: J\xf6rg R\xf6del <joro@8bytes.org>\nMessage-ID: <a@b>\nSubject: caf\xc3\xa9\n\nbody\n"
    got = parse_mail(raw)
    assert got.author.name == "Jörg Rödel"  # not UTF-8: read as Latin-1, recorded
    assert got.subject.raw == "café"  # raw UTF-8 in a header is fine
    assert any("Latin-1" in w for w in got.warnings)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<20250315023448.2358456-1-seanjc@google.com>", "20250315023448.2358456-1-seanjc@google.com"),
        ("  <a@b.c>  (added by postmaster)", "a@b.c"),
        ("(comment) <a@b.c>", "a@b.c"),
        ("a@b.c", "a@b.c"),
        ("< a@b.c >", "a@b.c"),
        ("<20250315.1234-1-\n seanjc@google.com>", "20250315.1234-1-seanjc@google.com"),  # folded inside
        ("", None),
    ],
)
def test_normalise_message_id(value: str, expected: str | None) -> None:
    assert normalise_message_id(value) == expected


def test_references_merged_ordered_deduplicated() -> None:
    raw = mail(
        BASE
        + "In-Reply-To: <p2@x> (Jane's message of Fri, 14 Mar 2025)\n"
        + "References: <p0@x> (the cover)\n <p1@x>\n\t<p0@x>\n"
        + "References: <p1@x> <p2@x>\n"
    )
    got = parse_mail(raw)
    assert got.in_reply_to == "p2@x"
    assert got.references == ("p0@x", "p1@x", "p2@x")


def test_several_in_reply_to_and_ids_without_brackets() -> None:
    raw = mail(BASE + "In-Reply-To: a@x\nIn-Reply-To: <b@x>\nReferences: a@x b@x\n")
    got = parse_mail(raw)
    assert got.in_reply_to == "a@x"
    assert got.references == ("a@x", "b@x")
    assert any("In-Reply-To" in w for w in got.warnings)
    assert message_ids("garbage without ids") == []


def test_missing_message_id_is_synthetic_and_stable() -> None:
    raw = mail("From: a@b\nSubject: hi\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n", "text\n")
    one, two = parse_mail(raw), parse_mail(raw)
    assert one.synthetic_id and one.message_id == two.message_id
    assert one.message_id.endswith("@kvm-patchbot.invalid")
    # the same content through another relay (other Received lines) keeps its id
    relayed = b"Received: from relay by mx; Mon, 1 Jan 2024 00:00:01 +0000\n" + raw
    assert parse_mail(relayed).message_id == one.message_id
    other = mail("From: a@b\nSubject: hi\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n", "other\n")
    assert parse_mail(other).message_id != one.message_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Fri, 14 Mar 2025 19:34:48 -0700", datetime(2025, 3, 14, 19, 34, 48, tzinfo=timezone(timedelta(hours=-7)))),
        ("14 Mar 2025 19:34:48 +0100", datetime(2025, 3, 14, 19, 34, 48, tzinfo=timezone(timedelta(hours=1)))),
        ("Fri, 14 Mar 2025 19:34 GMT", datetime(2025, 3, 14, 19, 34, tzinfo=timezone.utc)),
        ("Fri, 14 Mar 25 19:34:48 EST", datetime(2025, 3, 14, 19, 34, 48, tzinfo=timezone(timedelta(hours=-5)))),
        ("Fri, 14 Mar 2025 19:34:48", datetime(2025, 3, 14, 19, 34, 48, tzinfo=timezone.utc)),
        ("Tue, 1 Jun 9999 00:00:00 +0000", None),  # absurd
        ("Wed, 4 Jun 2077777777777777777777 00:00:00 +0000", None),
        ("yesterday", None),
        ("Fri, 31 Feb 2025 10:00:00 +0000", None),  # no such day
    ],
)
def test_parse_date(value: str, expected: datetime | None) -> None:
    got = parse_date(value)
    assert got == expected
    if got is not None:
        assert got.tzinfo is not None and got.utcoffset() == expected.utcoffset()


def test_broken_date_falls_back_to_first_received() -> None:
    raw = mail(
        "Received: from a by b; Sat, 15 Mar 2025 02:46:28 +0000 (UTC)\n"
        "Received: from c by d; Fri, 14 Mar 2025 10:00:00 +0000\n"
        "From: x@y\nMessage-ID: <d@x>\nDate: the day after tomorrow\n"
    )
    got = parse_mail(raw)
    assert got.date == datetime(2025, 3, 15, 2, 46, 28, tzinfo=timezone.utc)
    assert any("Date" in w for w in got.warnings)
    nothing = parse_mail(mail("From: x@y\nMessage-ID: <e@x>\n"))
    assert nothing.date is None


def test_dmarc_munged_sender() -> None:
    raw = mail(
        'From: "Jane Doe via kvm" <kvm@vger.kernel.org>\n'
        "X-Original-From: Jane Doe <jane@example.com>\n"
        "Reply-To: Jane Doe <jane@example.com>\nMessage-ID: <dm@x>\n"
    )
    assert parse_mail(raw).author.model_dump() == {"name": "Jane Doe", "email": "jane@example.com"}
    only_reply_to = raw.replace(b"X-Original-From: Jane Doe <jane@example.com>\n", b"")
    assert parse_mail(only_reply_to).author.email == "jane@example.com"


def test_to_cc_list_id() -> None:
    raw = mail(
        BASE
        + 'To: "Doe, John" <john@example.com>, Paolo Bonzini <pbonzini@REDHAT.com>\n'
        + "Cc: kvm@vger.kernel.org,\n linux-kernel@vger.kernel.org\nCc: =?UTF-8?Q?J=C3=B6rg?= <j@x>\n"
        + "List-Id: Where KVM/ARM decisions are made <kvmarm.lists.cs.columbia.edu>\n"
    )
    got = parse_mail(raw)
    assert [(p.name, p.email) for p in got.to] == [
        ("Doe, John", "john@example.com"),
        ("Paolo Bonzini", "pbonzini@redhat.com"),
    ]
    assert [p.email for p in got.cc] == ["kvm@vger.kernel.org", "linux-kernel@vger.kernel.org", "j@x"]
    assert got.cc[2].name == "Jörg"
    assert got.list_id == "kvmarm.lists.cs.columbia.edu"
    fallback = parse_mail(mail(BASE + "X-Mailing-List: kvm@vger.kernel.org\n"))
    assert fallback.list_id == "kvm.vger.kernel.org"


def test_read_headers_only_wanted_and_in_order() -> None:
    head, body = split_mail(b"X-Junk: 1\nSubject: a\n b\nsubject: second\nTo: t@x\n\nbody\n")
    h = read_headers(head)
    assert h.all("subject") == [b"a\n b", b"second"]
    assert "x-junk" not in h.values
    assert header_text(h.first("subject")) == "a b"
    assert body == b"body\n"


def test_over_long_and_nul_headers_do_not_raise() -> None:
    raw = mail(BASE + "References: " + " ".join(f"<r{i}@x>" for i in range(20000)) + "\n")
    got = parse_mail(raw)
    assert got.kind.value != "unparseable"
    assert got.references[0] == "r0@x" and len(got.references) < 20000
    assert any("truncated" in w for w in got.warnings)
    nul = parse_mail(b"From: a\x00b@x\nMessage-ID: <n\x00ul@x>\nSubject: x\x00y\n\nbody\x00\n")
    assert nul.message_id == "nul@x" and nul.subject.raw == "xy" and "\x00" not in nul.body


@pytest.mark.parametrize(
    "value",
    [b"<a@x> <b@x>", b"<a@x>\n <b@x>\n\t<c@x>", b"<a@\n x>", b"<a@x> (comment <c@x>)", b"<> <a@x>",
     b"=?utf-8?q?x?= <a@x>", b"a@x b@x", b"<caf\xc3\xa9@x>"],
)
def test_message_id_fast_path_agrees(value: bytes) -> None:
    from bot.mail.headers import header_message_ids

    assert header_message_ids(value) == message_ids(header_text(value))


def test_a_header_name_with_a_high_byte_at_the_longest_length_is_read_not_crashed() -> None:
    """The shape tables are indexed by a name's first and last byte: a byte of
    0x80 or above in a name as long as the longest wanted one (25) ran past
    their end, and the mail came out unparseable (IndexError). Hypothesis found it."""
    name = b"content-transfer-encodin\xe9"
    assert len(name) == max(len(n) for n in WANTED)
    raw = b"From: Ann <ann@example.com>\n" + name + b": x\nSubject: [PATCH] KVM: x86: fix\nMessage-ID: <hb@x>\n\nbody\n"
    mail = parse_mail(raw)
    assert mail.kind is not Kind.UNPARSEABLE, mail.errors
    assert (mail.message_id, mail.subject.title) == ("hb@x", "KVM: x86: fix")
