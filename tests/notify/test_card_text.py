"""Issue 12 items 2, 5, 6: what the card says, on constructed views (pure)."""

from __future__ import annotations

from bot.mail.models import AppliedCommit, Diffstat, DiffstatEntry
from bot.notify.models import Embed
from bot.notify.render import CardLinks, VersionLink, combined_diffstat, embed_size, render_alert, render_card, render_patch
from bot.series.models import TrailerView

from .views import Fixes, StableTag, patch, series

ALICE, BOB, PAOLO = "Alice A <a@x>", "Bob B <b@x>", "Paolo Bonzini <pbonzini@redhat.com>"


def _field(e: Embed, name: str) -> str | None:
    return next((f.value for f in e.fields if f.name == name), None)


def _nine(**kw) -> list:
    return [patch(i, f"part {i}", **kw.get(i, {})) for i in range(1, 10)]


def test_reviews_per_patch_with_names_missing_and_series_wide_trailers() -> None:
    ps = _nine()
    ps = [p.model_copy(update={"reviewed_by": (ALICE,)}) if p.index not in (3, 8) else p for p in ps]
    ps = [p.model_copy(update={"acked_by": (PAOLO,)}) for p in ps]  # given on the cover: counts for each
    ps[0] = ps[0].model_copy(update={"tested_by": (BOB,)})
    cover = patch(0, "cover", files=(), acked_by=(PAOLO,))
    s = series(total=9, missing=(), patches=(cover, *ps))
    e = render_card(s).embeds[0]
    assert _field(e, "Reviews").splitlines() == [
        "Reviewed 7/9 — Alice A; missing 3, 8",
        "Acked 9/9 — Paolo Bonzini (for the series)",
        "Tested 1/9 — Bob B; missing 2-9",
    ]
    bare = series(total=9, missing=(), patches=tuple(_nine()))
    assert _field(render_card(bare).embeds[0], "Reviews") is None  # zero counts are not shown


def test_carried_over_and_fresh_trailers_of_unchanged_patches() -> None:
    carried = (TrailerView(name="Reviewed-by", giver=ALICE, origin="previous"),)
    fresh = (TrailerView(name="Reviewed-by", giver=BOB, origin="reply"),)
    p1 = patch(1, "one", previous="o1@x", unchanged=True, trailers=carried)
    p2 = patch(2, "two", previous="o2@x", unchanged=True, trailers=fresh, reviewed_by=(BOB,))
    p3 = patch(3, "three", previous="o3@x", unchanged=False, changed_files=("arch/x86/kvm/x86.c",))
    p4 = patch(4, "four")
    s = series(version=13, total=4, missing=(), supersedes=6, previous_version="v12", patches=(p1, p2, p3, p4))
    e = render_card(s).embeds[0]
    assert _field(e, "Changes").splitlines() == [
        "v13: 2 of 4 patches unchanged since v12", "Changed: 3 (x86.c)", "New: 4",
    ]
    assert _field(e, "Reviews").splitlines() == [
        "Reviewed 1/4 — Bob B; missing 1, 3-4",
        "Carried over from v12 on unchanged patches: Reviewed-by 1",
        "Fresh: Bob B (2)",
    ]
    msg = render_patch(s, p1).embeds[0]
    assert _field(msg, "Reviewed-by") == "Alice A \\<a@x\\> (carried over from v12)"
    assert _field(msg, "Since") == "unchanged since v12"
    assert _field(render_patch(s, p3).embeds[0], "Since") == "changed since v12: arch/x86/kvm/x86.c"
    assert _field(render_patch(s, p4).embeds[0], "Since") == "new in v13"


def test_applied_names_which_patches_and_where() -> None:
    a = AppliedCommit(index=1, commit="0123456789ab")
    ps = [patch(i, f"p{i}", applied=a, applied_to="kvm-x86 mmu") for i in (1, 2, 3)]
    ps.append(patch(4, "p4", applied=AppliedCommit(), applied_to="stable"))
    ps.append(patch(5, "p5"))
    s = series(total=5, missing=(), patches=tuple(ps), applied_state="partial")
    assert _field(render_card(s).embeds[0], "Status").splitlines() == [
        "Applied 1-3 to kvm-x86 mmu", "Applied 4 to stable", "Not applied: 5",
    ]
    assert _field(render_patch(s, ps[0]).embeds[0], "Status") == "applied to kvm-x86 mmu: `0123456789ab`"


def test_unversioned_single_patch_says_no_version_and_names_its_tags() -> None:
    one = patch(None, "Fix it", stable=StableTag(tagged=True), fixes=(Fixes(sha="0123456789ab"),))
    s = series(version=1, version_explicit=False, total=1, missing=(), cover=None, patches=(one,),
               subject="[PATCH] KVM: x86: Fix it")
    e = render_card(s, with_thread=False).embeds[0]
    assert _field(e, "Version") is None
    assert _field(e, "Badges") == "stable" and _field(e, "Fixes").startswith("[`0123456789ab`]")
    many = series(total=3, missing=(), patches=(patch(1, "a"), patch(2, "b", stable=StableTag(tagged=True),
                                                                        fixes=(Fixes(sha="abcdef012345"),))))
    e = render_card(many).embeds[0]
    assert _field(e, "Badges") == "stable on 2" and _field(e, "Fixes").startswith("2: [`abcdef012345`]")


def test_first_posting_after_an_rfc_is_labelled_as_such() -> None:
    s = series(version=1, version_explicit=False, supersedes=2)
    prev = VersionLink(version="RFC", url="https://lore.kernel.org/r/rfc@x")
    assert _field(render_card(s, CardLinks(previous=prev)).embeds[0], "Version") == (
        "v1 · first non-RFC posting · previous: [RFC](https://lore.kernel.org/r/rfc@x)"
    )
    rfc = series(version=1, version_explicit=False, rfc=True)
    assert _field(render_card(rfc).embeds[0], "Version") == "RFC"


def test_superseded_card_applies_the_latest_version() -> None:
    s = series(superseded_by=9)
    links = CardLinks(
        superseded_by=VersionLink(version="v4", url="https://lore.kernel.org/r/v4@x"),
        latest=VersionLink(version="v13", url="https://lore.kernel.org/r/v13@x"),
        latest_message_id="v13-cover@x",
    )
    assert _field(render_card(s, links).embeds[0], "Apply") == "`b4 am v13-cover@x` (v13, the latest)"


def test_file_paths_come_from_the_patches_not_the_shortened_cover_diffstat() -> None:
    short = Diffstat(files=2, insertions=30, deletions=1, per_file=(
        DiffstatEntry(path=".../selftests/kvm/x86_64/hyperv_tlb_flush.c", insertions=20),
        DiffstatEntry(path="arch/x86/kvm/hyperv.c", insertions=10, deletions=1),
    ))
    full = "tools/testing/selftests/kvm/x86_64/hyperv_tlb_flush.c"
    s = series(total=2, missing=(), cover_diffstat=short,
               patches=(patch(0, "cover", files=()), patch(1, "a", files=(full,)), patch(2, "b", files=("arch/x86/kvm/hyperv.c",))))
    d = combined_diffstat(s)
    assert d is not None and {e.path for e in d.per_file} == {full, "arch/x86/kvm/hyperv.c"}
    desc = render_card(s).embeds[0].description or ""
    assert ".../" not in desc and "hyperv\\_tlb\\_flush.c" in desc
    alone = series(total=2, missing=(1, 2), cover_diffstat=short, patches=(patch(0, "cover", files=()).model_copy(update={"diffstat": None}),))
    d = combined_diffstat(alone)
    assert d is not None and d.files == 2 and [e.path for e in d.per_file] == ["arch/x86/kvm/hyperv.c"]


def test_a_reposted_alert_pings_no_one_and_every_text_stays_within_limits() -> None:
    s = series(version=2, stable=StableTag(tagged=True))
    post = render_alert(s, 4242, reposted=True)
    assert post.mention_role_ids == () and post.content.startswith("Stable request (re-posted in v2): [")
    names = tuple(f"Person {i} <p{i}@x>" for i in range(300))
    ps = tuple(patch(i, "x" * 200, reviewed_by=names, previous="o@x", unchanged=False,
                     changed_files=tuple(f"{'d' * 150}/{j}.c" for j in range(40))) for i in range(1, 200))
    big = series(total=400, missing=tuple(range(200, 401)), patches=ps, supersedes=1, previous_version="v1")
    for e in (render_card(big).embeds[0], render_patch(big, ps[0]).embeds[0]):
        assert all(len(f.value) <= 1024 for f in e.fields) and embed_size(e) <= 6000 and len(e.fields) <= 25
