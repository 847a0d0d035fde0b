"""Bodies, diffs and encodings (parser-cases.md), as table tests.

Each case builds a small mail in the test, then the same shapes are checked
on real fixtures from patchwork, patchew and b4.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from bot.ingest.sources import iter_path
from bot.mail import Kind, ParsedMail, parse_mail
from bot.mail.mime import parse_content_type, split_multipart
from tests.helpers import raw_mail

DIFF = """\
diff --git a/arch/x86/kvm/x86.c b/arch/x86/kvm/x86.c
index 1111111..2222222 100644
--- a/arch/x86/kvm/x86.c
+++ b/arch/x86/kvm/x86.c
@@ -1,3 +1,3 @@
 a
-b
+c
 d
"""
STAT = " arch/x86/kvm/x86.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n"
MESSAGE = "KVM: x86: explain the change.\n\nSigned-off-by: A U Thor <author@example.com>\n"
PATCH_BODY = MESSAGE + "---\n" + STAT + "\n" + DIFF + "-- \n2.49.0\n"


def build(
    subject: str = "[PATCH] KVM: x86: Fix foo",
    body: str | bytes = PATCH_BODY,
    headers: str = "",
    content_type: str = 'text/plain; charset="utf-8"',
    cte: str = "8bit",
) -> bytes:
    """One mail of the MIME shape under test (tests.helpers.raw_mail with this file's defaults)."""
    return raw_mail("case@example.com", subject, body, author="A U Thor <author@example.com>",
                    content_type=content_type, cte=cte, extra_headers=headers)


def multipart(parts: list[tuple[str, str | bytes, str]], boundary: str = "BOUND", sub: str = "mixed") -> tuple[str, bytes]:
    """(Content-Type value, body) of a multipart made of (headers, body, cte) parts."""
    out = [b"This is a multi-part message in MIME format.\n"]
    for headers, body, cte in parts:
        data = body.encode("utf-8") if isinstance(body, str) else body
        out.append(f"--{boundary}\n{headers}\nContent-Transfer-Encoding: {cte}\n\n".encode() + data + b"\n")
    out.append(f"--{boundary}--\n".encode())
    return f'multipart/{sub}; boundary="{boundary}"', b"".join(out)


def assert_valid(mail: ParsedMail) -> None:
    ParsedMail.model_validate(mail.model_dump())
    assert mail.errors == ()


def assert_one_file_patch(mail: ParsedMail) -> None:
    assert mail.kind is Kind.PATCH and mail.has_diff
    assert mail.diffstat_computed is not None
    assert [(e.path, e.insertions, e.deletions) for e in mail.diffstat_computed.per_file] == [
        ("arch/x86/kvm/x86.c", 1, 1)
    ]
    assert mail.files == ("arch/x86/kvm/x86.c",)
    assert_valid(mail)


# --- where the diff is ---------------------------------------------------------


def test_inline_git_diff() -> None:
    mail = parse_mail(build())
    assert_one_file_patch(mail)
    assert mail.diffstat == mail.diffstat_computed
    assert mail.commit_message == MESSAGE
    assert not any("disagrees" in w for w in mail.warnings)


@pytest.mark.parametrize("ctype", ["text/x-patch", "text/x-diff", "application/octet-stream", "text/plain"])
def test_patch_as_attachment(ctype: str) -> None:
    attached = "0001-fix.patch"
    ct, body = multipart(
        [
            ('Content-Type: text/plain; charset="utf-8"', MESSAGE, "7bit"),
            (
                f'Content-Type: {ctype}; name="{attached}"\nContent-Disposition: attachment; filename="{attached}"',
                base64.encodebytes(("---\n" + STAT + "\n" + DIFF).encode()),
                "base64",
            ),
        ]
    )
    mail = parse_mail(build(body=body, content_type=ct, cte="7bit"))
    assert_one_file_patch(mail)
    assert mail.body.strip() == MESSAGE.strip()
    assert [(a.filename, a.content_type, a.is_diff) for a in mail.attachments] == [(attached, ctype, True)]
    assert mail.diffstat == mail.diffstat_computed  # the block came from the attachment


def test_binary_attachment_is_not_a_diff() -> None:
    ct, body = multipart(
        [
            ("Content-Type: text/plain", "See the attached picture.\n", "7bit"),
            ('Content-Type: image/png; name="a.png"', base64.encodebytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256))), "base64"),
        ]
    )
    mail = parse_mail(build(subject="a picture", body=body, content_type=ct, cte="7bit"))
    assert mail.kind is Kind.OTHER and not mail.has_diff
    assert [(a.filename, a.content_type, a.size, a.is_diff) for a in mail.attachments] == [
        ("a.png", "image/png", 264, False)
    ]
    assert_valid(mail)


def test_html_alternative_uses_text_plain() -> None:
    ct, body = multipart(
        [
            ('Content-Type: text/plain; charset="utf-8"', PATCH_BODY, "8bit"),
            ('Content-Type: text/html; charset="utf-8"', "<html><body><p>ignored</p></body></html>", "8bit"),
        ],
        sub="alternative",
    )
    mail = parse_mail(build(body=body, content_type=ct))
    assert_one_file_patch(mail)
    assert "ignored" not in mail.body and mail.attachments == ()


def test_html_only_body_becomes_text() -> None:
    mail = parse_mail(
        build(subject="Re: hello", body="<html><p>Looks good &amp; works</p><br>thanks</html>", content_type="text/html")
    )
    assert "Looks good & works" in mail.body and "<p>" not in mail.body
    assert any("HTML" in w for w in mail.warnings)


def test_nested_multipart_signed_mail() -> None:
    inner_ct, inner = multipart(
        [
            ('Content-Type: text/plain; charset="iso-8859-1"', "caf\xe9 ".encode("latin-1") + PATCH_BODY.encode(), "8bit"),
            ('Content-Type: text/html', "<p>x</p>", "7bit"),
        ],
        boundary="INNER",
        sub="alternative",
    )
    outer_ct, outer = multipart(
        [
            (f"Content-Type: {inner_ct}", inner, "7bit"),
            ('Content-Type: application/pgp-signature; name="signature.asc"', "-----BEGIN PGP SIGNATURE-----\n", "7bit"),
        ],
        boundary="OUTER",
        sub="signed",
    )
    mail = parse_mail(build(body=outer, content_type=outer_ct, cte="7bit"))
    assert_one_file_patch(mail)
    assert mail.body.startswith("café KVM: x86")
    assert [a.content_type for a in mail.attachments] == ["application/pgp-signature"]


def test_forwarded_message_rfc822_is_not_a_patch() -> None:
    ct, body = multipart(
        [
            ("Content-Type: text/plain", "FYI, see below.\n", "7bit"),
            ("Content-Type: message/rfc822", build().decode(), "8bit"),
        ]
    )
    mail = parse_mail(build(subject="Fwd: [PATCH] KVM: x86: Fix foo", body=body, content_type=ct))
    assert mail.kind is Kind.REPLY and not mail.has_diff and not mail.carries_patch
    assert [a.content_type for a in mail.attachments] == ["message/rfc822"]


@pytest.mark.parametrize(
    ("cte", "encode"),
    [
        ("quoted-printable", lambda b: __import__("quopri").encodestring(b)),
        ("base64", base64.encodebytes),
        ("BASE64", base64.encodebytes),
    ],
)
def test_transfer_encodings(cte: str, encode) -> None:
    mail = parse_mail(build(body=encode(PATCH_BODY.encode()), cte=cte))
    assert_one_file_patch(mail)
    assert mail.commit_message == MESSAGE


def test_broken_base64_does_not_raise() -> None:
    mail = parse_mail(build(body=b"S1ZN!!!: not base64 at all ***\n", cte="base64"))
    assert mail.kind is not Kind.UNPARSEABLE
    assert_valid(mail)


# --- diff flavours ---------------------------------------------------------------

PLAIN_U = """\
--- linux.orig/arch/x86/kvm/x86.c\t2020-01-01 00:00:00.000000000 +0000
+++ linux/arch/x86/kvm/x86.c\t2020-01-02 00:00:00.000000000 +0000
@@ -1,3 +1,3 @@
 a
-b
+c
 d
"""
CVS = "Index: arch/x86/kvm/x86.c\n" + "=" * 67 + "\n" + PLAIN_U.replace("linux.orig/", "").replace("linux/", "")


@pytest.mark.parametrize("diff", [PLAIN_U, CVS], ids=["diff-u", "cvs-index"])
def test_non_git_diffs(diff: str) -> None:
    mail = parse_mail(build(body=MESSAGE + "---\n" + diff))
    assert_one_file_patch(mail)
    assert mail.commit_message == MESSAGE


@pytest.mark.parametrize(
    ("diff", "stat", "entry"),
    [
        (
            "diff --git a/old.c b/new.c\nsimilarity index 100%\nrename from old.c\nrename to new.c\n",
            " old.c => new.c | 0\n 1 file changed, 0 insertions(+), 0 deletions(-)\n rename old.c => new.c (100%)\n",
            ("new.c", 0, 0, False, "old.c"),
        ),
        (
            "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n",
            " run.sh | 0\n 1 file changed, 0 insertions(+), 0 deletions(-)\n mode change 100644 => 100755 run.sh\n",
            ("run.sh", 0, 0, False, None),
        ),
        (
            "diff --git a/empty b/empty\nnew file mode 100644\nindex 0000000..e69de29\n",
            " empty | 0\n 1 file changed, 0 insertions(+), 0 deletions(-)\n create mode 100644 empty\n",
            ("empty", 0, 0, False, None),
        ),
        (
            "diff --git a/a.bin b/a.bin\nnew file mode 100644\nindex 0000000..1234567\nGIT binary patch\nliteral 3\nKcmZ?wbN~PW\n\nliteral 0\nHcmV?d00001\n\n",
            " a.bin | Bin 0 -> 3 bytes\n 1 file changed, 0 insertions(+), 0 deletions(-)\n create mode 100644 a.bin\n",
            ("a.bin", 0, 0, True, None),
        ),
        (
            "diff --git a/a.bin b/a.bin\nindex 1234567..89abcde 100644\nBinary files a/a.bin and b/a.bin differ\n",
            " a.bin | Bin 3 -> 4 bytes\n 1 file changed, 0 insertions(+), 0 deletions(-)\n",
            ("a.bin", 0, 0, True, None),
        ),
        (
            "diff --git a/t b/t\nindex 1..2 100644\n--- a/t\n+++ b/t\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n",
            " t | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n",
            ("t", 1, 1, False, None),
        ),
    ],
    ids=["rename-only", "mode-only", "new-empty-file", "binary-add", "binary-change", "no-newline-at-eof"],
)
def test_special_diffs(diff: str, stat: str, entry: tuple) -> None:
    mail = parse_mail(build(body=MESSAGE + "---\n" + stat + "\n" + diff + "-- \n2.49.0\n"))
    assert mail.kind is Kind.PATCH and mail.has_diff
    got = mail.diffstat_computed.per_file
    assert [(e.path, e.insertions, e.deletions, e.binary, e.old_path) for e in got] == [entry]
    assert mail.diffstat == mail.diffstat_computed, mail.warnings
    assert not any("disagrees" in w for w in mail.warnings)
    assert mail.commit_message == MESSAGE
    assert_valid(mail)


def test_hand_edited_diffstat_is_reported_not_trusted() -> None:
    mail = parse_mail(build(body=PATCH_BODY.replace("| 2 +-", "| 3 ++-").replace("1 insertion", "2 insertions")))
    assert mail.diffstat is not None and mail.diffstat.insertions == 2
    assert mail.diffstat_computed.insertions == 1
    assert any("disagrees" in w for w in mail.warnings)


# --- what is and is not a patch ----------------------------------------------------


def test_cover_with_interdiff_stays_cover() -> None:
    body = (
        "This series does things.\n\nA U Thor (2):\n  KVM: one\n  KVM: two\n\n"
        " arch/x86/kvm/x86.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n"
        "Interdiff against v1:\n" + DIFF + "\nRange-diff against v1:\n1:  abcdef = 1:  123456 KVM: one\n"
        "-- \n2.49.0\n"
    )
    mail = parse_mail(build(subject="[PATCH v2 0/2] KVM: x86: things", body=body))
    assert mail.kind is Kind.COVER and not mail.has_diff and mail.diffstat_computed is None
    assert mail.diffstat is not None and mail.diffstat.files == 1
    assert mail.commit_message.startswith("This series does things.")
    assert "2.49.0" not in mail.commit_message


def test_reply_carrying_a_new_patch() -> None:
    body = "> quoted review\n\nHow about this instead?\n\n" + DIFF
    mail = parse_mail(build(subject="Re: [PATCH v3 05/12] KVM: x86: Fix foo", body=body, headers="In-Reply-To: <p@x>\n"))
    assert mail.kind is Kind.REPLY and mail.carries_patch and mail.has_diff
    assert mail.subject.index == 5 and mail.commit_message == ""
    unnumbered = parse_mail(build(subject="KVM: x86: alternative fix", body=body, headers="In-Reply-To: <p@x>\n"))
    assert unnumbered.kind is Kind.REPLY and unnumbered.carries_patch


def test_quoted_diff_is_not_a_patch() -> None:
    quoted = "".join("> " + line + "\n" for line in PATCH_BODY.splitlines())
    mail = parse_mail(build(subject="Re: [PATCH] KVM: x86: Fix foo", body=quoted + "\nReviewed-by: R <r@x>\n"))
    assert mail.kind is Kind.REPLY and not mail.has_diff and not mail.carries_patch
    assert mail.diffstat is None and mail.files == ()


def test_inline_forwarded_diff_is_not_a_patch() -> None:
    body = "Have a look:\n\n-------- Forwarded Message --------\nSubject: [PATCH] x\n\n" + PATCH_BODY
    mail = parse_mail(build(subject="something to look at", body=body))
    assert not mail.has_diff and mail.kind is Kind.OTHER
    assert any("forwarded" in w for w in mail.warnings)


def test_triple_dash_separator_without_diff() -> None:
    body = "Hi all,\n\nA question about the MMU.\n---\nSome notes after a visual separator.\n"
    mail = parse_mail(build(subject="[RFC] KVM: x86: a question", body=body))
    assert mail.kind is Kind.OTHER and not mail.has_diff and mail.diffstat is None
    single = parse_mail(build(subject="[PATCH] KVM: no diff here", body=body))
    assert single.kind is Kind.PATCH and not single.has_diff
    assert "Some notes after a visual separator." in single.commit_message


def test_footer_and_signature_not_in_commit_message() -> None:
    footer = "_______________________________________________\nkvmarm mailing list\nkvmarm@lists.cs.columbia.edu\n"
    body = "A cover letter.\n\nThanks,\nJane\n-- \nJane's signature\n" + footer
    mail = parse_mail(build(subject="[PATCH 0/2] KVM: arm64: things", body=body))
    assert mail.kind is Kind.COVER
    assert mail.commit_message == "A cover letter.\n\nThanks,\nJane\n"
    nosig = parse_mail(build(subject="[PATCH 0/2] KVM: arm64: things", body="A cover letter.\n\n" + footer))
    assert nosig.commit_message == "A cover letter.\n"


# --- charsets and bad bytes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("charset", "data", "expected"),
    [
        ("utf-8", "Jörg".encode(), "Jörg"),
        ("iso-8859-1", "Jörg".encode("latin-1"), "Jörg"),
        ("x-unknown-charset", "Jörg".encode(), "Jörg"),  # unknown name: utf-8
        ("utf-8", "Jörg".encode("latin-1"), "Jörg"),  # invalid utf-8: latin-1
        ('"y"', b"caf\xc3\xa9", "café"),
        ("us-ascii", "naïve".encode(), "naïve"),  # 8-bit in "ascii": utf-8
    ],
)
def test_charsets_never_raise(charset: str, data: bytes, expected: str) -> None:
    mail = parse_mail(build(subject="Re: x", body=data + b" wrote\n", content_type=f"text/plain; charset={charset}"))
    assert mail.body.startswith(expected)
    assert_valid(mail)


def test_invalid_bytes_mostly_utf8_get_replacement() -> None:
    text = ("ok " * 200).encode() + b"\xff" + b" end\n"
    mail = parse_mail(build(subject="Re: x", body=text))
    assert mail.body.endswith("\ufffd end\n") and mail.body.startswith("ok ok")
    assert any("not valid" in w for w in mail.warnings)


def test_nul_bytes_in_body() -> None:
    mail = parse_mail(build(body=PATCH_BODY.replace("explain", "ex\x00plain")))
    assert "\x00" not in mail.body and mail.kind is Kind.PATCH
    assert any("NUL" in w for w in mail.warnings)


def test_content_type_parameters() -> None:
    assert parse_content_type('Multipart/Mixed; boundary="a;b"; charset=UTF-8') == (
        "multipart/mixed",
        {"boundary": "a;b", "charset": "UTF-8"},
    )
    assert parse_content_type("text/plain; name*=utf-8''na%C3%AFve.patch")[1] == {"name": "naïve.patch"}
    assert split_multipart(b"no boundary here\n", b"X") is None


# --- real fixtures ------------------------------------------------------------------


def _only(path: Path) -> ParsedMail:
    mails = [parse_mail(r.data) for r in iter_path(path)]
    assert len(mails) == 1
    assert_valid(mails[0])
    return mails[0]


@pytest.mark.parametrize(
    ("name", "kind", "stat", "attachments"),
    [
        ("patchew/0005-non-utf-8.mbox", Kind.REPLY, None, []),
        ("patchew/0006-multi-part-non-utf-8.mbox", Kind.REPLY, None, [("application/pgp-signature", False)]),
        ("patchew/0007-invalid-charset.mbox", Kind.PATCH, [("Readme.MD", 7, 1, False)], []),
        ("patchew/0016-nested-multipart.mbox", Kind.REPLY, None, [("application/pgp-signature", False)]),
        ("patchew/0021-mode-only-patch.mbox", Kind.PATCH, "mode-only", []),
        ("patchew/0033-raw-diff.mbox", Kind.PATCH, [("xen/common/memory.c", 3, 2, False)], []),
        ("patchew/0034-rename-only-patch.mbox", Kind.PATCH, "rename-only", []),
        ("patchew/0038-octet-stream.mbox", Kind.PATCH, [("qapi/block-core.json", 3, 4, False)], [("application/octet-stream", True)]),
        ("patchwork/mail/0007-cvs-format-diff.mbox", Kind.PATCH, "cvs", [("text/plain", True)]),
        ("patchwork/mail/0010-invalid-charset.mbox", Kind.PATCH, [("sysdeps/x86_64/fpu/multiarch/e_pow.c", 1, 0, False)], []),
        ("patchwork/mail/0019-multipart-patch.mbox", Kind.PATCH, [("patchwork/parser.py", 3, 1, False)], []),
        ("patchwork/mail/0020-multipart-comment.mbox", Kind.REPLY, None, []),
        ("patchwork/mail/0021-git-empty-new-file.mbox", Kind.PATCH, [("banana", 0, 0, False)], []),
        ("patchwork/mail/0022-git-mode-change.mbox", Kind.PATCH, [("scripts/kconfig/nconf-cfg.sh", 0, 0, False)], []),
        ("patchwork/mail/0025-git-add-binary-file.mbox", Kind.PATCH, [("pixel.bmp", 0, 0, True)], []),
        ("patchwork/mail/0026-git-add-mixed-binary-text-files.mbox", Kind.PATCH, [("pixel.bmp", 0, 0, True), ("quit.sh", 3, 0, False)], []),
        ("patchwork/mail/0027-git-modify-binary-file.mbox", Kind.PATCH, [("pixel.bmp", 0, 0, True)], []),
        ("patchwork/mail/0011-no-newline-at-end-of-file.mbox", Kind.PATCH, "no-newline", []),
    ],
)
def test_real_fixtures(corpus: Path, name: str, kind: Kind, stat, attachments: list) -> None:
    mail = _only(corpus / "fixtures" / name)
    assert mail.kind is kind
    assert [(a.content_type, a.is_diff) for a in mail.attachments] == attachments
    if stat is None:
        assert not mail.has_diff and mail.diffstat_computed is None
        assert mail.body.strip()
        return
    got = [(e.path, e.insertions, e.deletions, e.binary) for e in mail.diffstat_computed.per_file]
    if stat == "mode-only":
        assert got and all(e[1:] == (0, 0, False) for e in got)
    elif stat == "rename-only":
        assert got and all(e[1:] == (0, 0, False) for e in got)
        assert all(e.old_path and e.old_path != e.path for e in mail.diffstat_computed.per_file)
    elif stat == "cvs":
        assert [e[0] for e in got][:2] == ["bfd/elf-bfd.h", "bfd/elflink.c"]
    elif stat == "no-newline":
        assert got[0][0].endswith("selftests/powerpc/Makefile")
    else:
        assert got == stat
    if mail.diffstat is not None and mail.diffstat is not mail.diffstat_computed:
        assert not any("disagrees" in w for w in mail.warnings), mail.warnings


def test_hunk_header_that_lies_is_recounted() -> None:
    # "-1,4" announces one old line too many: the quick count (removed lines
    # taken from the headers) disagrees with the block, so lines are counted.
    lying = (MESSAGE + "---\n" + STAT + "\n" + DIFF).replace("@@ -1,3 +1,3 @@", "@@ -1,4 +1,3 @@")
    mail = parse_mail(build(body=lying))
    assert_one_file_patch(mail)
    assert mail.diffstat == mail.diffstat_computed
    assert not any("disagrees" in w for w in mail.warnings)
    # Followed by a signature, git itself would read "-- " as the missing
    # removed line (numstat follows the header counts): then they disagree.
    signed = parse_mail(build(body=lying + "-- \n2.49.0\n"))
    assert [(e.insertions, e.deletions) for e in signed.diffstat_computed.per_file] == [(1, 2)]
    assert any("disagrees" in w for w in signed.warnings)
