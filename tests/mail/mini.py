"""The parser tests' presets over tests/helpers.py: one small mail, one small patch."""

from __future__ import annotations

from tests.helpers import diff, raw_mail

SENDER = "Jane Doe <jane@example.com>"


def mail(
    body: str | bytes,
    subject: str = "[PATCH] KVM: x86: Fix foo",
    *,
    headers: str = "",
    msgid: str = "1@example.com",
    reply_to: str | None = None,
    sender: str = SENDER,
) -> bytes:
    """One mail; `headers` are extra header lines (each ending in a newline), MIME ones included."""
    return raw_mail(msgid, subject, body, irt=reply_to, author=sender, extra_headers=headers, content_type=None)


def patch_body(path: str = "arch/x86/kvm/x86.c", sob: str = SENDER, *,
               minus: str = "a/", plus: str = "b/", stat: bool = True) -> str:
    """A one-file, one-line change as git format-patch writes it."""
    return f"Fix the foo.\n\nSigned-off-by: {sob}\n" + diff(path, minus=minus, plus=plus, stat=stat)
