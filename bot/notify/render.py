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
    return f"v{series.version_label or series.version}"


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
    """The cover's diffstat when it has one, else the sum over received patches."""
    if series.cover_diffstat is not None and series.cover_diffstat.files:
        return series.cover_diffstat
    per: dict[str, DiffstatEntry] = {}
    ins = dels = 0
    found = False
    for p in series.patches:
        if p.diffstat is None:
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
    if not found:
        return None
    files = len(per) or sum(p.diffstat.files for p in series.patches if p.diffstat)
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


def _unique_fixes(series: SeriesView) -> list[Fixes]:
    seen: dict[str, Fixes] = {}
    for f in (*series.fixes, *(f for p in series.patches for f in p.fixes)):
        seen.setdefault(f.sha[:12].lower(), f)
    return list(seen.values())


def _series_stable(series: SeriesView) -> StableTag:
    versions: dict[str, None] = dict.fromkeys(series.stable.versions)
    for p in series.patches:
        versions.update(dict.fromkeys(p.stable.versions))
    return StableTag(tagged=is_stable(series), versions=tuple(versions))


def _people_counts(series: SeriesView) -> str:
    def count(attr: str) -> int:
        return len({g for p in series.patches for g in getattr(p, attr)})

    return " · ".join(
        f"{name} {n}"
        for name, n in (
            ("Reviewed-by", count("reviewed_by")),
            ("Acked-by", count("acked_by")),
            ("Tested-by", count("tested_by")),
        )
    )


def _status_lines(series: SeriesView, links: CardLinks) -> list[str]:
    out: list[str] = []
    if links.superseded_by is not None:
        out.append("Superseded by " + link(links.superseded_by.version, links.superseded_by.url, 900))
    elif series.superseded_by is not None:
        out.append("Superseded by a newer version")
    if series.applied is not None and series.applied_state != "none":
        where = " ".join(x for x in (series.applied.tree, series.applied.branch) if x)
        head = f"Applied ({series.applied_state})" + (f" to {fit(where, 200)}" if where else "")
        commits = []
        for c in series.applied.commits:
            if not c.commit:
                continue
            label = f"`{c.commit[:12]}`" if _HEX.fullmatch(c.commit) else fit(c.commit[:12], 20)
            commits.append(f"[{label}]({c.url})" if c.url and _SAFE_URL.fullmatch(c.url) else label)
        out.append(head + (": " + " ".join(commits) if commits else ""))
    return out


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


def render_card(series: SeriesView, links: CardLinks = CardLinks(), *, with_thread: bool = True) -> Post:
    mid = series_message_id(series)
    url = series_url(series)
    badges = [b for b, on in (("RFC", series.rfc), ("RESEND", series.resend), ("PULL", series.pull)) if on]
    stable = _series_stable(series)
    if stable.tagged:
        badges.append(stable_text(stable))
    version = version_label(series)
    if links.previous is not None:
        version += " · previous: " + link(links.previous.version, links.previous.url, 900)
    expected = max(series.total, 1)
    received = f"{min(series.received, expected)}/{expected}"
    if series.missing:
        received += " (missing " + ", ".join(str(i) for i in series.missing[:20]) + (
            f", {ELLIPSIS}" if len(series.missing) > 20 else ""
        ) + ")"
    diff = combined_diffstat(series)
    description_lines: list[str] = []
    if diff is not None:
        description_lines.append(diffstat_line(diff))
        description_lines += [f"• {x}" for x in largest_files(diff)]
    fixes = _unique_fixes(series)
    fields = [
        _field("Author", fit(person(series.author), 200), inline=True),
        _field("Version", version, inline=True),
        _field("Received", received, inline=True),
        _field("Subsystem", fit(series.subsystem or "", 200), inline=True),
        _field("Badges", " · ".join(badges), inline=True),
        _field("Reviews", _people_counts(series)),
        _field("Fixes", join_fitting((fixes_line(f) for f in fixes), FIELD_VALUE_MAX)),
        _field("Status", join_fitting(_status_lines(series, links), FIELD_VALUE_MAX)),
        _field("Apply", f"`b4 am {mid}`" if mid and "`" not in mid else fit(f"b4 am {mid}", 300)),
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


def render_patch(series: SeriesView, patch: PatchView) -> Post:
    """The per-patch message in the series thread."""
    lines: list[str] = []
    if patch.diffstat is not None:
        lines.append(diffstat_line(patch.diffstat))
        lines += [f"• {x}" for x in largest_files(patch.diffstat, 10)]
    elif patch.files:
        lines += [f"• {fit(f, 200)}" for f in patch.files[:10]]
    fields = [
        _field("Author", fit(person(patch.author), 200), inline=True),
        *(
            _field(name, join_fitting((fit(g, 200) for g in givers), FIELD_VALUE_MAX))
            for name, givers in (
                ("Reviewed-by", patch.reviewed_by),
                ("Acked-by", patch.acked_by),
                ("Tested-by", patch.tested_by),
            )
        ),
        _field("Fixes", join_fitting((fixes_line(f) for f in patch.fixes), FIELD_VALUE_MAX)),
        _field("Stable", stable_text(patch.stable) if patch.stable.tagged else ""),
    ]
    where = f"{patch.index}/{series.total}" if patch.index is not None else "patch"
    embed = Embed(
        title=fit(patch.subject or patch.title, TITLE_MAX),
        url=patch_url(series, patch),
        description=join_fitting(lines, DESCRIPTION_MAX) or None,
        fields=tuple(f for f in fields if f is not None),
        footer=f"kvm-patchbot · series {series.series_id} · {where}",
    )
    return Post(embeds=(_fit_total(embed),))


def render_alert(series: SeriesView, role_id: int | None, patch: PatchView | None = None) -> Post:
    """A stable alert; the role mention is the only mention the bot ever makes."""
    subject = patch.subject if patch is not None else series.subject
    url = patch_url(series, patch) if patch is not None else series_url(series)
    tag = patch.stable if patch is not None and patch.stable.tagged else _series_stable(series)
    head = f"<@&{role_id}> " if role_id is not None else ""
    content = head + "Stable request: " + link(subject, url, CONTENT_MAX - len(head) - 40)
    fixes = patch.fixes if patch is not None else tuple(_unique_fixes(series))
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
