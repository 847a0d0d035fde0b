"""Minimal hand-written mails for the parser tests: headers plus a body, as bytes."""

from __future__ import annotations


def mail(
    body: str | bytes,
    subject: str = "[PATCH] KVM: x86: Fix foo",
    *,
    headers: str = "",
    msgid: str = "1@example.com",
    reply_to: str | None = None,
    sender: str = "Jane Doe <jane@example.com>",
) -> bytes:
    """One mail; `headers` are extra header lines (each ending in a newline)."""
    head = (
        f"From: {sender}\n"
        "To: kvm@vger.kernel.org\n"
        f"Subject: {subject}\n"
        "Date: Tue, 15 Mar 2025 02:34:48 -0700\n"
        f"Message-ID: <{msgid}>\n"
    )
    if reply_to is not None:
        head += f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>\n"
    raw = (head + headers + "\n").encode()
    return raw + (body.encode() if isinstance(body, str) else body)


def patch_body(path: str = "arch/x86/kvm/x86.c", sob: str = "Jane Doe <jane@example.com>", *,
               minus: str = "a/", plus: str = "b/", stat: bool = True) -> str:
    """A one-file, one-line change as git format-patch writes it."""
    lines = ["Fix the foo.", "", f"Signed-off-by: {sob}", "---"]
    if stat:
        lines += [f" {path} | 2 +-", " 1 file changed, 1 insertion(+), 1 deletion(-)"]
    lines += [
        "",
        f"diff --git {minus}{path} {plus}{path}",
        "index 1111111..2222222 100644",
        f"--- {minus}{path}",
        f"+++ {plus}{path}",
        "@@ -1,3 +1,3 @@",
        " int a;",
        "-int b;",
        "+int c;",
        " int d;",
        "-- ",
        "2.49.0",
        "",
    ]
    return "\n".join(lines)
