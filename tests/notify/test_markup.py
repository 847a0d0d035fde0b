"""Mail can inject no markup: properties over random and adversarial strings.

`escape` must leave nothing Discord would parse (no link, mention, channel,
command, timestamp, emoji, heading, list, quote, spoiler, code or emphasis),
and removing its backslashes must give the text back. Rendered cards, patch
messages and alerts built from such strings must hold no link but ours and no
live mention but the alert's role.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.mail.models import Fixes, Person
from bot.notify.render import render_alert, render_card, render_patch, thread_name
from bot.notify.text import ELLIPSIS, escape, fit, link, one_line, unescape

from .discord_markdown import ANGLE, EVERYONE, links, live, markup
from .views import patch, series

ADVERSARIAL = [
    "fix](https://evil.example/phish) (stable",
    "[click](https://evil.example)", "[x](<https://evil.example>)", "\\](https://evil.example)",
    "<https://evil.example>", "https://evil.example/x", "http://evil.example", "HTTPS://EVIL.EXAMPLE",
    "<#123456789012345678>", "<@123456789012345678>", "<@!123>", "<@&123456789012345678>",
    "</kvm status:123456789012345678>", "<t:1700000000:R>", "<:kvm:123>", "<a:kvm:123>", "<id:customize>",
    "# Heading", "## h", "### h", "-# subtext", "> quote", ">>> block", "- item", "* item", "+ item",
    "1. item", "10) item", "||spoiler||", "`code`", "```block```", "**bold**", "__under__", "~~strike~~",
    "*it*", "_it_", "@everyone", "@here", "\\", "\\*", "a\\", "[", "]", "(", ")", "](", "[x](", "\\\\",
    "\u200b", "\n", "  ", "…",
]
_chunk = st.one_of(
    st.sampled_from(ADVERSARIAL),
    st.text(alphabet="ab :/.@#-+>*_~`|[]()<>\\!&0123456789\n", max_size=12),
    st.text(max_size=8),
)
hostile = st.lists(_chunk, max_size=25).map("".join)


@settings(max_examples=400, deadline=None)
@given(hostile)
@example("fix](https://evil.example/phish) (stable")
@example("1. <@&1> # x")
def test_escape_leaves_nothing_live_and_unescapes_to_the_text(text: str) -> None:
    out = escape(text)
    assert markup(out) == []
    assert unescape(out) == one_line(text)
    label = escape(text, label=True)
    assert markup(f"[{label}](https://lore.kernel.org/r/x@y)") == ["[" + live(label) + "](https://lore.kernel.org/r/x@y)",
                                                                    "https://lore.kernel.org/r/x@y"]
    assert unescape(label) == one_line(text)


@settings(max_examples=300, deadline=None)
@given(hostile, st.integers(min_value=1, max_value=200))
def test_a_cut_is_a_prefix_of_the_text_and_as_inert(text: str, limit: int) -> None:
    out = fit(text, limit)
    assert len(out) <= limit and markup(out) == []
    shown = unescape(out.removesuffix(ELLIPSIS))
    assert one_line(text).startswith(shown) or shown == ELLIPSIS[:limit]


@settings(max_examples=300, deadline=None)
@given(hostile, st.integers(min_value=0, max_value=300))
def test_a_link_label_cannot_end_the_link_or_start_another(label: str, limit: int) -> None:
    ours = "https://lore.kernel.org/r/x@y"
    out = link(label, ours, limit)
    assert set(links(out)) <= {ours}
    assert mentions(out) == [] and not EVERYONE.search(live(out))


def mentions(text: str) -> list[str]:
    """The live angle-bracket forms other than <url> (whose URL `links` checks)."""
    return [a for a in ANGLE.findall(live(text)) if not a.startswith("<http")]


OURS = ("https://lore.kernel.org/r/", "https://git.kernel.org/torvalds/c/", "https://discord.com/channels/")


@settings(max_examples=80, deadline=None)
@given(subject=hostile, name=hostile, subsystem=hostile, fixes=hostile, path=hostile, giver=hostile)
@example(subject="fix](https://evil.example/phish) (stable", name="<@&1>", subsystem="# KVM", fixes="[a](https://e.x)",
         path="`x`", giver="@everyone")
def test_rendered_posts_hold_no_link_but_ours_and_no_mention_but_the_role(
    subject: str, name: str, subsystem: str, fixes: str, path: str, giver: str
) -> None:
    p = patch(1, subject, files=(path or "x",), author=Person(name=name, email="a@example.com"),
              reviewed_by=(giver,), fixes=(Fixes(sha="0123456789abcdef", subject=fixes),))
    p = p.model_copy(update={"subject": subject or "x"})
    s = series(subject=subject or "x", title=subject or "x", author=Person(name=name), subsystem=subsystem,
               patches=(p,), fixes=(Fixes(sha="fedcba9876543210", subject=fixes),))
    role = 424242
    for post in (render_card(s), render_patch(s, p), render_alert(s, role, p)):
        texts = [post.content] + [t for e in post.embeds
                                  for t in (e.title or "", e.description or "", *(f.value for f in e.fields))]
        for text in texts:
            assert all(url.startswith(OURS) for url in links(text)), text
            assert not EVERYONE.search(live(text)), text
        angles = [a for t in texts for a in mentions(t)]
        assert angles == ([f"<@&{str(role)[0]}"] if post.content else [])
        title = post.embeds[0].title or ""
        assert markup(title) == []
        assert one_line(subject or "x").startswith(unescape(title).removesuffix(ELLIPSIS))


@settings(max_examples=200, deadline=None)
@given(hostile)
def test_thread_names_are_plain_one_line_and_bounded(title: str) -> None:
    name = thread_name(series(title=title, subject=title))
    assert 1 <= len(name) <= 100
    assert "\n" not in name and "\u200b" not in name and name == name.strip()


@pytest.mark.parametrize("evil", ADVERSARIAL)
def test_each_adversarial_string_alone(evil: str) -> None:
    assert markup(escape(evil)) == [] and unescape(escape(evil)) == one_line(evil)
