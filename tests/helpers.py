"""Building test mails, in one place.

* `compose(headers, body)`: the primitive, a header block and a body as given
  (for the parser's own tests, whose point is the headers).
* `raw_mail(...)`: a list mail as vger relays it (From, To, Subject, Date,
  Message-ID, List-Id, MIME headers, threading headers), as bytes.
* `diff(path)` and `patch_body(title)`: a git patch's text, with diffstat.
* `series_mails(...)` (LF) and `series(...)` / `single(...)` (CRLF, ready for
  SMTP): a cover letter and its patches, or one patch.
* `parsed_mail(...)`: a `ParsedMail` made directly, for the pure tracker.

Dates are `t0` plus `at` minutes, so a test says the arrival order it means.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from bot.mail.models import Applied, AppliedCommit, Kind, ParsedMail, Person, Trailer
from bot.mail.subject import parse_subject

T0 = datetime(2025, 3, 14, 12, 0, tzinfo=timezone.utc)
AUTHOR = "Ann Dev <ann@example.com>"
# The SMTP tests' series: their own day and author, so their cards read apart.
SMTP_T0 = datetime(2025, 6, 2, 10, 0, tzinfo=timezone.utc)
SMTP_AUTHOR = "Alice Dev <alice@example.com>"


def compose(headers: str, body: str | bytes = "Hello.\n", *, crlf: bool = False) -> bytes:
    """A mail of exactly these headers and this body."""
    head = headers.strip("\n") + "\n\n"
    data = body.encode("utf-8") if isinstance(body, str) else body
    if crlf:
        return (head.replace("\n", "\r\n")).encode("utf-8") + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return head.encode("utf-8") + data


def raw_mail(
    mid: str,
    subject: str,
    body: str | bytes = "Some text.\n",
    *,
    irt: str | None = None,
    refs: Iterable[str] = (),
    author: str = AUTHOR,
    at: int = 0,
    t0: datetime = T0,
    extra_headers: str = "",
    content_type: str | None = "text/plain; charset=utf-8",
    cte: str | None = None,
    crlf: bool = False,
) -> bytes:
    """A list mail dated `t0` + `at` minutes; `irt` is also added to References.
    `content_type=None` leaves the MIME headers to `extra_headers`."""
    refs = list(refs)
    if irt and irt not in refs:
        refs.append(irt)
    head = [
        f"From: {author}",
        "To: kvm@vger.kernel.org",
        f"Subject: {subject}",
        f"Date: {format_datetime(t0 + timedelta(minutes=at))}",
        f"Message-ID: <{mid}>",
        "List-Id: <kvm.vger.kernel.org>",
    ]
    if content_type is not None:
        head += ["MIME-Version: 1.0", f"Content-Type: {content_type}"]
    if cte:
        head.append(f"Content-Transfer-Encoding: {cte}")
    if irt:
        head.append(f"In-Reply-To: <{irt}>")
    if refs:
        head.append("References: " + " ".join(f"<{r}>" for r in refs))
    return compose("\n".join(head) + "\n" + extra_headers, body, crlf=crlf)


def diff(
    path: str = "arch/x86/kvm/x86.c", *, minus: str = "a/", plus: str = "b/", stat: bool = True, signature: bool = True
) -> str:
    """The `---` part of a one-line change to `path`: diffstat (unless `stat` is
    false) and diff, with git's `a/` `b/` prefixes or others (`i/`, `w/`, none)."""
    return (
        "---\n"
        + (f" {path} | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n" if stat else "")
        + "\n"
        f"diff --git {minus}{path} {plus}{path}\n"
        "index 1111111..2222222 100644\n"
        f"--- {minus}{path}\n"
        f"+++ {plus}{path}\n"
        "@@ -1,3 +1,3 @@\n"
        " int a;\n"
        "-int b;\n"
        "+int c;\n"
        " int d;\n"
        + ("-- \n2.49.0\n" if signature else "")
    )


def patch_body(title: str, trailers: str = "Signed-off-by: Ann Dev <ann@example.com>\n") -> str:
    """A commit message and a one-line addition to arch/x86/kvm/x86.c."""
    return (
        f"{title} in more words.\n\n{trailers}---\n arch/x86/kvm/x86.c | 1 +\n 1 file changed, 1 insertion(+)\n\n"
        "diff --git a/arch/x86/kvm/x86.c b/arch/x86/kvm/x86.c\n"
        "index 1111111..2222222 100644\n--- a/arch/x86/kvm/x86.c\n+++ b/arch/x86/kvm/x86.c\n"
        "@@ -1,1 +1,2 @@\n int x;\n+int y;\n"
    )


def series_mails(prefix: str, n: int, title: str, *, tag: str, at: int = 0, author: str | None = None) -> list[bytes]:
    """`[prefix 0/n] KVM: x86: title` and its n patches, ids `<tag>-<i>@x`, a minute apart."""
    who = author or AUTHOR
    out = [raw_mail(f"{tag}-0@x", f"[{prefix} 0/{n}] KVM: x86: {title}", "Cover text.\n", at=at, author=who)]
    for i in range(1, n + 1):
        out.append(
            raw_mail(
                f"{tag}-{i}@x", f"[{prefix} {i}/{n}] KVM: x86: {title} part {i}", patch_body(f"part {i}"),
                irt=f"{tag}-0@x", at=at + i, author=who,
            )
        )
    return out


def smtp_mail(
    mid: str, subject: str, body: str, *, parent: str | None = None, minutes: int = 0, author: str = SMTP_AUTHOR
) -> bytes:
    """A list mail as it comes over SMTP (CRLF, 8bit), dated SMTP_T0 + `minutes`."""
    return raw_mail(mid, subject, body, irt=parent, author=author, at=minutes, t0=SMTP_T0, cte="8bit", crlf=True)


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
    """A cover letter and n patches over SMTP; message ids `<tag>-<i>@example.com`."""
    v = f" v{version}" if version > 1 else ""
    cover_id = f"{tag}-0@example.com"
    out = [
        smtp_mail(
            cover_id,
            f"[PATCH{v} 0/{n}] {prefix}: {title}",
            f"This series does {title.lower()}.\n\n{cover_extra}\nAlice Dev (1):\n  stuff\n",
            minutes=minutes,
        )
    ]
    for i in range(1, n + 1):
        out.append(
            smtp_mail(
                f"{tag}-{i}@example.com",
                f"[PATCH{v} {i}/{n}] {prefix}: {title} part {i}",
                f"Part {i} of {title.lower()}.\n\n{patch_trailers}Signed-off-by: {SMTP_AUTHOR}\n"
                + diff(f"{directory}/f{i}.c"),
                parent=cover_id,
                minutes=minutes,
            )
        )
    return out


def single(mid: str, subject: str, *, trailers: str = "", minutes: int = 0) -> bytes:
    """One patch over SMTP, to arch/x86/kvm/x86.c."""
    return smtp_mail(mid, subject, f"A fix.\n\n{trailers}Signed-off-by: {SMTP_AUTHOR}\n" + diff(), minutes=minutes)


def parsed_mail(
    mid: str,
    subj: str,
    *,
    irt: str | None = None,
    refs: Iterable[str] = (),
    author: str = AUTHOR,
    at: int = 0,
    kind: Kind | None = None,
    trailers: Iterable[tuple[str, str]] = (),
    applied: Iterable[tuple[int | None, str]] | None = None,
    change_id: str | None = None,
    previous: Iterable[str] = (),
) -> ParsedMail:
    """What the parser would make of such a mail, made directly (no parsing)."""
    sub = parse_subject(subj)
    name, email = author.rsplit(" <", 1)
    if kind is None:
        if sub.is_reply:
            kind = Kind.REPLY
        elif sub.pull:
            kind = Kind.PULL
        elif sub.index == 0:
            kind = Kind.COVER
        else:
            kind = Kind.PATCH
    refs = tuple(refs)
    if irt and irt not in refs:
        refs = refs + (irt,)
    ts = []
    for n, v in trailers:
        pn, pe = v.rsplit(" <", 1)
        ts.append(Trailer(name=n, value=v, person=Person(name=pn, email=pe.rstrip(">"))))
    return ParsedMail(
        message_id=mid,
        in_reply_to=irt,
        references=refs,
        author=Person(name=name, email=email.rstrip(">")),
        date=T0 + timedelta(minutes=at),
        subject=sub,
        kind=kind,
        trailers=tuple(ts),
        applied=None
        if applied is None
        else Applied(
            tree="kvm-x86", branch="mmu",
            commits=tuple(AppliedCommit(index=i, commit=c) for i, c in applied),
        ),
        change_id=change_id,
        previous_versions=tuple(previous),
        has_diff=kind is Kind.PATCH,
    )
