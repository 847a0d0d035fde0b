"""Raw test mails; the `store` and `store_target` fixtures (both databases) are in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from bot.store import Store

T0 = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)


def raw_mail(
    mid: str,
    subject: str,
    *,
    irt: str | None = None,
    refs: Iterable[str] = (),
    author: str = "Ann Dev <ann@example.com>",
    at: int = 0,
    body: str = "Some text.\n",
    extra_headers: str = "",
) -> bytes:
    refs = list(refs)
    if irt and irt not in refs:
        refs.append(irt)
    head = [
        f"From: {author}",
        "To: kvm@vger.kernel.org",
        f"Subject: {subject}",
        f"Date: {format_datetime(T0 + timedelta(minutes=at))}",
        f"Message-ID: <{mid}>",
        "List-Id: <kvm.vger.kernel.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if irt:
        head.append(f"In-Reply-To: <{irt}>")
    if refs:
        head.append("References: " + " ".join(f"<{r}>" for r in refs))
    return ("\n".join(head) + "\n" + extra_headers + "\n" + body).encode()


def patch_body(title: str, trailers: str = "Signed-off-by: Ann Dev <ann@example.com>\n") -> str:
    return (
        f"{title} in more words.\n\n{trailers}---\n arch/x86/kvm/x86.c | 1 +\n 1 file changed, 1 insertion(+)\n\n"
        "diff --git a/arch/x86/kvm/x86.c b/arch/x86/kvm/x86.c\n"
        "index 1111111..2222222 100644\n--- a/arch/x86/kvm/x86.c\n+++ b/arch/x86/kvm/x86.c\n"
        "@@ -1,1 +1,2 @@\n int x;\n+int y;\n"
    )


def series_mails(prefix: str, n: int, title: str, *, tag: str, at: int = 0, author: str | None = None) -> list[bytes]:
    kw = {"author": author} if author else {}
    out = [raw_mail(f"{tag}-0@x", f"[{prefix} 0/{n}] KVM: x86: {title}", at=at, body="Cover text.\n", **kw)]
    for i in range(1, n + 1):
        out.append(
            raw_mail(
                f"{tag}-{i}@x", f"[{prefix} {i}/{n}] KVM: x86: {title} part {i}",
                irt=f"{tag}-0@x", at=at + i, body=patch_body(f"part {i}"), **kw,
            )
        )
    return out


async def outcome(store: Store) -> tuple[list[dict], list[tuple]]:
    """What two stores fed the same mail must agree on: every series, every event."""
    views = [v.model_dump() for v in await store.list_series()]
    events = [(e.kind, e.series_id, e.message_id, e.data) for e in await store.events_after(0, 10**6)]
    return views, events
