"""SeriesView -> Post: the series card, per-patch thread messages, stable alerts. Pure.

Everything from mail is escaped and cut to Discord's limits by `bot.notify.text`;
links are built whole or left out. `CardLinks` carries the facts the renderer
cannot know itself: where the previous and next versions' cards live.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from bot.mail.models import Diffstat, DiffstatEntry, Fixes, Person, StableTag
from bot.notify import summary
from bot.notify.filters import is_stable
from bot.notify.models import Embed, EmbedField, Post
from bot.notify.text import ELLIPSIS, escape, fit, join_fitting, link, shorten_plain
from bot.notify.urls import first_bounded
from bot.series.models import PatchView, SeriesView

# Discord limits (discord-facts.md).
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
THREAD_NAME_MAX = 100

LORE = "https://lore.kernel.org/r/"
TORVALDS = "https://git.kernel.org/torvalds/c/"
LARGEST_FILES = 3
_HEX = re.compile(r"[0-9a-fA-F]{7,40}")
# A URL from mail that can sit inside a markdown link without ending it early.
_SAFE_URL = re.compile(r"https?://[^\s()<>\[\]]{1,400}")

COLOR_NEW = 0x3498DB
COLOR_RFC = 0x95A5A6
COLOR_STABLE = 0xE67E22
COLOR_APPLIED = 0x2ECC71
COLOR_SUPERSEDED = 0x7F8C8D


class VersionLink(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str  # "v2"
    url: str | None  # a Discord message link when the card is in the same channel, else lore (None: too long)


class CardLinks(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    previous: VersionLink | None = None
    superseded_by: VersionLink | None = None
    # The newest version of the lineage, when it is not this one: `b4 am` applies that.
    latest: VersionLink | None = None
    latest_message_id: str | None = None


def person(p: Person) -> str:
    """`Name <email>`, as the kernel writes people: names alone are ambiguous."""
    if p.name and p.email:
        return f"{p.name} <{p.email}>"
    return p.name or p.email


def lore_url(message_id: str) -> str:
    # Quote what would end a markdown link or a URL early; lore decodes it.
    return LORE + quote(message_id.strip("<>"), safe="@.+-_=~!$&*:;,")


def commit_url(sha: str) -> str | None:
    return TORVALDS + sha.lower() if _HEX.fullmatch(sha) else None


def version_label(series: SeriesView) -> str:
    """What links to a version say: "v3", "RFC v2", "RFC" ("v1" for an unlabelled posting)."""
    return series.label or "v1"


def series_message_id(series: SeriesView) -> str:
    if series.cover:
        return series.cover
    first = min(series.patches, key=lambda p: (p.index is None, p.index or 0), default=None)
    return first.message_id if first else ""


def series_url(series: SeriesView) -> str | None:
    """The series on lore, if a link Discord accepts can be made (a huge Message-ID cannot)."""
    mid = series_message_id(series)
    if mid:
        return first_bounded(lore_url(mid))
    return first_bounded(series.lore_url, LORE)


def patch_url(series: SeriesView, patch: PatchView) -> str | None:
    """The patch on lore; its series' link when the patch's own would be too long."""
    return first_bounded(lore_url(patch.message_id)) or series_url(series)


def thread_name(series: SeriesView) -> str:
    """`v3 KVM: x86/mmu: …`, at most 100 characters, never empty (plain text)."""
    title = series.title or series.subject or f"series {series.series_id}"
    name = shorten_plain(f"{version_label(series)} {title}", THREAD_NAME_MAX)
    return name or f"series {series.series_id}"


# ---------------------------------------------------------------- pieces


def combined_diffstat(series: SeriesView) -> Diffstat | None:
    """The sum over received patches: their paths are whole, where a cover's
    diffstat shortens long ones to `.../name`. The cover's totals stand in while
    patches are missing; with no patch diffstat at all, the cover's own (its
    shortened paths left out of the file list)."""
    per: dict[str, DiffstatEntry] = {}
    ins = dels = 0
    found = False
    for p in series.patches:
        if p.diffstat is None or p.index == 0:
            continue
        found = True
        ins += p.diffstat.insertions
        dels += p.diffstat.deletions
        for e in p.diffstat.per_file:
            have = per.get(e.path)
            per[e.path] = (
                e
                if have is None
                else DiffstatEntry(
                    path=e.path,
                    insertions=have.insertions + e.insertions,
                    deletions=have.deletions + e.deletions,
                )
            )
    cover = series.cover_diffstat if series.cover_diffstat is not None and series.cover_diffstat.files else None
    if not found:
        if cover is None:
            return None
        whole = tuple(e for e in cover.per_file if not e.path.startswith(".../") and "/.../" not in e.path)
        return cover.model_copy(update={"per_file": whole})
    files = len(per) or sum(p.diffstat.files for p in series.patches if p.diffstat and p.index != 0)
    if cover is not None and series.missing:
        return Diffstat(files=cover.files, insertions=cover.insertions, deletions=cover.deletions,
                        per_file=tuple(per.values()))
    return Diffstat(files=files, insertions=ins, deletions=dels, per_file=tuple(per.values()))


def diffstat_line(d: Diffstat) -> str:
    noun = "file" if d.files == 1 else "files"
    return f"{d.files} {noun} changed, +{d.insertions}/-{d.deletions}"


def largest_files(d: Diffstat, n: int = LARGEST_FILES) -> list[str]:
    ranked = sorted(d.per_file, key=lambda e: (-(e.insertions + e.deletions), e.path))[:n]
    return [f"{fit(e.path, 200)} (+{e.insertions}/-{e.deletions})" for e in ranked]


def fixes_line(f: Fixes, limit: int = 300) -> str:
    short = f.sha[:12]
    url = commit_url(f.sha)
    sha = f"[`{short}`]({url})" if url else fit(short, 40)
    if not f.subject:
        return sha
    return f"{sha} (\"{fit(f.subject, max(limit - len(sha) - 4, 1))}\")"


def stable_text(tag: StableTag) -> str:
    hints = ", ".join(tag.versions)
    return "stable" + (f" ({fit(hints, 200)})" if hints else "")


def _unique_fixes(series: SeriesView) -> list[tuple[int | None, Fixes]]:
    """Each Fixes once, with the patch that carries it (None: the series says so only)."""
    seen: dict[str, tuple[int | None, Fixes]] = {}
    for p in summary.numbered(series):
        for f in p.fixes:
            seen.setdefault(f.sha[:12].lower(), (p.index, f))
    for f in series.fixes:
        seen.setdefault(f.sha[:12].lower(), (None, f))
    return list(seen.values())


def _fixes_lines(series: SeriesView) -> list[str]:
    many = series.total > 1
    return [
        (f"{index}: " if many and index else "") + fixes_line(f)
        for index, f in _unique_fixes(series)
    ]


def _series_stable(series: SeriesView) -> StableTag:
    versions: dict[str, None] = dict.fromkeys(series.stable.versions)
    for p in series.patches:
        versions.update(dict.fromkeys(p.stable.versions))
    return StableTag(tagged=is_stable(series), versions=tuple(versions))


def _commits_text(series: SeriesView) -> str:
    if series.applied is None:
        return ""
    commits = []
    for c in series.applied.commits:
        if not c.commit:
            continue
        label = f"`{c.commit[:12]}`" if _HEX.fullmatch(c.commit) else fit(c.commit[:12], 20)
        commits.append(f"[{label}]({c.url})" if c.url and _SAFE_URL.fullmatch(c.url) else label)
    return " ".join(commits)


def _status_lines(series: SeriesView, links: CardLinks) -> list[str]:
    out: list[str] = []
    if links.superseded_by is not None:
        out.append("Superseded by " + link(links.superseded_by.version, links.superseded_by.url, 900))
    elif series.superseded_by is not None:
        out.append("Superseded by a newer version")
    applied = summary.applied_lines(series)
    if not applied and series.applied is not None and series.applied_state != "none":
        where = series.applied.where or " ".join(x for x in (series.applied.tree, series.applied.branch) if x)
        applied = [f"Applied ({series.applied_state})" + (f" to {fit(where, 200)}" if where else "")]
    commits = _commits_text(series)
    if applied and commits:
        applied[0] += ": " + commits
    return out + applied


def _field(name: str, value: str, inline: bool = False) -> EmbedField | None:
    if not value:
        return None
    if len(value) > FIELD_VALUE_MAX:  # whole lines only: never cut a link in half
        value = join_fitting(value.split("\n"), FIELD_VALUE_MAX) or ELLIPSIS
    return EmbedField(name=name[:FIELD_NAME_MAX], value=value, inline=inline)


def embed_size(e: Embed) -> int:
    return sum(
        len(x or "")
        for x in (e.title, e.description, e.footer, e.author, *(f.name + f.value for f in e.fields))
    )


def _fit_total(e: Embed) -> Embed:
    """Keep the whole embed within 6000 characters: shrink the description first."""
    over = embed_size(e) - EMBED_TOTAL_MAX
    if over <= 0:
        return e
    lines = (e.description or "").split("\n")
    desc = join_fitting(lines, max(len(e.description or "") - over, 0))
    e = e.model_copy(update={"description": desc or None})
    while embed_size(e) > EMBED_TOTAL_MAX and e.fields:
        e = e.model_copy(update={"fields": e.fields[:-1]})
    return e


def _color(series: SeriesView) -> int:
    if series.superseded_by is not None:
        return COLOR_SUPERSEDED
    if series.applied_state != "none":
        return COLOR_APPLIED
    if is_stable(series):
        return COLOR_STABLE
    return COLOR_RFC if series.rfc else COLOR_NEW


# ---------------------------------------------------------------- posts


def _version_text(series: SeriesView, links: CardLinks) -> str:
    """"v3 · previous: v2"; an RFC's first non-RFC posting says so; "" for a
    posting that names no version and follows none."""
    parts = [series.label] if series.label else []
    prev = links.previous
    if prev is not None:
        if not series.rfc and prev.version.startswith("RFC"):
            parts.append("first non-RFC posting")
        parts.append("previous: " + link(prev.version, prev.url, 900))
    if not parts:
        return ""
    return " · ".join(parts if series.label or prev is None else [version_label(series), *parts])


def _apply_text(series: SeriesView, links: CardLinks) -> str:
    mid = links.latest_message_id or series_message_id(series)
    line = f"`b4 am {mid}`" if mid and "`" not in mid else fit(f"b4 am {mid}", 300)
    if links.latest_message_id and links.latest is not None:
        line += f" ({fit(links.latest.version, 40)}, the latest)"
    return line


def _badges(series: SeriesView) -> str:
    badges = [b for b, on in (("RFC", series.rfc), ("RESEND", series.resend), ("PULL", series.pull),
                              ("backport", series.backport)) if on]
    stable = _series_stable(series)
    if stable.tagged:
        text = stable_text(stable)
        on = summary.tagged_patches(series, stable=True)
        if series.total > 1 and on:
            text += " on " + summary.ranges(on)
        badges.append(text)
    return " · ".join(badges)


def render_card(series: SeriesView, links: CardLinks = CardLinks(), *, with_thread: bool = True) -> Post:
    url = series_url(series)
    expected = max(series.total, 1)
    received = f"{min(series.received, expected)}/{expected}"
    if series.missing:
        received += " (missing " + summary.ranges(series.missing) + ")"
    diff = combined_diffstat(series)
    description_lines: list[str] = []
    if diff is not None:
        description_lines.append(diffstat_line(diff))
        description_lines += [f"• {x}" for x in largest_files(diff)]
    fields = [
        _field("Author", fit(person(series.author), 200), inline=True),
        _field("Version", _version_text(series, links), inline=True),
        _field("Received", received, inline=True),
        _field("Subsystem", fit(series.subsystem or "", 200), inline=True),
        _field("Badges", _badges(series), inline=True),
        _field("Reviews", join_fitting([*summary.review_lines(series), *summary.carried_lines(series)],
                                       FIELD_VALUE_MAX)),
        _field("Changes", join_fitting(summary.changes_lines(series), FIELD_VALUE_MAX)),
        _field("Fixes", join_fitting(_fixes_lines(series), FIELD_VALUE_MAX)),
        _field("Status", join_fitting(_status_lines(series, links), FIELD_VALUE_MAX)),
        _field("Apply", _apply_text(series, links)),
    ]
    embed = Embed(
        title=fit(series.subject or series.title, TITLE_MAX),
        url=url,
        description=join_fitting(description_lines, DESCRIPTION_MAX) or None,
        color=_color(series),
        fields=tuple(f for f in fields if f is not None)[:FIELDS_MAX],
        footer=f"kvm-patchbot · series {series.series_id}",
    )
    return Post(embeds=(_fit_total(embed),), thread_name=thread_name(series) if with_thread else None)


def _trailer_lines(series: SeriesView, patch: PatchView, name: str) -> list[str]:
    """Givers of one trailer on a patch, each marked where it came from."""
    marks = {"cover": " (for the series)", "patch": " (carried over)",
             "previous": f" (carried over from {fit(series.previous_version or 'the previous version', 40)})"}
    known = {t.giver: t.origin for t in patch.trailers if t.name == name}
    givers = dict.fromkeys(g for t in patch.trailers if t.name == name for g in (t.giver,))
    for attr_name, attr, _ in summary.REVIEW_KINDS:
        if attr_name == name:
            givers.update(dict.fromkeys(summary.givers(attr, patch)))
    return [fit(g, 200) + marks.get(known.get(g, "reply"), "") for g in givers]


def _since_text(series: SeriesView, patch: PatchView) -> str:
    prev = series.previous_version
    if not prev or series.supersedes is None or patch.index == 0:
        return ""
    if patch.previous is None:
        return f"new in {fit(series.label or 'v1', 40)}"
    if patch.unchanged is None:
        return ""
    if patch.unchanged:
        return f"unchanged since {fit(prev, 40)}"
    files = ", ".join(fit(f, 200) for f in patch.changed_files[:5])
    return f"changed since {fit(prev, 40)}" + (f": {files}" if files else "")


def _patch_applied(patch: PatchView) -> str:
    a = patch.applied
    if a is None:
        return ""
    text = "applied" + (f" to {fit(patch.applied_to, 200)}" if patch.applied_to else "")
    if a.commit:
        label = f"`{a.commit[:12]}`" if _HEX.fullmatch(a.commit) else fit(a.commit[:12], 20)
        text += ": " + (f"[{label}]({a.url})" if a.url and _SAFE_URL.fullmatch(a.url) else label)
    return text


def render_patch(series: SeriesView, patch: PatchView) -> Post:
    """The per-patch message in the series thread (edited as it gains trailers or is applied)."""
    lines: list[str] = []
    if patch.diffstat is not None:
        lines.append(diffstat_line(patch.diffstat))
        lines += [f"• {x}" for x in largest_files(patch.diffstat, 10)]
    elif patch.files:
        lines += [f"• {fit(f, 200)}" for f in patch.files[:10]]
    fields = [
        _field("Author", fit(person(patch.author), 200), inline=True),
        *(
            _field(name, join_fitting(_trailer_lines(series, patch, name), FIELD_VALUE_MAX))
            for name, _, _ in summary.REVIEW_KINDS
        ),
        _field("Since", _since_text(series, patch)),
        _field("Status", _patch_applied(patch)),
        _field("Fixes", join_fitting((fixes_line(f) for f in patch.fixes), FIELD_VALUE_MAX)),
        _field("Stable", stable_text(patch.stable) if patch.stable.tagged else ""),
    ]
    where = f"{patch.index}/{series.total}" if patch.index is not None else "patch"
    embed = Embed(
        title=fit(patch.subject or patch.title, TITLE_MAX),
        url=patch_url(series, patch),
        description=join_fitting(lines, DESCRIPTION_MAX) or None,
        color=COLOR_APPLIED if patch.applied is not None else None,
        fields=tuple(f for f in fields if f is not None),
        footer=f"kvm-patchbot · series {series.series_id} · {where}",
    )
    return Post(embeds=(_fit_total(embed),))


def render_alert(
    series: SeriesView, role_id: int | None, patch: PatchView | None = None, *, reposted: bool = False
) -> Post:
    """A stable alert; the role mention is the only mention the bot ever makes.
    `reposted`: the alert of a fix already alerted, edited to its newest posting (no mention)."""
    subject = patch.subject if patch is not None else series.subject
    url = patch_url(series, patch) if patch is not None else series_url(series)
    tag = patch.stable if patch is not None and patch.stable.tagged else _series_stable(series)
    if reposted:
        role_id = None
    head = f"<@&{role_id}> " if role_id is not None else ""
    what = f"Stable request (re-posted in {fit(version_label(series), 40)}): " if reposted else "Stable request: "
    content = head + what + link(subject, url, CONTENT_MAX - len(head) - len(what) - 10)
    fixes = patch.fixes if patch is not None else tuple(f for _, f in _unique_fixes(series))
    fields = [
        _field("Stable", stable_text(tag)),
        _field("Fixes", join_fitting((fixes_line(f) for f in fixes), FIELD_VALUE_MAX)),
        _field("Author", fit(person(series.author), 200), inline=True),
    ]
    embed = Embed(
        title=fit(subject, TITLE_MAX),
        url=url,
        color=COLOR_STABLE,
        fields=tuple(f for f in fields if f is not None),
        # The footer names the post (delivery adopts a post by it after a crash):
        # a series' numbered patches each get their own alert.
        footer=f"kvm-patchbot · series {series.series_id} · "
        + (f"{patch.index}/{series.total} · " if patch is not None and patch.index is not None else "")
        + "stable",
    )
    return Post(
        content=content,
        embeds=(_fit_total(embed),),
        mention_role_ids=(role_id,) if role_id is not None else (),
    )


__all__ = [
    "CardLinks",
    "VersionLink",
    "escape",
    "lore_url",
    "render_alert",
    "render_card",
    "render_patch",
    "thread_name",
]
