"""The pure pieces of the digest on hand-built mails: ranking, entries, markers, layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bot.digest.counts import top_contributors, top_domains
from bot.digest.entries import is_new_entry, message_text, title_of
from bot.digest.model import DigestMail, Window
from bot.digest.patchlist import LEGEND, patch_list_lines
from bot.digest.render import render_digest
from bot.mail.models import Fixes, Kind, ParsedMail, Person, StableTag, Subject


def mail(
    seq: int,
    subject: str,
    *,
    kind: Kind = Kind.PATCH,
    index: int | None = None,
    total: int | None = None,
    who: Person = Person(name="Ann", email="ann@example.org"),
    body: str = "",
    series: int | None = None,
    fixes: bool = False,
    stable: StableTag = StableTag(),
) -> DigestMail:
    parsed = ParsedMail(
        message_id=f"m{seq}@x",
        author=who,
        subject=Subject(raw=subject, index=index, total=total),
        kind=kind,
        body=body,
        fixes=(Fixes(sha="0123456789ab"),) if fixes else (),
        stable=stable,
    )
    return DigestMail(seq=seq, parsed=parsed, series_id=series)


def test_window_labels() -> None:
    assert Window.for_range("dc22a1ba" + "0" * 32, "5f0831e1" + "f" * 32) == Window(
        start="dc22a1ba", end="5f0831e1"
    )
    since = datetime(2025, 3, 10, tzinfo=UTC)
    until = datetime(2025, 3, 17, 1, 30, tzinfo=timezone(timedelta(hours=1)))
    window = Window.for_dates(since, until)
    assert (window.start, window.end) == ("2025-03-10", "2025-03-17 00:30 UTC")


def test_ranking_counts_then_label_casefolded() -> None:
    people = [
        Person(name="Zed", email="zed@B.org"),
        Person(name="amy", email="amy@a.org"),
        Person(name="Bob", email="bob@b.org"),
        Person(name="Zed Z.", email="ZED@b.org"),  # same sender, other spelling
        Person(name="Carl", email="carl@c.org"),
        Person(name="", email="dan@d.org"),  # named on later mails only
        Person(name="Dan", email="dan@d.org"),
        Person(name="", email="eve@e.org"),  # never named
    ]
    assert top_domains(people) == [
        (3, "b.org"), (2, "d.org"), (1, "a.org"), (1, "c.org"), (1, "e.org"),
    ]
    assert top_contributors(people) == [
        (2, "Dan <dan@d.org>"),
        (2, "Zed <zed@B.org>"),
        (1, "<eve@e.org>"),
        (1, "amy <amy@a.org>"),
        (1, "Bob <bob@b.org>"),
        (1, "Carl <carl@c.org>"),
    ]
    many = [Person(name=f"P{i:02d}", email=f"p{i}@d{i}.org") for i in range(20)]
    assert len(top_contributors(many)) == 15
    assert top_domains(many, top=2) == [(1, "d0.org"), (1, "d1.org")]


def test_new_entries_are_covers_singles_and_first_patches() -> None:
    def new(subject: str, kind: Kind, index: int | None, total: int | None = None) -> bool:
        return is_new_entry(mail(1, subject, kind=kind, index=index, total=total).parsed)

    assert new("[PATCH 0/3] a", Kind.COVER, 0, 3)
    assert new("[PATCH 1/3] a", Kind.PATCH, 1, 3)
    assert not new("[PATCH 2/3] a", Kind.PATCH, 2, 3)
    assert new("[PATCH] a", Kind.PATCH, None)
    assert not new("Re: [PATCH] a", Kind.REPLY, None)
    assert not new("[GIT PULL] a", Kind.PULL, None)


def test_title_drops_every_leading_tag() -> None:
    parsed = mail(1, "[PATCH v2 3/8] [RFC] KVM: x86: Do [things] right").parsed
    assert title_of(parsed) == "KVM: x86: Do [things] right"


def test_message_text_stops_at_diffstat_summary_or_diff() -> None:
    body = (
        "Fix it.\n\nSigned-off-by: A <a@b.c>\n---\n a.c | 2 +-\n"
        " 1 file changed, 1 insertion(+), 1 deletion(-)\n\ndiff --git a/a.c b/a.c\n"
    )
    assert message_text(body).endswith("---\n a.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)")
    no_stat = "Fix it.\r\n\r\nSigned-off-by: A <a@b.c>\r\n---\r\n\r\ndiff --git a/a.c b/a.c\r\n+x\r\n"
    assert message_text(no_stat) == "Fix it.\n\nSigned-off-by: A <a@b.c>"
    assert message_text("Only text.\n\n-- \nsig\n") == "Only text."


def test_patch_list_groups_by_series_with_markers() -> None:
    mails = [
        mail(1, "[PATCH 2/2] two", index=2, total=2, series=7, fixes=True),
        mail(2, "[PATCH] lone", stable=StableTag(tagged=True)),
        mail(3, "Re: [PATCH 2/2] two", kind=Kind.REPLY),
        mail(4, "[PATCH 0/2] cover", kind=Kind.COVER, index=0, total=2, series=7),
        mail(5, "[PATCH 1/2] one", index=1, total=2, series=7, fixes=True,
             stable=StableTag(tagged=True)),
        mail(6, "[PATCH] opt-out", fixes=True, stable=StableTag(tagged=True, noautosel=True)),
    ]
    assert patch_list_lines(mails) == [
        LEGEND,
        "",
        "   [PATCH 0/2] cover",
        "FS [PATCH 1/2] one",
        "F  [PATCH 2/2] two",
        "",
        " S [PATCH] lone",
        "",
        "F  [PATCH] opt-out",
    ]


def test_render_is_deterministic_and_lists_newest_first() -> None:
    sean = Person(name="Sean", email="s@google.com")
    mails = [
        mail(1, "[PATCH] first", who=sean, body="One.\n---\n a | 1 +\n 1 file changed, 1 insertion(+)\n-- \n2.4\n"),
        mail(2, "Re: [PATCH] first", kind=Kind.REPLY, body="Nice."),
        mail(3, "[PATCH] second", who=sean, body="Two.\n"),
    ]
    text = render_digest(Window(start="a", end="b"), list(reversed(mails)))
    assert text == render_digest(Window(start="a", end="b"), mails)
    assert text.startswith(
        "From a to b\nKVM mailing list update from a to b\n\n"
        "Top 15 contributor Email domains (Based on Email Body)\n\n"
        "      2 google.com\n      1 example.org\n\n"
        "Top 15 contributors (Based on Email Body)\n\n"
        "      2  Sean <s@google.com>\n      1  Ann <ann@example.org>\n\n"
        "===== Patch list in this time period =====\n\n"
        f"{LEGEND}\n\n   [PATCH] first\n\n   [PATCH] second\n\n"
        "===== Patch Commit Messages ====\n\n"
    )
    sep = "-" * 70
    assert text.endswith(
        "New:  second\n[PATCH] second\nAuthor: Sean <s@google.com>\n\nTwo.\n\n" + sep + "\n\n"
        "New:  first\n[PATCH] first\nAuthor: Sean <s@google.com>\n\n"
        "One.\n---\n a | 1 +\n 1 file changed, 1 insertion(+)\n\n" + sep + "\n\n"
    )


def test_empty_window_keeps_the_sections() -> None:
    assert render_digest(Window(start="x", end="y"), []) == (
        "From x to y\nKVM mailing list update from x to y\n\n"
        "Top 15 contributor Email domains (Based on Email Body)\n\n\n"
        "Top 15 contributors (Based on Email Body)\n\n\n"
        "===== Patch list in this time period =====\n\n\n"
        "===== Patch Commit Messages ====\n\n"
    )
