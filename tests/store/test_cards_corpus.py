"""Issue 12 items 2-4 on real threads: per-patch reviews, what changed since the
previous version, and where patches were applied, as the card says them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.ingest.sources import iter_path, iter_paths
from bot.mail import parse_mail
from bot.notify.render import render_card
from bot.series.models import SeriesView
from bot.store import Store

pytestmark = pytest.mark.corpus

SVM_V1 = "40-PATCH-0-9-KVM-SVM-Fix-hilarious-exit-code-bugs.mbox"
SVM_V2 = "41-PATCH-v2-0-8-KVM-SVM-Fix-exit-code-bugs.mbox"
HV_V12 = "37-PATCH-v12-00-46-KVM-x86-hyper-v-Fine-grained-TLB-flush-L2-TLB-flush-features.mbox"
HV_V13 = "38-PATCH-v13-00-48-KVM-x86-hyper-v-Fine-grained-TLB-flush-L2-TLB-flush-features.mbox"


async def _views(tmp_path: Path, files: list[Path], name: str = "cards.db") -> list[SeriesView]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / name}")
    try:
        for f in files:  # one file at a time: the order of the files is the arrival order
            await store.ingest_many(iter_paths([f]), source="file")
        return await store.list_series()
    finally:
        await store.close()


def _field(v: SeriesView, name: str) -> str:
    return next((f.value for f in render_card(v).embeds[0].fields if f.name == name), "")


def _reviewed_in_replies(path: Path) -> dict[int, set[str]]:
    """Oracle: patch index -> names giving Reviewed-by in replies, read from the raw thread."""
    out: dict[int, set[str]] = {}
    for r in iter_path(path):
        m = parse_mail(r.data)
        if not m.subject.is_reply or m.subject.index is None:
            continue
        for t in m.trailers:
            if t.name == "Reviewed-by" and t.person is not None:
                out.setdefault(m.subject.index, set()).add(t.person.name)
    return out


async def test_reviews_name_who_reviewed_which_patches(corpus: Path, tmp_path: Path) -> None:
    path = corpus / "kvm-x86-threads" / SVM_V1
    (v1,) = await _views(tmp_path, [path])
    oracle = _reviewed_in_replies(path)
    assert set(oracle) == {1, 2, 4, 5, 6, 7, 8} and all(v == {"Yosry Ahmed"} for v in oracle.values())
    # Yosry reviewed 7 of the 9 patches: the card says which, and who; no zero counts.
    assert _field(v1, "Reviews") == "Reviewed 7/9 — Yosry Ahmed; missing 3, 9"
    by_index = {p.index: p for p in v1.patches}
    assert by_index[3].reviewed_by == () and by_index[4].reviewed_by == ("Yosry Ahmed <yosry.ahmed@linux.dev>",)
    # Sean applied 1 and 2 to kvm-x86 fixes (with their commits), the rest not.
    status = _field(v1, "Status").splitlines()
    assert status[0].startswith("Applied 1-2 to kvm-x86 fixes: [`da01f64e7470`](")
    assert status[1] == "Not applied: 3-9"
    assert _field(v1, "Badges") == "stable on 1-2" and _field(v1, "Fixes").startswith("7: [`6aa8b732ca01`]")
    assert _field(v1, "Version") == ""  # an unversioned posting says no "v1"


async def test_b4_thank_you_applies_every_patch_with_its_commit(corpus: Path, tmp_path: Path) -> None:
    v1, v2 = await _views(tmp_path, [corpus / "kvm-x86-threads" / SVM_V1, corpus / "kvm-x86-threads" / SVM_V2])
    assert v2.applied_state == "all" and v2.supersedes == v1.series_id
    assert all(p.applied_to == "kvm-x86 svm" and p.applied and p.applied.commit for p in v2.patches if p.index)
    assert _field(v2, "Status").startswith("Applied all to kvm-x86 svm: [`")
    reviews = _field(v2, "Reviews").splitlines()
    assert reviews[0] == "Reviewed 7/8 — Yosry Ahmed, Pankaj Gupta, Vitaly Kuznetsov; missing 7"
    # On the patches unchanged since v1, Yosry's v1 reviews carry over; Pankaj's are fresh on v2.
    assert reviews[1:] == ["Carried over from v1 on unchanged patches: Reviewed-by 4", "Fresh: Pankaj Gupta (2)"]
    assert _field(v2, "Changes").startswith("v2: ")


def _normalised(body: str) -> list[str]:
    """Oracle for "unchanged": the diff's lines without index lines, hunk positions
    and the signature, written without bot.series.diffhash's regexes."""
    lines = body.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("diff --git "))
    out = []
    for line in lines[start:]:
        if line in ("-- ", "--"):
            break
        if line.startswith("index "):
            continue
        out.append("@@" if line.startswith("@@") else line.rstrip())
    while out and out[-1][:1] not in ("+", "-", " ", "@", "\\"):
        out.pop()
    return out


def _bodies(path: Path) -> dict[str, str]:
    return {m.message_id: m.body for m in (parse_mail(r.data) for r in iter_path(path))}


async def test_v13_says_which_patches_are_unchanged_since_v12(corpus: Path, tmp_path: Path) -> None:
    threads = corpus / "kvm-x86-threads"
    v12, v13 = await _views(tmp_path, [threads / HV_V12, threads / HV_V13])
    assert v13.supersedes == v12.series_id and v13.previous_version == "v12"
    bodies = {**_bodies(threads / HV_V12), **_bodies(threads / HV_V13)}
    old = {p.message_id: p for p in v12.patches}
    unchanged = 0
    for p in v13.patches:
        if p.index == 0:
            continue
        if p.previous is None:
            # New in v13: no v12 patch with its title or (once titles are taken) its index.
            assert not any(q.title.lower() == p.title.lower() for q in v12.patches)
            continue
        q = old[p.previous]
        assert q.title.lower() == p.title.lower() or q.index == p.index
        same = _normalised(bodies[p.message_id]) == _normalised(bodies[q.message_id])
        assert p.unchanged is same, p.subject
        assert (p.changed_files == ()) is same
        unchanged += same
    assert 30 < unchanged < 48
    changes = _field(v13, "Changes").splitlines()
    assert changes[0] == f"v13: {unchanged} of 48 patches unchanged since v12"
    # Trailers of unchanged patches carry over; v12's got none of its own on those.
    assert _field(v13, "Reviews").splitlines()[-1].startswith("Carried over from v12 on unchanged patches: Reviewed-by ")


async def test_the_link_to_v12_does_not_depend_on_arrival_order(corpus: Path, tmp_path: Path) -> None:
    threads = corpus / "kvm-x86-threads"
    in_order = await _views(tmp_path, [threads / HV_V12, threads / HV_V13], "a.db")
    reversed_ = await _views(tmp_path, [threads / HV_V13, threads / HV_V12], "b.db")

    def compared(views: list[SeriesView]) -> dict[str, tuple[str | None, bool | None, tuple[str, ...]]]:
        return {p.message_id: (p.previous, p.unchanged, p.changed_files) for v in views for p in v.patches}

    assert compared(in_order) == compared(reversed_)
    assert sum(1 for prev, _, _ in compared(in_order).values() if prev) >= 40


def test_series_jsonl_gives_previous_and_unchanged_per_patch(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    threads = corpus / "kvm-x86-threads"
    assert main(["series", "--jsonl", str(threads / HV_V12), str(threads / HV_V13)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    v12, v13 = sorted(rows, key=lambda r: r["version"])
    assert all(p["previous"] is None and p["unchanged"] is None for p in v12["patches"])
    v12_ids = {p["message_id"] for p in v12["patches"]}
    numbered = [p for p in v13["patches"] if p["index"]]
    assert all(p["previous"] is None or p["previous"] in v12_ids for p in numbered)
    assert {p["unchanged"] for p in numbered} == {True, False, None}  # None: new in v13
    assert all((p["previous"] is None) == (p["unchanged"] is None) for p in numbered)
