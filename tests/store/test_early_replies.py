"""A review or "Applied" reply that arrives before its patch is kept in the
store and counted when the patch comes, on both ingest paths, across a restart."""

from __future__ import annotations

import pytest

from bot.store import Store

from .conftest import patch_body, raw_mail

SEAN = "Sean Christopherson <seanjc@google.com>"
PAOLO = "Paolo Bonzini <pbonzini@redhat.com>"

COVER = raw_mail("e-0@x", "[PATCH 0/2] KVM: x86: Early", body="Cover text.\n")
PATCHES = [
    raw_mail(f"e-{i}@x", f"[PATCH {i}/2] KVM: x86: Early part {i}", irt="e-0@x", at=i, body=patch_body(f"Part {i}"))
    for i in (1, 2)
]
REVIEW = raw_mail(
    "rv@x", "Re: [PATCH 2/2] KVM: x86: Early part 2", irt="e-2@x", refs=["e-0@x", "e-2@x"], author=SEAN, at=30,
    body="> quoted\n\nReviewed-by: Sean Christopherson <seanjc@google.com>\n",
)
# A reply to the review, with its own trailer: two levels below the patch.
ACK = raw_mail(
    "ak@x", "Re: [PATCH 2/2] KVM: x86: Early part 2", irt="rv@x", refs=["e-0@x", "e-2@x", "rv@x"], author=PAOLO,
    at=31, body="> quoted\n\nAcked-by: Paolo Bonzini <pbonzini@redhat.com>\n",
)
# b4's thank-you on the cover, naming patch 1 only.
APPLIED = raw_mail(
    "ap@x", "Re: [PATCH 0/2] KVM: x86: Early", irt="e-0@x", refs=["e-0@x"], author=SEAN, at=40,
    body="Applied to kvm-x86 misc, thanks!\n\n[1/2] KVM: x86: Early part 1\n"
    "      https://github.com/kvm-x86/linux/commit/0123456789ab\n",
)


async def _ingest(store: Store, raws: list[bytes], bulk: bool) -> None:
    if bulk:
        await store.ingest_many(raws, source="smtp")
    else:
        for raw in raws:
            await store.ingest(raw)


@pytest.mark.parametrize("bulk", [False, True], ids=["one-by-one", "group-commit"])
async def test_replies_before_their_patch_survive_a_restart(store_target, bulk: bool) -> None:  # type: ignore[no-untyped-def]
    store = await store_target.open()
    try:
        await _ingest(store, [REVIEW, ACK, APPLIED], bulk)
        assert await store.list_series() == []
    finally:
        await store.close()
    store = await store_target.open()  # the service restarted in between
    try:
        # Each patch in a commit of its own, as the SMTP sink would.
        for raw in [PATCHES[1], COVER, PATCHES[0]]:
            await _ingest(store, [raw], bulk)
        (view,) = await store.list_series()
        by_index = {p.index: p for p in view.patches}
        assert by_index[2].reviewed_by == (SEAN,)
        assert by_index[2].acked_by == (PAOLO,)
        assert by_index[1].reviewed_by == () and by_index[1].applied is not None
        assert by_index[2].applied is None
        assert view.applied_state == "partial"
    finally:
        await store.close()


# Applied notice naming both patches while only patch 1 is on the list: it
# waits (`pending_replies`) for patch 2.
APPLIED_BOTH = raw_mail(
    "ap2@x", "Re: [PATCH 0/2] KVM: x86: Early", irt="e-0@x", refs=["e-0@x"], author=SEAN, at=40,
    body="Applied to kvm-x86 misc, thanks!\n\n[1/2] KVM: x86: Early part 1\n"
    "      https://github.com/kvm-x86/linux/commit/0123456789ab\n"
    "[2/2] KVM: x86: Early part 2\n      https://github.com/kvm-x86/linux/commit/123456789abc\n",
)
OTHER = [
    raw_mail(f"o-{i}@x", f"[PATCH {i}/1] KVM: arm64: Other", irt=None if i == 0 else "o-0@x", at=50 + i,
             body="Cover.\n" if i == 0 else patch_body("Other"))
    for i in (0, 1)
]


async def test_a_waiting_notice_is_read_when_its_series_moves_not_at_every_commit(store_target) -> None:  # type: ignore[no-untyped-def]
    from bot.mail import parse_mail

    parsed: list[str] = []

    def counting(raw: bytes):  # type: ignore[no-untyped-def]
        mail = parse_mail(raw)
        parsed.append(mail.message_id)
        return mail

    store = await Store.open(store_target.url, schema=store_target.schema, parser=counting)
    try:
        await store.ingest_many([COVER, PATCHES[0], APPLIED_BOTH], source="smtp")
        (view,) = await store.list_series()
        assert view.applied_state == "partial"
    finally:
        await store.close()
    store = await Store.open(store_target.url, schema=store_target.schema, parser=counting)  # restarted
    try:
        parsed.clear()
        for raw in OTHER:  # group commits that do not touch the waiting series
            await store.ingest_many([raw], source="smtp")
        assert parsed == ["o-0@x", "o-1@x"]  # the waiting notice was not parsed again for them
        await store.ingest_many([PATCHES[1]], source="smtp")
        assert parsed[2:] == ["e-2@x", "ap2@x"]  # read (once) when its series moved
        view = next(v for v in await store.list_series() if v.title.endswith("Early"))
        assert [p.applied.commit for p in view.patches if p.index and p.applied] == ["0123456789ab", "123456789abc"]
        assert view.applied_state == "all"
    finally:
        await store.close()
