"""Issue 12 item 7: parser defects found on real mail, each on a minimal mail of our own."""

from __future__ import annotations

import pytest
from bot.mail import Kind, ParsedMail, parse_mail
from bot.mail.headers import decode_rfc2047
from bot.mail.mime import parse_content_type
from tests.mail.differential import unstorable
from tests.mail.mini import mail, patch_body


def second_patch(path: str) -> str:
    """What `git format-patch --stdout` puts between two patches, then the next one."""
    return (
        "\nFrom 0123456789abcdef0123456789abcdef01234567 Mon Sep 17 00:00:00 2001\n"
        "From: Jane Doe <jane@example.com>\nSubject: [PATCH 2/2] KVM: x86: Fix bar\n\n"
        + patch_body(path)
    )


def test_diffstat_covers_every_inline_patch() -> None:
    m = parse_mail(mail(patch_body("arch/x86/kvm/x86.c") + second_patch("arch/x86/kvm/mmu/mmu.c")))
    assert m.kind is Kind.PATCH
    assert m.diffstat is not None and m.diffstat_computed is not None
    assert [e.path for e in m.diffstat.per_file] == ["arch/x86/kvm/x86.c", "arch/x86/kvm/mmu/mmu.c"]
    assert (m.diffstat.files, m.diffstat.insertions, m.diffstat.deletions) == (2, 2, 2)
    assert m.diffstat == m.diffstat_computed
    assert not [w for w in m.warnings if "diffstat" in w]
    assert [t.name for t in m.trailers] == ["Signed-off-by"]  # the first patch's


def test_diffstat_covers_every_attached_patch() -> None:
    parts = "".join(
        f"--XX\nContent-Type: text/x-patch; charset=utf-8\nContent-Disposition: attachment; "
        f'filename="000{i}-fix.patch"\n\n{patch_body(path)}'
        for i, path in ((1, "arch/x86/kvm/x86.c"), (2, "virt/kvm/kvm_main.c"))
    )
    body = "--XX\nContent-Type: text/plain\n\nTwo fixes attached.\n\nSigned-off-by: Jane Doe <jane@example.com>\n" + parts + "--XX--\n"
    m = parse_mail(mail(body, headers='MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="XX"\n'))
    assert [a.is_diff for a in m.attachments] == [True, True]
    assert m.diffstat is not None and m.diffstat.files == 2
    assert [e.path for e in m.diffstat.per_file] == ["arch/x86/kvm/x86.c", "virt/kvm/kvm_main.c"]
    assert m.files == ("arch/x86/kvm/x86.c", "virt/kvm/kvm_main.c")
    assert not [w for w in m.warnings if "diffstat" in w]


@pytest.mark.parametrize(("old", "new"), [("i/", "w/"), ("c/", "w/"), ("c/", "i/"), ("o/", "w/"), ("1/", "2/")])
def test_mnemonic_prefixes_stripped(old: str, new: str) -> None:
    m = parse_mail(mail(patch_body("arch/x86/kvm/x86.c", minus=old, plus=new)))
    assert m.files == ("arch/x86/kvm/x86.c",)
    assert m.diffstat_computed is not None and m.diffstat_computed.per_file[0].old_path is None
    assert not [w for w in m.warnings if "diffstat" in w]


def test_mnemonic_prefixes_on_a_rename() -> None:
    body = (
        "Move it.\n\nSigned-off-by: Jane Doe <jane@example.com>\n---\n"
        " arch/x86/kvm/{old.c => new.c} | 0\n 1 file changed, 0 insertions(+), 0 deletions(-)\n\n"
        "diff --git i/arch/x86/kvm/old.c w/arch/x86/kvm/new.c\nsimilarity index 100%\n"
        "rename from arch/x86/kvm/old.c\nrename to arch/x86/kvm/new.c\n"
    )
    entry = parse_mail(mail(body)).diffstat_computed.per_file[0]  # type: ignore[union-attr]
    assert (entry.path, entry.old_path) == ("arch/x86/kvm/new.c", "arch/x86/kvm/old.c")


def test_quilt_backup_names_are_not_renames() -> None:
    # akpm's quilt: `diff -puN file~patch-name file`, then `--- a/file~patch-name`
    body = (
        "Fix.\n\nSigned-off-by: Jane Doe <jane@example.com>\n---\n\n"
        " arch/x86/kvm/x86.c |    2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n"
        "diff -puN arch/x86/kvm/x86.c~kvm-fix-foo arch/x86/kvm/x86.c\n"
        "--- a/arch/x86/kvm/x86.c~kvm-fix-foo\n+++ a/arch/x86/kvm/x86.c\n"
        "@@ -1,2 +1,2 @@\n-int b;\n+int c;\n int d;\n_\n"
    )
    m = parse_mail(mail(body))
    assert m.diffstat_computed is not None
    entry = m.diffstat_computed.per_file[0]
    assert (entry.path, entry.old_path) == ("arch/x86/kvm/x86.c", None)
    assert m.files == ("arch/x86/kvm/x86.c",)


def test_base_commit_before_a_long_prerequisite_list() -> None:
    # b4: base-commit, change-id, then one line per prerequisite patch (here 120)
    prereqs = "".join(f"prerequisite-patch-id: {i:040x}\n" for i in range(120))
    body = patch_body().replace(
        "-- \n2.49.0\n",
        "\n---\nbase-commit: 0123456789abcdef0123456789abcdef01234567\n"
        "change-id: 20250301-foo-bar-1234abcd\nprerequisite-change-id: 20250201-dep-1:v2\n"
        + prereqs + "\nBest regards,\n-- \nJane Doe <jane@example.com>\n",
    )
    assert len(body) - body.index("base-commit:") > 4000
    m = parse_mail(mail(body))
    assert m.base_commit == "0123456789abcdef0123456789abcdef01234567"
    assert m.change_id == "20250301-foo-bar-1234abcd"
    assert [t.name for t in m.trailers] == ["Signed-off-by"]


def _diff_after(message: str) -> str:
    return message + "---\n" + patch_body().split("---\n", 1)[1]


def test_trailer_paragraph_with_a_nul_line() -> None:
    body = _diff_after(
        "Fix the foo.\n\nSigned-off-by: Jane Doe <jane@example.com>\n\x00\x00\x00\x00\nsent from a broken mailer\n"
    )
    m = parse_mail(mail(body.encode()))
    assert [(t.name, t.value) for t in m.trailers] == [("Signed-off-by", "Jane Doe <jane@example.com>")]
    assert "\x00" not in m.body and "NUL bytes removed from body" in m.warnings


def test_trailer_paragraph_with_nul_bytes_in_lines() -> None:
    body = _diff_after("Fix the foo.\n\nReviewed-by: A <a@example.com>\x00\nSigned-off-by: Jane Doe <jane@example.com>\x00\x00\n")
    m = parse_mail(mail(body.encode()))
    assert [t.value for t in m.trailers] == ["A <a@example.com>", "Jane Doe <jane@example.com>"]


def test_trailer_paragraph_with_injected_header_lines() -> None:
    body = _diff_after(
        "Fix the foo.\n\nSigned-off-by: Jane Doe <jane@example.com>\n"
        "Content-Type: text/plain;\n charset=UTF-8\nContent-Transfer-Encoding: 8bit\nMIME-Version: 1.0\n"
        "X-Mailer: git-send-email 2.49.0\n"
    )
    m = parse_mail(mail(body))
    assert [(t.name, t.value) for t in m.trailers] == [("Signed-off-by", "Jane Doe <jane@example.com>")]


@pytest.mark.parametrize("line", [
    "Cc: Paolo <pbonzini@redhat.com>, can you take this one through kvm/master?",
    "Cc: stable@vger.kernel.org would be nice here, no?",
    "Cc: Sean (seanjc@google.com) wrote this code, so adding him",
])
def test_prose_starting_with_cc_in_a_reply(line: str) -> None:
    m = parse_mail(mail(f"On Mon, X wrote:\n> foo\n\n{line}\n\nThanks\n", "Re: [PATCH] KVM: x86: Fix foo", reply_to="0@x"))
    assert m.kind is Kind.REPLY
    assert m.trailers == () and not m.stable.tagged


@pytest.mark.parametrize(("line", "value"), [
    ("Cc: Sean Christopherson <seanjc@google.com>", "Sean Christopherson <seanjc@google.com>"),
    ("Cc: stable@vger.kernel.org # 6.1+", "stable@vger.kernel.org"),
    ("Cc: a@example.com, B <b@example.com>", "a@example.com, B <b@example.com>"),
])
def test_real_cc_trailers_in_a_reply_stay(line: str, value: str) -> None:
    m = parse_mail(mail(f"Looks right.\n\n{line}\n", "Re: [PATCH] KVM: x86: Fix foo", reply_to="0@x"))
    assert [(t.name, t.value) for t in m.trailers] == [("Cc", value)]


def test_rfc2231_continued_filename() -> None:
    ctype, params = parse_content_type(
        "attachment; filename*0*=UTF-8''0001-KVM-x86-caf%C3; filename*1*=%A9-very-long.patch; size=12"
    )
    assert ctype == "attachment"
    assert params == {"filename": "0001-KVM-x86-café-very-long.patch", "size": "12"}
    _, params = parse_content_type('text/x-patch; name*0="0001-a-very-long-"; name*1="name.patch"')
    assert params["name"] == "0001-a-very-long-name.patch"


def test_rfc2231_continued_filename_in_a_mail() -> None:
    body = (
        "--XX\nContent-Type: text/plain\n\nSee attached.\n"
        "--XX\nContent-Type: text/x-patch; charset=utf-8\nContent-Disposition: attachment;\n"
        " filename*0*=UTF-8''0001-KVM-x86-caf%C3;\n filename*1*=%A9-very-long-name.patch\n\n"
        + patch_body() + "--XX--\n"
    )
    m = parse_mail(mail(body, headers='MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="XX"\n'))
    assert [a.filename for a in m.attachments] == ["0001-KVM-x86-café-very-long-name.patch"]
    assert m.has_diff and m.files == ("arch/x86/kvm/x86.c",)


@pytest.mark.parametrize(("encoded", "text"), [
    ("=?UTF-8?Q?KVM:_x86:_caf=C3?= =?UTF-8?Q?=A9_fix?=", "KVM: x86: café fix"),
    ("=?UTF-8?B?S1ZNOiDi?= =?utf-8?B?gqw=?=", "KVM: €"),  # B words, charset case differs
    ("=?UTF-8?Q?a?= =?ISO-8859-1?Q?=E9?=", "aé"),  # different charsets stay apart
])
def test_adjacent_encoded_words_join_split_characters(encoded: str, text: str) -> None:
    assert decode_rfc2047(encoded) == text
    m = parse_mail(mail(b"", encoded, sender=f"{encoded} <j@example.com>"))
    assert m.subject.raw == text and m.author.name == text


def assert_storable(m: ParsedMail) -> None:
    assert unstorable(m) == []


def test_utf7_never_gives_a_lone_surrogate() -> None:
    # `+2D0-` is UTF-7 for the lone high surrogate U+D834
    # (no diff: its `+` lines are not valid UTF-7, and the text would be read as UTF-8)
    body = "Hi +2D0- there\n\nSigned-off-by: J+2D0-ane <j@example.com>\n"
    m = parse_mail(mail(
        body.encode(),
        "=?UTF-7?Q?[PATCH]_KVM:_+2D0-_x86?=",
        sender="=?utf-7?Q?J+2D0-ane?= <j@example.com>",
        headers="Content-Type: text/plain; charset=utf-7\n",
    ))
    assert m.kind is Kind.PATCH
    assert m.subject.title == "KVM: \ufffd x86" and m.author.name == "J\ufffdane"
    assert m.body.startswith("Hi \ufffd there")
    assert m.trailers[0].value == "J\ufffdane <j@example.com>"
    assert_storable(m)


def test_utf7_attachment_name_and_text() -> None:
    body = (
        "--XX\nContent-Type: text/plain; charset=utf-7\n\nSee +2D0- attached.\n"
        "--XX\nContent-Type: text/x-patch; charset=utf-7\nContent-Disposition: attachment;\n"
        " filename*0*=utf-7''a+2D0-; filename*1*=b.patch\n\n" + patch_body() + "--XX--\n"
    )
    m = parse_mail(mail(body, headers='MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="XX"\n'))
    assert m.attachments[0].filename == "a\ufffdb.patch"
    assert m.body.startswith("See \ufffd attached")
    assert_storable(m)
