"""Every trailer row of parser-cases.md, table-driven, plus the reply/commit rules."""

from __future__ import annotations

import pytest

from bot.mail.models import Person
from bot.mail.trailers import matches_sender, parse_trailers

SOB = "Signed-off-by: Jane Doe <jane@example.com>"


def commit(*trailer_lines: str) -> str:
    """A commit message whose last paragraph holds the given trailer lines."""
    return "KVM: x86: Fix foo\n\nBody text: explains why.\n\n" + "\n".join(trailer_lines) + "\n"


def pairs(block) -> list[tuple[str, str]]:
    return [(t.name, t.value) for t in block.trailers]


# (id, text, reply mode, check) -- check receives the TrailerBlock.
ROWS = [
    ("fixes-basic", commit('Fixes: 54a4f0239f2e ("KVM: MMU: Fix foo")', SOB), False,
     lambda b: [(f.sha, f.subject, f.long_sha, f.nonstandard) for f in b.fixes]
     == [("54a4f0239f2e", "KVM: MMU: Fix foo", False, False)]),
    ("fixes-wrapped-with-parens",
     commit('Fixes: 54a4f0239f2e ("KVM: x86: Handle kvm_foo() and bar()', 'in the (rare) slow path")', SOB), False,
     lambda b: [f.subject for f in b.fixes]
     == ["KVM: x86: Handle kvm_foo() and bar() in the (rare) slow path"]
     and pairs(b)[1] == ("Signed-off-by", "Jane Doe <jane@example.com>")),
    ("fixes-wrapped-indented",
     commit('Fixes: 54a4f0239f2e ("KVM: x86: Handle foo', '        and bar")', SOB), False,
     lambda b: [f.subject for f in b.fixes] == ["KVM: x86: Handle foo and bar"]),
    ("fixes-40-hex", commit('Fixes: 54a4f0239f2e0123456789abcdef0123456789ab ("KVM: x")', SOB), False,
     lambda b: b.fixes[0].long_sha and b.fixes[0].sha == "54a4f0239f2e0123456789abcdef0123456789ab"),
    ("fixes-too-short", commit("Fixes: 1234", SOB), False,
     lambda b: b.fixes == () and any("1234" in w for w in b.warnings) and pairs(b)[0] == ("Fixes", "1234")),
    ("fixes-question-mark", commit("Fixes: ?", SOB), False,
     lambda b: b.fixes == () and any("'?'" in w for w in b.warnings)),
    ("fixes-commit-word", commit('Fixes: commit 54a4f0239f2e ("KVM: x")', SOB), False,
     lambda b: [(f.sha, f.subject, f.nonstandard) for f in b.fixes] == [("54a4f0239f2e", "KVM: x", True)]),
    ("stable-cc", commit("Cc: stable@vger.kernel.org", SOB), False,
     lambda b: b.stable.tagged and not b.stable.embargoed and b.stable.versions == ()),
    ("stable-5.10.x", commit("Cc: stable@vger.kernel.org # 5.10.x", SOB), False,
     lambda b: b.stable.tagged and b.stable.versions == ("5.10.x",)),
    ("stable-v6.1+", commit("Cc: stable@vger.kernel.org # v6.1+", SOB), False,
     lambda b: b.stable.tagged and b.stable.versions == ("v6.1+",)),
    ("stable-and-later", commit("Cc: stable@vger.kernel.org # 6.6.y and later", SOB), False,
     lambda b: b.stable.versions == ("6.6.y and later",)),
    ("stable-prerequisite",
     commit("Cc: <stable@vger.kernel.org> # 3.3.x: a1f84a3: sched: Check for idle", SOB), False,
     lambda b: b.stable.tagged and b.stable.prerequisites == ("a1f84a3",) and b.stable.versions == ("3.3.x",)),
    ("stable-embargoed", commit("Cc: stable@kernel.org", SOB), False,
     lambda b: b.stable.tagged and b.stable.embargoed),
    ("stable-noautosel", commit("Cc: <stable+noautosel@kernel.org> # reason", SOB), False,
     lambda b: not b.stable.tagged and b.stable.noautosel and b.trailers[0].extra == "# reason"),
    ("stable-dep-of", commit('Stable-dep-of: 901084c51a0a ("KVM: x86: Foo")', SOB), False,
     lambda b: [(d.sha, d.subject) for d in b.stable.depends_on] == [("901084c51a0a", "KVM: x86: Foo")]
     and not b.stable.tagged),
    ("people-and-links-in-order",
     commit("Reported-by: R <r@x.org>", "Suggested-by: S <s@x.org>", "Co-developed-by: C <c@x.org>",
            "Signed-off-by: C <c@x.org>", "Reviewed-by: V <v@x.org>", "Acked-by: A <a@x.org>",
            "Tested-by: T <t@x.org>", "Cc: K <k@x.org>", "Link: https://lore.kernel.org/r/1@x",
            "Closes: https://bugzilla.kernel.org/show_bug.cgi?id=1", "Message-ID: <1@x>", SOB), False,
     lambda b: [t.name for t in b.trailers] == [
         "Reported-by", "Suggested-by", "Co-developed-by", "Signed-off-by", "Reviewed-by", "Acked-by",
         "Tested-by", "Cc", "Link", "Closes", "Message-ID", "Signed-off-by"]
     and b.trailers[0].person == Person(name="R", email="r@x.org")
     and b.trailers[9].value == "https://bugzilla.kernel.org/show_bug.cgi?id=1"
     and b.trailers[8].person is None),
    ("comment-kept-apart", commit("Acked-by: Marc Zyngier <maz@kernel.org> # arm64", SOB), False,
     lambda b: (b.trailers[0].value, b.trailers[0].extra, b.trailers[0].person.email)
     == ("Marc Zyngier <maz@kernel.org>", "# arm64", "maz@kernel.org")),
    ("parenthetical-kept", commit("Acked-by: John Doe <john@doe.com> (Documentation)", SOB), False,
     lambda b: (b.trailers[0].value, b.trailers[0].extra) == ("John Doe <john@doe.com>", "(Documentation)")),
    ("maintainer-note", commit("Reviewed-by: V <v@x.org>", "Link: https://lore.kernel.org/r/1@x",
                               "[sean: massage changelog]", "Signed-off-by: Sean <seanjc@google.com>"), False,
     lambda b: [t.note for t in b.trailers] == [None, "[sean: massage changelog]", None]),
    ("wrapped-signed-off-by", commit("Signed-off-by: Long Name", "<long.name@example.com>"), False,
     lambda b: pairs(b) == [("Signed-off-by", "Long Name <long.name@example.com>")]
     and b.trailers[0].person == Person(name="Long Name", email="long.name@example.com")),
    ("case-normalised", commit("reviewed-BY: V <v@x.org>", "SIGNED-OFF-BY: J <j@x.org>", "cc: k@x.org"), False,
     lambda b: [t.name for t in b.trailers] == ["Reviewed-by", "Signed-off-by", "Cc"]),
    ("html-junk", commit("Reviewed-by: Foo <foo@bar.com<mailto:foo@bar.com>>", SOB), False,
     lambda b: b.trailers[0].value == "Foo <foo@bar.com>" and b.trailers[0].person.email == "foo@bar.com"),
    ("reply-quoted-prose-signature-ignored",
     "On Mon, Jane wrote:\n> Reviewed-by: Quoted <q@x.org>\n\n"
     "I'd give my Reviewed-by: once you fix this.\nReviewed-by: once you fix this\n\n"
     "Reviewed-by: Real Reviewer <real@x.org>\n\n-- \nReviewed-by: Sig Line <sig@x.org>\n", True,
     lambda b: pairs(b) == [("Reviewed-by", "Real Reviewer <real@x.org>")]),
    ("base-commit-change-id",
     "Cover text.\n\n---\nChanges in v2:\n- Link to v1: https://lore.kernel.org/r/20250101-foo-v1-0-abc@x.org\n\n"
     "base-commit: 0123456789abcdef0123456789abcdef01234567\nchange-id: 20250301-foo-bar-1234abcd\n\n"
     "Best regards,\n-- \nJane\n", False,
     lambda b: b.base_commit == "0123456789abcdef0123456789abcdef01234567"
     and b.change_id == "20250301-foo-bar-1234abcd"
     and b.previous_versions == ("https://lore.kernel.org/r/20250101-foo-v1-0-abc@x.org",)),
]


@pytest.mark.parametrize(("text", "reply", "check"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_trailer_row(text: str, reply: bool, check) -> None:
    block = parse_trailers(text, reply=reply)
    assert check(block), block


def test_only_the_trailing_paragraph_counts_in_a_commit_message() -> None:
    text = "KVM: foo\n\nLink: https://example.com/in-the-body\nCc: nobody@x.org is mentioned here\nmore prose\n" \
           "and more prose\nand still more\n\n" + SOB + "\n"
    assert pairs(parse_trailers(text)) == [("Signed-off-by", "Jane Doe <jane@example.com>")]


def test_two_trailer_paragraphs_and_prose_after_trailers() -> None:
    text = commit('Fixes: 54a4f0239f2e ("KVM: x")', "Cc: stable@vger.kernel.org") + "\n" + SOB + "\n"
    assert [t.name for t in parse_trailers(text).trailers] == ["Fixes", "Cc", "Signed-off-by"]
    # b4's non-git-patch case: prose directly under the trailers is not a trailer.
    text = commit(SOB, "This contains comments that are included below the message.")
    assert pairs(parse_trailers(text)) == [("Signed-off-by", "Jane Doe <jane@example.com>")]


def test_whole_patch_body_stops_at_the_diff() -> None:
    body = commit(SOB) + "---\n arch/x86/kvm/x86.c | 2 +-\n\ndiff --git a/x b/x\n+Signed-off-by: In Diff <d@x.org>\n"
    assert pairs(parse_trailers(body)) == [("Signed-off-by", "Jane Doe <jane@example.com>")]


def test_reply_stops_at_outlook_original_message() -> None:
    body = "Reviewed-by: Top Poster <top@x.org>\n\n-----Original Message-----\nFrom: a\n\n" + SOB + "\n"
    assert pairs(parse_trailers(body, reply=True)) == [("Reviewed-by", "Top Poster <top@x.org>")]


def test_supersedes_and_v1_links() -> None:
    text = "Cover.\n\nv1: https://lore.kernel.org/all/1@x\nv2: https://lore.kernel.org/all/2@x\n" \
           "Supersedes: <old@x.org>\n"
    assert parse_trailers(text).previous_versions == (
        "https://lore.kernel.org/all/1@x", "https://lore.kernel.org/all/2@x", "old@x.org")


def test_garbage_never_raises() -> None:
    for text in ("", "\n\n\n", ":::\n", "Fixes:\n", "Cc:\n" * 3, "Signed-off-by: <>\n", "\x00Fixes: zz\n"):
        parse_trailers(text)
        parse_trailers(text, reply=True)


def test_matches_sender() -> None:
    block = parse_trailers("Reviewed-by: Coverletter Reviewer1 <r1@x.org>\n", reply=True)
    (t,) = block.trailers
    assert matches_sender(t, Person(name="Followup Reviewer1", email="R1@x.org"))
    assert not matches_sender(t, Person(name="Someone", email="other@x.org"))


def test_reply_space_before_colon_and_quoted_original_marker() -> None:
    # Both seen in the kvmarm archive: "Reviewed-by : X" and a quoted Outlook header.
    body = "> -----Original Message-----\n> From: M\n> Signed-off-by: M <m@x.org>\n\n" \
           "   Tested-by: Shameer K <shameer@x.org>\n\nReviewed-by : Suzuki P <suzuki@x.org>\n" \
           "_______________________________________________\nkvmarm mailing list\n"
    assert pairs(parse_trailers(body, reply=True)) == [
        ("Tested-by", "Shameer K <shameer@x.org>"), ("Reviewed-by", "Suzuki P <suzuki@x.org>")]


def test_crlf_bodies() -> None:
    text = commit('Fixes: 54a4f0239f2e ("KVM: x")', SOB).replace("\n", "\r\n") + "---\r\n x | 1 +\r\n"
    block = parse_trailers(text)
    assert pairs(block) == [("Fixes", '54a4f0239f2e ("KVM: x")'), ("Signed-off-by", "Jane Doe <jane@example.com>")]
    reply = "> quoted\r\n\r\nAcked-by: A <a@x.org>\r\n-- \r\nsig\r\n"
    assert pairs(parse_trailers(reply, reply=True)) == [("Acked-by", "A <a@x.org>")]


def test_stable_cc_forms_not_spaced_or_below_the_line() -> None:
    block = parse_trailers(commit("Cc: stable@vger.kernel.org#v5.2+", SOB))
    assert block.stable.versions == ("v5.2+",) and block.trailers[0].value == "stable@vger.kernel.org"
    body = commit('Fixes: 54a4f0239f2e ("KVM: x")', SOB) + "---\nCc: stable@vger.kernel.org # v4.19+\n\n x | 1 +\n\ndiff --git a/x b/x\n"
    block = parse_trailers(body)
    assert block.stable.tagged and block.stable.versions == ("v4.19+",)
    assert [t.name for t in block.trailers] == ["Fixes", "Signed-off-by"]  # not a commit trailer
    assert any("below the ---" in w for w in block.warnings)


@pytest.mark.corpus
def test_every_stable_fix_in_the_corpus_has_fixes_and_a_stable_tag(corpus) -> None:
    """stable-fixes.mbox: 255 real patches, each carrying Fixes: and a stable Cc."""
    import mailbox

    count = 0
    for msg in mailbox.mbox(corpus / "stable-fixes.mbox"):
        payload = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
        text = (payload.get_payload(decode=True) or b"").decode(payload.get_content_charset() or "utf-8", "replace")
        block = parse_trailers(text)
        assert block.fixes and all(len(f.sha) >= 6 and f.subject for f in block.fixes), msg["subject"]
        assert block.stable.tagged, msg["subject"]
        count += 1
    assert count == 255


def test_reply_prose_fixes_and_to_trailers() -> None:
    reply = "> Fixes: 54a4f0239f2e (\"x\")\n\nFixes: tags should be on a single line.\n" \
            "Fixes: 54a4f0239f2e (\"KVM: x\")\n"
    block = parse_trailers(reply, reply=True)
    assert [f.sha for f in block.fixes] == ["54a4f0239f2e"] and block.warnings == ()
    block = parse_trailers(commit("Cc: kvmarm@lists.cs.columbia.edu", "To: linux-arm-kernel@lists.infradead.org"))
    assert [(t.name, t.person.email) for t in block.trailers] == [
        ("Cc", "kvmarm@lists.cs.columbia.edu"), ("To", "linux-arm-kernel@lists.infradead.org")]


def test_base_commit_paragraph_is_metadata_not_trailers() -> None:
    # A git format-patch cover letter: base-commit is the last paragraph above the signature.
    cover = "Series text.\n\nSean Christopherson (3):\n  KVM: x86: foo\n\n x.c | 1 +\n\n" \
            "base-commit: 7d2154117a02832ab3643fe2da4cdc9d2090dcb2\n-- \n2.49.0\n"
    block = parse_trailers(cover)
    assert block.trailers == () and block.base_commit == "7d2154117a02832ab3643fe2da4cdc9d2090dcb2"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_LINES = st.sampled_from([
    "", "---", "-- ", "> quoted", "Signed-off-by: A <a@x.org>", "Fixes: 54a4f0239f2e (\"x", "in y()\")",
    "Cc: stable@vger.kernel.org # 5.10", "[note]", "  indented", "<b@x.org>", "Fixes: ?", "Link: http://x#y",
    "diff --git a/x b/x", "--- a/x", "+++ b/x", "base-commit: abc", "v1: https://lore", "Reviewed-by : R <r@x>",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_LINES, st.text(max_size=12)), max_size=25).map("\n".join), st.booleans())
def test_parse_trailers_never_raises(text: str, reply: bool) -> None:
    block = parse_trailers(text, reply=reply)
    for t in block.trailers:
        assert t.name and t.name[0].isalpha() and "\n" not in t.value
