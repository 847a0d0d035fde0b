"""A title as the search indexes see it (migration 0005): its words, pure.

A word is a run of letters and digits, lowercased and not stemmed, which is
how both SQLite's FTS5 (unicode61) and our PostgreSQL tsvector expression
split "KVM: x86/mmu: Harvest PIR" into kvm, x86, mmu, harvest, pir. The
subscription filter's `title_words` use the same words, so `/subscribe
title:` and `/series search` agree on what a title holds.
"""

from __future__ import annotations

import re

WORD = re.compile(r"[^\W_]+")


def title_words(text: str) -> tuple[str, ...]:
    return tuple(WORD.findall(text.lower()))
