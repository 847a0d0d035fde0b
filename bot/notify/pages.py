"""The slash commands' answers as Posts: result lists, pages, series, versions,
the stable queue, fixes, subscriptions and statistics. Pure.

Mail text goes through `bot.notify.text` exactly as in cards (`fit`, `link`),
and so does what a user typed (a search, a filter): neither can format nor
ping. A page is whole lines within Discord's limits: an entry is shown whole
or not at all.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from bot.config import SubscriptionFilter
from bot.mail.models import Fixes
from bot.notify.models import Embed, EmbedField, Post
from bot.notify.render import (
    DESCRIPTION_MAX,
    FIELD_VALUE_MAX,
    LORE,
    TITLE_MAX,
    CardLinks,
    VersionLink,
    fixes_line,
    lore_url,
    render_card,
)
from bot.notify.text import fit, join_fitting, link, shorten_plain
from bot.series.models import SeriesView
from bot.store.models import SubscriptionRow
from bot.store.queries import Activity, PatchEntry, SeriesSearch, SeriesSummary

PER_PAGE = 10
COLOR = 0x3498DB
COLOR_ERROR = 0xE74C3C
ENTRY_MAX = 380  # one result (two lines) at most: ten fit a description with room to spare
TOP = 10


def _day(when: datetime | None) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d") if when is not None else "no date"


def _page_footer(page: int, has_next: bool, hint: str) -> str:
    more = "" if has_next else " (last)"
    return f"page {page + 1}{more} · {hint}"


def _embed(title: str, lines: Sequence[str], footer: str, *, color: int = COLOR, fields: Sequence[EmbedField] = ()) -> Post:
    description = join_fitting(lines, DESCRIPTION_MAX) or "Nothing found."
    return Post(embeds=(Embed(title=title[:TITLE_MAX], description=description, color=color, fields=tuple(fields), footer=footer),))


def error(message: str) -> Post:
    """An error answer: what went wrong and what to do (the caller's words, not mail)."""
    return Post(embeds=(Embed(description=message[:DESCRIPTION_MAX], color=COLOR_ERROR),))


def notice(message: str) -> Post:
    """A short confirmation (the caller's words, not mail)."""
    return Post(embeds=(Embed(description=message[:DESCRIPTION_MAX], color=COLOR),))


def quote(text: str, limit: int = 80) -> str:
    """What a user typed, shown back inert."""
    return "“" + fit(text, limit) + "”"


# ---------------------------------------------------------------- series


def summary_url(s: SeriesSummary) -> str:
    return lore_url(s.first_message_id) if s.first_message_id else LORE


def search_entry(s: SeriesSummary) -> str:
    head = f"**#{s.series_id}** {s.version_name} "
    tail = f"{min(s.received, max(s.total, 1))}/{max(s.total, 1)}"
    title = link(s.title or s.subject, summary_url(s), ENTRY_MAX // 2)
    who = fit(s.author.name or s.author.email, 60)
    return f"{head}{title} · {tail}\n{who} · {_day(s.first_seen)} · {s.state}"


def search_label(search: SeriesSearch) -> str:
    parts = [quote(" ".join(search.words))]
    if search.author:
        parts.append("by " + quote(search.author, 60))
    if search.subsystems:
        parts.append("in " + quote(", ".join(search.subsystems), 80))
    if search.state != "all":
        parts.append(search.state)
    return " ".join(parts)


def search_page(search: SeriesSearch, views: Sequence[SeriesSummary], page: int, has_next: bool) -> Post:
    if not views and page == 0:
        return _embed(f"No series match {search_label(search)}"[:TITLE_MAX], [
            "Try fewer or shorter words (each word matches the start of a title word), "
            "or state:all."], "/series search")
    lines = [search_entry(v) for v in views]
    return _embed(
        f"Series matching {search_label(search)}",
        lines,
        _page_footer(page, has_next, "/series show series:<#> for one"),
    )


def series_answer(view: SeriesView, lineage: Sequence[SeriesSummary], posted: Sequence[str]) -> Post:
    """The series card as the channel would show it, plus links to where it was posted."""
    older = [v for v in lineage if v.series_id == view.supersedes]
    newer = [v for v in lineage if v.series_id == view.superseded_by]
    links = CardLinks(
        previous=VersionLink(version=older[0].version_name, url=summary_url(older[0])) if older else None,
        superseded_by=VersionLink(version=newer[0].version_name, url=summary_url(newer[0])) if newer else None,
    )
    card = render_card(view, links, with_thread=False)
    embed = card.embeds[0]
    if posted:
        value = join_fitting((f"[card {i + 1}]({url})" for i, url in enumerate(posted)), FIELD_VALUE_MAX, sep=" · ")
        room = 6000 - sum(len(x or "") for x in (embed.title, embed.description, embed.footer)) - sum(
            len(f.name) + len(f.value) for f in embed.fields)
        if len(embed.fields) < 25 and room > len(value) + 20:
            embed = embed.model_copy(update={"fields": (*embed.fields, EmbedField(name="Posted here", value=value))})
    return Post(embeds=(embed,))


def versions_page(view: SeriesView, lineage: Sequence[SeriesSummary], posted: dict[int, str]) -> Post:
    lines = []
    for v in lineage:
        here = " ◀" if v.series_id == view.series_id else ""
        card = f" · [card]({posted[v.series_id]})" if v.series_id in posted else ""
        title = link(v.subject or v.title, summary_url(v), ENTRY_MAX // 2)
        lines.append(
            f"**{v.version_name}** {title}{here}\n"
            f"#{v.series_id} · {_day(v.first_seen)} · {min(v.received, max(v.total, 1))}/{max(v.total, 1)} · "
            f"{v.state}{card}"
        )
    count = len(lineage)
    return _embed(
        f"{count} version{'s' if count != 1 else ''} of {fit(view.title, 200)}",
        lines,
        "oldest first · kvm-patchbot",
    )


# ---------------------------------------------------------------- patch lists


def patch_entry(e: PatchEntry, *, with_detail: bool) -> str:
    where = f" {e.index}/{e.total}" if e.index is not None and e.total > 1 else ""
    subject = link(e.subject, lore_url(e.message_id), ENTRY_MAX // 2)
    who = fit(e.author.name or e.author.email, 60)
    state = e.state
    if e.state == "applied" and e.applied_commit:
        state = f"applied as `{e.applied_commit[:12]}`" if e.applied_commit.isalnum() else "applied"
    line = f"{_day(e.date)} {subject}\n{who} · series #{e.series_id} {e.version}{where} · {state}"
    if with_detail and e.detail:
        line += " · " + fit(", ".join(e.detail), 80)
    return line


def stable_page(entries: Sequence[PatchEntry], days: int, page: int) -> Post:
    part = entries[page * PER_PAGE : (page + 1) * PER_PAGE]
    count = len(entries)
    if not count:
        return _embed(f"Nothing pending for stable in the last {days} days", [
            "No patch asking for stable in that time is still unapplied. Try a longer days:."], "/stable pending")
    return _embed(
        f"{count} patch{'es' if count != 1 else ''} for stable, not yet applied (last {days} days)",
        [patch_entry(e, with_detail=True) for e in part],
        _page_footer(page, (page + 1) * PER_PAGE < count, "oldest first"),
    )


def fixes_page(commit: str, entries: Sequence[PatchEntry], page: int) -> Post:
    part = entries[page * PER_PAGE : (page + 1) * PER_PAGE]
    count = len(entries)
    if not count:
        return _embed(f"No patch says it fixes {commit}", [
            "No stored patch has a Fixes: tag naming that commit. Check the id, or try its first 12 digits."],
            "/fixes")
    lines = []
    for e in part:
        sha, subject = (e.detail + ("", ""))[:2]
        named = fixes_line(Fixes(sha=sha or commit, subject=subject or None), 200)
        lines.append(patch_entry(e, with_detail=False) + f"\nFixes: {named}")
    return _embed(
        f"{count} patch{'es' if count != 1 else ''} fixing {commit}",
        lines,
        _page_footer(page, (page + 1) * PER_PAGE < count, "newest first"),
    )


# ---------------------------------------------------------------- subscriptions


def describe_filter(flt: SubscriptionFilter, *, threads: bool = True, escaped: bool = True) -> list[str]:
    """A filter in words, one criterion per line; user input escaped, or with
    `escaped=False` as plain text (for an autocomplete choice, which Discord does not format)."""
    show = (lambda v: fit(v, 100)) if escaped else (lambda v: shorten_plain(v, 100))
    out: list[str] = []
    for label, values in (
        ("subsystem", flt.subsystems), ("path", flt.paths), ("author", flt.authors),
        ("title words", flt.title_words), ("list", flt.lists),
    ):
        if values:
            out.append(f"{label}: " + ", ".join(show(v) for v in values))
    if flt.kinds:
        out.append("kind: " + ", ".join(flt.kinds))
    if flt.stable_only:
        out.append("only patches for stable")
    if flt.fixes_only:
        out.append("only fixes (a Fixes: tag)")
    if flt.rfc is False:
        out.append("no RFCs")
    elif flt.rfc is True:
        out.append("only RFCs")
    if not out:
        out.append("every series")
    out.append("a thread per series" if threads else "cards only, no threads")
    return out


def subscription_line(sub: SubscriptionRow) -> str:
    state = "" if sub.enabled else f" · disabled ({fit(sub.disabled_reason or 'no reason', 80)})"
    alerts = ""
    if sub.alert_channel_id:
        alerts = f" · stable alerts in <#{sub.alert_channel_id}>" + (
            f" for <@&{sub.alert_role_id}>" if sub.alert_role_id else "")
    what = "; ".join(describe_filter(sub.filter, threads=sub.threads))
    return f"**#{sub.id}** <#{sub.channel_id}>: {what}{alerts} · from {sub.origin}{state}"


def subscriptions_page(subs: Sequence[SubscriptionRow]) -> Post:
    if not subs:
        return _embed("No subscriptions in this server", ["/subscribe adds one (Manage Channels needed)."], "/subscriptions")
    return _embed(
        f"{len(subs)} subscription{'s' if len(subs) != 1 else ''} in this server",
        [subscription_line(s) for s in subs],
        "/unsubscribe subscription:<#> removes one",
    )


def subscribed(sub_id: int, channel_id: int, flt: SubscriptionFilter, *, threads: bool,
               alert_channel: int | None, alert_role: int | None, matched: int, days: int,
               role_pings: bool = True) -> Post:
    """`role_pings`: False when Discord would show the alert role's mention without notifying anyone."""
    lines = [f"Cards for <#{channel_id}>, for:"] + [f"• {line}" for line in describe_filter(flt, threads=threads)]
    if alert_channel:
        lines.append(f"Stable alerts in <#{alert_channel}>" + (f", mentioning <@&{alert_role}>" if alert_role else ""))
        if alert_role and not role_pings:
            lines.append(
                f"⚠ <@&{alert_role}> is not mentionable and the bot may not mention every role in <#{alert_channel}>: "
                "alerts will name the role without notifying anyone. Allow anyone to @mention the role "
                "(Server Settings → Roles), or give the bot *Mention @everyone, @here, and All Roles* there."
            )
    lines.append(f"It would have matched {matched} series in the last {days} days.")
    return _embed(f"Subscription #{sub_id} added", lines, "/subscriptions lists them · /unsubscribe removes one")


# ---------------------------------------------------------------- statistics


def week_start(when: datetime) -> datetime:
    day = when.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weekly(act: Activity) -> list[tuple[datetime, int, int]]:
    """(Monday, mails, new series) for every week of the window, empty weeks included."""
    mails = Counter(week_start(d) for d in act.mail_dates)
    series = Counter(week_start(d) for d in act.series_dates)
    out = []
    week = week_start(act.since)
    while week < act.until:
        out.append((week, mails.get(week, 0), series.get(week, 0)))
        week += timedelta(days=7)
    return out


def _hours(h: float) -> str:
    if h < 1:
        return f"{round(h * 60)} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} days"


def top_people(act: Activity, n: int = TOP) -> list[tuple[str, int]]:
    ranked = sorted(act.authors.items(), key=lambda kv: (-kv[1][1], kv[1][0].lower(), kv[0]))
    return [(f"{name} <{email}>" if email and name != email else name, count) for email, (name, count) in ranked[:n]]


def top_domains(act: Activity, n: int = TOP) -> list[tuple[str, int]]:
    domains: Counter[str] = Counter()
    for email, (_, count) in act.authors.items():
        domains[email.rpartition("@")[2] or "(no address)"] += count
    return sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def stats_page(act: Activity, *, chart: str | None) -> Post:
    reviewed = f"{act.reviewed} of {act.patches}"
    if act.patches:
        reviewed += f" ({100 * act.reviewed / act.patches:.0f}%)"
    median = _hours(statistics.median(act.hours_to_first_review)) if act.hours_to_first_review else "no reviews"
    people = [f"{count} {fit(label, 90)}" for label, count in top_people(act)]
    domains = [f"{count} {fit(d, 60)}" for d, count in top_domains(act)]
    fields = [
        EmbedField(name="Mail", value=str(len(act.mail_dates)), inline=True),
        EmbedField(name="Series", value=str(len(act.series_dates)), inline=True),
        EmbedField(name="Patches reviewed", value=reviewed, inline=True),
        EmbedField(name="Median time to first review", value=median, inline=True),
        EmbedField(name="Top contributors", value=join_fitting(people, FIELD_VALUE_MAX) or "none"),
        EmbedField(name="Top domains", value=join_fitting(domains, FIELD_VALUE_MAX) or "none"),
    ]
    window = f"{_day(act.since)} to {_day(act.until - timedelta(seconds=1))}"
    footer = "reviews: Reviewed-by or Acked-by from a reply; time from the patch's Date"
    embed = Embed(title=f"kvm list activity, {window}", color=COLOR, fields=tuple(fields), footer=footer,
                  description="Mail and new series per week: see the chart." if chart else None)
    return Post(embeds=(embed,))


__all__ = [
    "PER_PAGE",
    "describe_filter",
    "error",
    "fixes_page",
    "search_page",
    "series_answer",
    "stable_page",
    "stats_page",
    "subscribed",
    "subscriptions_page",
    "versions_page",
    "weekly",
]
