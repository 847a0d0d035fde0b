from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.mail.models import Applied, AppliedCommit, Person
from bot.notify.models import Embed
from bot.notify.render import (
    CardLinks,
    VersionLink,
    embed_size,
    lore_url,
    render_alert,
    render_card,
    render_patch,
    thread_name,
)
from bot.notify.text import fit, join_fitting, link, unescape

from .discord_markdown import ANGLE, EVERYONE, links, live, markup
from .views import Fixes, StableTag, patch, series

_LINK = re.compile(r"\[((?:\\.|[^\]\\])*)\]\(([^)\s]+)\)")


def _field(e: Embed, name: str) -> str:
    return next(f.value for f in e.fields if f.name == name)


def _within_limits(e: Embed) -> None:
    assert len(e.title or "") <= 256
    assert len(e.description or "") <= 4096
    assert len(e.fields) <= 25
    assert all(len(f.name) <= 256 and len(f.value) <= 1024 for f in e.fields)
    assert len(e.footer or "") <= 2048
    assert embed_size(e) <= 6000


def test_card_content() -> None:
    s = series(
        patches=(
            patch(0, "cover", files=()),
            patch(1, "one", reviewed_by=("A <a@x>", "B <b@x>"), fixes=(Fixes(sha="0123456789abcdef", subject="KVM: x86: old"),)),
            patch(2, "two", files=("arch/x86/kvm/vmx/vmx.c", "arch/x86/kvm/svm/svm.c"), stable=StableTag(tagged=True, versions=("6.1+",))),
        ),
    )
    prev = VersionLink(version="v2", url="https://discord.com/channels/1/2/3")
    post = render_card(s, CardLinks(previous=prev))
    (e,) = post.embeds
    assert e.title == "[PATCH v3 0/3] KVM: x86: Dynamically allocate hashed page list"
    assert e.url == "https://lore.kernel.org/r/cover@example.com"
    assert _field(e, "Version") == "v3 · previous: [v2](https://discord.com/channels/1/2/3)"
    assert _field(e, "Received") == "2/3 (missing 3)"
    assert _field(e, "Author") == "Sean Christopherson \\<seanjc@google.com\\>"  # shown as <...>, never a link
    assert _field(e, "Subsystem") == "KVM: x86"
    assert _field(e, "Reviews") == "Reviewed 1/3 — A, B; missing 2-3"  # zero counts left out
    assert _field(e, "Fixes") == '1: [`0123456789ab`](https://git.kernel.org/torvalds/c/0123456789abcdef) ("KVM: x86: old")'
    assert _field(e, "Badges") == "stable (6.1+) on 2"
    assert _field(e, "Apply") == "`b4 am cover@example.com`"
    assert e.description.splitlines()[0] == "3 files changed, +40/-1"
    assert "arch/x86/kvm/svm/svm.c (+20/-1)" in e.description
    assert post.thread_name == "v3 Dynamically allocate hashed page list"
    assert post.mention_role_ids == ()


def test_card_state_changes_change_the_render() -> None:
    s = series()
    before = render_card(s)
    done = series(
        superseded_by=9,
        applied=Applied(tree="kvm-x86", branch="mmu", commits=(AppliedCommit(index=1, commit="abcdef012345", url="https://github.com/kvm-x86/linux/commit/abcdef012345"),)),
        applied_state="partial",
    )
    after = render_card(done, CardLinks(superseded_by=VersionLink(version="v4", url="https://lore.kernel.org/r/v4@x")))
    assert before.digest() != after.digest()
    assert render_card(s).digest() == before.digest()
    status = _field(after.embeds[0], "Status")
    assert status.splitlines() == [
        "Superseded by [v4](https://lore.kernel.org/r/v4@x)",
        "Applied (partial) to kvm-x86 mmu: [`abcdef012345`](https://github.com/kvm-x86/linux/commit/abcdef012345)",
    ]


def test_everyone_and_markdown_in_subjects_are_inert() -> None:
    evil = "**@everyone** <@&123456789012345678> `x` ||spoiler|| [click](https://evil.example)"
    s = series(subject=evil, title=evil, author=Person(name="@here __Mal__"))
    post = render_card(s)
    e = post.embeds[0]
    assert markup(e.title or "") == [] and unescape(e.title or "") == evil
    assert _field(e, "Author") == "\\@here \\_\\_Mal\\_\\_"
    alert = render_alert(s, None)
    assert links(alert.content) == [e.url] and not EVERYONE.search(live(alert.content))
    assert alert.mention_role_ids == ()


def test_alert_mentions_only_its_role() -> None:
    s = series(stable=StableTag(tagged=True, versions=("5.15.y",)))
    post = render_alert(s, 4242)
    assert post.content.startswith("<@&4242> Stable request: [")
    assert post.mention_role_ids == (4242,)
    assert _field(post.embeds[0], "Stable") == "stable (5.15.y)"


def test_patch_message() -> None:
    p = patch(2, "two", acked_by=("Paolo <p@x>",), stable=StableTag(tagged=True))
    post = render_patch(series(), p)
    e = post.embeds[0]
    assert e.title == "[PATCH 2/3] KVM: x86/mmu: two"
    assert e.url == "https://lore.kernel.org/r/p2@example.com"
    assert unescape(_field(e, "Acked-by")) == "Paolo <p@x>"
    assert _field(e, "Stable") == "stable"
    assert e.footer == "kvm-patchbot · series 7 · 2/3"


def test_absurd_input_respects_every_limit() -> None:
    huge = "[PATCH v3 0/3] " + "KVM: **x86** @everyone " * 2000
    files = tuple(f"arch/x86/kvm/{'d' * 300}/{i}_**.c" for i in range(300))
    many = tuple(f"Person {i} <p{i}@x>" for i in range(500))
    s = series(
        subject=huge,
        title=huge,
        subsystem="KVM: " + "x" * 5000,
        author=Person(name="N" * 5000),
        missing=tuple(range(3, 500)),
        total=500,
        fixes=tuple(Fixes(sha=f"{i:012x}", subject="S" * 900) for i in range(100)),
        patches=(patch(1, "one" * 3000, files=files, reviewed_by=many, fixes=(Fixes(sha="zz(not hex)", subject=")]" * 400),)),),
    )
    for post in (render_card(s), render_patch(s, s.patches[0]), render_alert(s, 1)):
        assert len(post.content) <= 2000
        for e in post.embeds:
            _within_limits(e)
            for text in (e.description or "", *(f.value for f in e.fields)):
                for m in _LINK.finditer(text):
                    assert m.group(2).startswith("https://")
    assert len(thread_name(s)) <= 100


def test_lore_url_quotes_link_breakers() -> None:
    assert lore_url("<a)b(c d@x>") == "https://lore.kernel.org/r/a%29b%28c%20d@x"


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=400), st.integers(min_value=1, max_value=120))
def test_fit_never_exceeds_and_never_ends_in_a_dangling_escape(text: str, limit: int) -> None:
    out = fit(text, limit)
    assert len(out) <= limit
    assert not out.endswith("\\") or out.endswith("\\\\")
    assert not EVERYONE.search(live(out)) and not ANGLE.search(live(out))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=0, max_value=200))
def test_link_is_whole_or_absent(label: str, limit: int) -> None:
    url = "https://lore.kernel.org/r/x@y"
    out = link(label, url, limit)
    assert len(out) <= max(limit, 0)
    if "](" in out:
        assert out.endswith(f"]({url})")


def test_join_fitting_keeps_whole_lines() -> None:
    lines = ["[a](https://x/1)", "[b](https://x/2)", "[c](https://x/3)"]
    out = join_fitting(lines, 30)
    assert out.splitlines() == ["[a](https://x/1)", "…"]


def test_applied_links_from_mail_must_be_plain_urls() -> None:
    commits = (
        AppliedCommit(index=1, commit="abcdef012345", url="https://x.example/c/abcdef012345"),
        AppliedCommit(index=2, commit="0123456789ab", url="https://evil.example/a) [click](https://phish"),
    )
    s = series(applied=Applied(tree="kvm-x86", branch="misc", commits=commits), applied_state="all")
    status = _field(render_card(s).embeds[0], "Status")
    assert status == "Applied (all) to kvm-x86 misc: [`abcdef012345`](https://x.example/c/abcdef012345) `0123456789ab`"


_chunks = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["@everyone", "@here", "**", "__", "`", "||", "\\", "> ", "# ", "<@&123456789012345678>",
                     "[x](https://e.example)", "…", "\n", ")", "]"]),
)
_text = st.lists(_chunks, max_size=150).map("".join)


@settings(max_examples=60, deadline=None)
@given(subject=_text, name=_text, subsystem=_text, path=st.text(min_size=1, max_size=600), mid=st.text(min_size=1, max_size=300))
def test_any_mail_text_renders_within_limits_and_inert(subject: str, name: str, subsystem: str, path: str, mid: str) -> None:
    p = patch(1, subject, files=(path,) * 3, author=Person(name=name), fixes=(Fixes(sha="abc", subject=subject),))
    p = p.model_copy(update={"message_id": mid, "subject": subject})
    s = series(subject=subject, title=subject, author=Person(name=name), subsystem=subsystem, cover=mid, patches=(p,))
    for post in (render_card(s), render_patch(s, p), render_alert(s, 7, p)):
        assert len(post.content) <= 2000
        assert post.mention_role_ids in ((), (7,))
        for e in post.embeds:
            _within_limits(e)
            for text in (e.title or "", e.description or "", *(f.value for f in e.fields)):
                assert not EVERYONE.search(live(text)) and not ANGLE.search(live(text))
        assert post.thread_name is None or 1 <= len(post.thread_name) <= 100
