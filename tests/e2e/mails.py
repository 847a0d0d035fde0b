"""Small, realistic list mails for the end-to-end tests (CRLF, ready for SMTP)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=timezone.utc)
AUTHOR = "Alice Dev <alice@example.com>"


def _diff(path: str) -> str:
    return (
        "---\n"
        f" {path} | 2 +-\n"
        " 1 file changed, 1 insertion(+), 1 deletion(-)\n\n"
        f"diff --git a/{path} b/{path}\n"
        "index 1111111..2222222 100644\n"
        f"--- a/{path}\n"
        f"+++ b/{path}\n"
        "@@ -1,3 +1,3 @@\n"
        " a\n"
        "-b\n"
        "+c\n"
        " d\n"
        "-- \n"
        "2.49.0\n"
    )


def mail(
    mid: str,
    subject: str,
    body: str,
    *,
    parent: str | None = None,
    minutes: int = 0,
    author: str = AUTHOR,
) -> bytes:
    headers = [
        f"From: {author}",
        "To: kvm@vger.kernel.org",
        f"Subject: {subject}",
        f"Date: {format_datetime(T0 + timedelta(minutes=minutes))}",
        f"Message-ID: <{mid}>",
        "List-Id: <kvm.vger.kernel.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if parent:
        headers += [f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
    text = "\n".join(headers) + "\n\n" + body
    return text.replace("\n", "\r\n").encode()


def series(
    tag: str,
    title: str,
    n: int,
    *,
    version: int = 1,
    prefix: str = "KVM: x86",
    minutes: int = 0,
    cover_extra: str = "",
    patch_trailers: str = "",
    directory: str = "arch/x86/kvm",
) -> list[bytes]:
    """A cover letter and n patches; message ids `<tag>-<i>@example.com`."""
    v = f" v{version}" if version > 1 else ""
    cover_id = f"{tag}-0@example.com"
    out = [
        mail(
            cover_id,
            f"[PATCH{v} 0/{n}] {prefix}: {title}",
            f"This series does {title.lower()}.\n\n{cover_extra}\nAlice Dev (1):\n  stuff\n",
            minutes=minutes,
        )
    ]
    for i in range(1, n + 1):
        out.append(
            mail(
                f"{tag}-{i}@example.com",
                f"[PATCH{v} {i}/{n}] {prefix}: {title} part {i}",
                f"Part {i} of {title.lower()}.\n\n{patch_trailers}Signed-off-by: {AUTHOR}\n" + _diff(f"{directory}/f{i}.c"),
                parent=cover_id,
                minutes=minutes,
            )
        )
    return out


def single(mid: str, subject: str, *, trailers: str = "", minutes: int = 0) -> bytes:
    return mail(
        mid,
        subject,
        f"A fix.\n\n{trailers}Signed-off-by: {AUTHOR}\n" + _diff("arch/x86/kvm/x86.c"),
        minutes=minutes,
    )
