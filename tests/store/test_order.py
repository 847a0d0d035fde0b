"""Through the Store, arrival order changes neither series nor trailers."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.store import Store

from tests.helpers import raw_mail, series_mails

SEAN = "Sean Christopherson <seanjc@google.com>"
PAOLO = "Paolo Bonzini <pbonzini@redhat.com>"

MAILS = series_mails("PATCH", 2, "Order", tag="o") + [
    raw_mail("r2@x", "Re: [PATCH 2/2] KVM: x86: Order part 2", irt="o-2@x", refs=["o-0@x"], author=SEAN, at=10,
             body="> quoted\n\nReviewed-by: Sean Christopherson <seanjc@google.com>\n"),
    raw_mail("r2b@x", "Re: [PATCH 2/2] KVM: x86: Order part 2", irt="r2@x", refs=["o-0@x", "o-2@x"], author=PAOLO,
             at=11, body="> quoted\n\nAcked-by: Paolo Bonzini <pbonzini@redhat.com>\n"),
    raw_mail("r0@x", "Re: [PATCH 0/2] KVM: x86: Order", irt="o-0@x", author=PAOLO, at=12,
             body="Tested-by: Paolo Bonzini <pbonzini@redhat.com>\n"),
]


async def _summary(order: list[int], bulk: bool) -> list[tuple]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'o.db'}")
        try:
            if bulk:
                await store.ingest_many([MAILS[i] for i in order], source="mbox", batch_size=2)
            else:
                for i in order:
                    await store.ingest(MAILS[i])
            (view,) = await store.list_series()
            return [(p.index, p.reviewed_by, p.acked_by, p.tested_by) for p in view.patches]
        finally:
            await store.close()


EXPECTED = [
    (0, (), (), ("Paolo Bonzini <pbonzini@redhat.com>",)),
    (1, (), (), ("Paolo Bonzini <pbonzini@redhat.com>",)),
    (2, (SEAN,), (PAOLO,), ("Paolo Bonzini <pbonzini@redhat.com>",)),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(range(len(MAILS))), st.booleans())
async def test_trailers_do_not_depend_on_arrival_order(order, bulk):
    assert await _summary(list(order), bulk) == EXPECTED


TWO_REVIEWS = series_mails("PATCH", 1, "Twice", tag="w") + [
    raw_mail("w-sean@x", "Re: [PATCH 1/1] KVM: x86: Twice part 1", irt="w-1@x", author=SEAN, at=10,
             body="Reviewed-by: Sean Christopherson <seanjc@google.com>\n"),
    raw_mail("w-paolo@x", "Re: [PATCH 1/1] KVM: x86: Twice part 1", irt="w-1@x", author=PAOLO, at=20,
             body="Reviewed-by: Paolo Bonzini <pbonzini@redhat.com>\n"),
]


async def test_reviews_are_listed_in_the_order_they_were_given_not_received() -> None:
    """Two reviews of one patch: Sean's (dated first) is listed first, whichever came in first."""
    for order in ([0, 1, 2, 3], [0, 1, 3, 2], [3, 2, 1, 0]):
        with tempfile.TemporaryDirectory() as tmp:
            store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'o.db'}")
            try:
                for i in order:
                    await store.ingest(TWO_REVIEWS[i])
                (view,) = await store.list_series()
                patch = next(p for p in view.patches if p.index == 1)
                assert patch.reviewed_by == (SEAN, PAOLO), order
                assert [t.giver for t in patch.trailers] == [SEAN, PAOLO], order
            finally:
                await store.close()
