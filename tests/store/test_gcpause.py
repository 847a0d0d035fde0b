"""The bulk import's GC pause leaves the collector as it found it."""

from __future__ import annotations

import gc

from bot.store.gcpause import heap_frozen


def test_heap_frozen_freezes_for_the_block_only():
    if gc.get_freeze_count():  # something in this process froze the heap: start clean
        gc.unfreeze()
    with heap_frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_a_heap_the_host_froze_stays_frozen():
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        with heap_frozen():
            pass
        # Not unfrozen, nor frozen again (frozen objects may die meanwhile, in
        # other threads of the test process: the count may only fall).
        assert 0 < gc.get_freeze_count() <= before
    finally:
        gc.unfreeze()


def test_disabled_does_nothing():
    if gc.get_freeze_count():
        gc.unfreeze()
    with heap_frozen(False):
        assert gc.get_freeze_count() == 0


def test_the_collector_is_off_for_the_block_only():
    assert gc.isenabled()
    with heap_frozen():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_the_host_turned_off_stays_off():
    gc.disable()
    try:
        with heap_frozen():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
