"""Subject lines taken apart: reply markers, bracketed prefixes, counters, title.

Input is already unfolded and RFC 2047 decoded. The steps, in order:

1. Leading reply/forward markers (`Re:`, `Aw:`, `Re[2]:`, `Fwd:`, ...) are
   stripped, repeatedly, and so is b4's `(subset)` after a marker (`b4 ty`
   thanking for part of a series: `Re: (subset) [PATCH v2 0/5] ...`); a mailing-list tag such as `[Qemu-devel]` in front of
   them (or in front of the prefixes) is dropped as well. A marker needs its
   colon, so `[PATCH] Re-add the foo` is not a reply.
2. Every leading `[...]` group is a prefix group (`[PATCH v3 3/8] [not for
   merge]` has two); brackets later in the title stay in the title. Groups are
   split into tokens on whitespace and commas, and glued forms are taken apart
   (`PATCHv2`, `PATCH1/8`, `RFCv2`, `RFC-PATCH`, `RFC/PATCH`, `1 of 2`).
3. Tokens are classified: keywords (PATCH, RFC, RESEND, GIT PULL, AUTOSEL,
   stable), `vN`/`vN.M` versions, `n/N` counters, stable targets (`6.1.y`,
   `6.12`), and anything else: a project/tree tag when it is one word
   (`kvm-unit-tests`, `net-next`, `-next`, `GSoC`), or one free-text prefix
   when a group is only words (`[not for merge]`).
4. Bot reports (`[syzbot]`, 0-day/LKP `[tree:branch ...]` with no PATCH
   keyword) are flagged; their counters are dropped so they never look like a
   series (the token stays in `prefixes`).
5. A trailing `(v3)` in the title gives the version when the prefixes had
   none and is removed from the title.

Subsystem rule: the title's leading chain of `word:` components (a component
has no spaces). A title starting with `KVM:` keeps the pair `KVM: <next>`
(`KVM: x86/mmu: Fix` -> `KVM: x86/mmu`, `KVM: selftests: Baz` -> `KVM:
selftests`, `KVM: Add foo` -> `KVM`; `kvm:` is spelled `KVM`, so filters
match either); any other title takes its first
component (`x86/irq: KVM: Optimize` -> `x86/irq`). None when the title does
not start with such a component, and for bot reports.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final, NamedTuple

from bot.mail.construct import construct
from bot.mail.models import Subject

# Reply and forward markers in the languages seen on kernel lists; an optional
# `[2]`/`(2)` counter (Re[2]:) and a space before the colon (French) allowed.
_MARKER: Final = re.compile(
    r"(re|aw|sv|vs|odp|antw|antwort|ref|r[ée]f|rif|ynt|atb|回复|回覆|答复"
    r"|fwd|fw|wg|tr|vb|enc|doorst|转发)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)
_FORWARDS: Final = frozenset({"fwd", "fw", "wg", "tr", "vb", "enc", "doorst", "转发"})
# Mailman list tags put in front of the subject by the list, not the author.
_LIST_TAG: Final = re.compile(r"\[([\w.-]+-(?:devel|users|discuss|list)|kvm|kvmarm)\]\s*", re.IGNORECASE)

_VERSION: Final = re.compile(r"[vV](\d+(?:\.\d+)*)")
_COUNTER: Final = re.compile(r"(\d{1,4})/(\d{1,4})")
_STABLE_TARGET: Final = re.compile(r"(?:linux-|stable-|for-stable-)?v?(\d+\.\d+(?:\.y|\.\d+)?)(?:[.-]stable|[.-]y)?")
_TREE_BRANCH: Final = re.compile(r"[\w.-]+:[\w./-]*")
_TAG: Final = re.compile(r"-?[A-Za-z0-9][\w.+:/-]*\??")
_TRAILING_VERSION: Final = re.compile(r"\s*\((?:v|ver\.?\s*|version\s*)(\d+(?:\.\d+)*)\)\s*$", re.IGNORECASE)
_COMPONENT_WORD: Final = re.compile(r"[A-Za-z0-9_][\w./+-]*")
# A component: such a word up to the first colon, then the end or spaces.
_COMPONENT: Final = re.compile(r"([A-Za-z0-9_][\w./+-]*):(?: +|\Z)")

_KEYWORDS: Final = {
    "PATCH": "PATCH",
    "PATCHES": "PATCH",
    "PATCHSET": "PATCH",
    "RFC": "RFC",
    "RESEND": "RESEND",
    "GIT": "GIT",
    "PULL": "PULL",
    "AUTOSEL": "AUTOSEL",
    "MANUALSEL": "MANUALSEL",  # a stable backport picked by hand
    "STABLE": "stable",
}
_JOINERS: Final = re.compile(r"[-/:]")
_QUALIFIERS: Final = frozenset(("RFT",))
# Keywords that may be glued to what follows (PATCHv2, RFC-PATCH, PATCH1/8).
_GLUEABLE: Final = ("PATCH", "RFC", "RESEND")
# Single words that qualify a posting but are not a project or tree.
_NOT_TAGS: Final = frozenset(
    "RFT WIP DRAFT TEST TESTING DNM FYI POC URGENT FIX FIXES BUGFIX TRIVIAL REPOST "
    "UPDATE UPDATED INCREMENTAL FOLLOWUP FOLLOW-UP PREVIEW EXAMPLE QUESTION BUG "
    "REGRESSION REPORT ANNOUNCE ANN REQUEST DISCUSSION REVIEW OF FOR".split()
)


def version_key(version: int, label: str | None = None) -> tuple[int, ...]:
    """A sort key for versions: (5,) < (5, 1) < (5, 5) < (6,)."""
    if label:
        try:
            return tuple(int(part) for part in label.split("."))
        except ValueError:
            pass
    return (version,)


def subject_version_key(subject: Subject) -> tuple[int, ...]:
    return version_key(subject.version, subject.version_label)


def _strip_reply(text: str) -> tuple[str, bool, bool, bool]:
    """Drop leading reply/forward markers, list tags and b4's `(subset)`;
    return (rest, reply, forward, subset)."""
    reply = forward = subset = False
    while text:
        if text[0] == "(" and reply and text[:9].lower() == "(subset) ":
            # `b4 ty` thanks for part of a series: `Re: (subset) [PATCH v2 0/5] ...`
            subset = True
            text = text[9:].lstrip()
            continue
        if text.startswith("**"):
            # Filters on the way add `***SPAM***` or `** POTENTIAL FRAUD ALERT - RED HAT **`
            end = text.find("**", 2)
            if end != -1:
                text = text[end:].lstrip("*").lstrip()
                continue
        # A marker's colon comes within the first few characters (`Antwort[12]:`).
        m = _MARKER.match(text) if (":" in text[:14] or "：" in text[:14]) else None
        if m:
            reply = True
            if m.group(1).lower() in _FORWARDS:
                forward = True
            text = text[m.end() :]
            continue
        if text[0] == "[":
            m = _LIST_TAG.match(text)
            if m:
                text = text[m.end() :]
                continue
            # `[Anything] Re: ...`: a list tag in front of a reply marker.
            close = text.find("]")
            if close > 0:
                after = text[close + 1 :].lstrip()
                inner = text[1:close].upper()
                if "PATCH" not in inner and _MARKER.match(after):
                    text = after
                    continue
        break
    return text, reply, forward, subset


def _split_glued(tok: str) -> list[str]:
    """Take apart PATCHv2, PATCH1/8, RFCv2, RFC-PATCH, RFC/PATCH, v3-resend."""
    upper = tok.upper()
    for kw in _GLUEABLE:
        if upper.startswith(kw) and len(tok) > len(kw) and upper not in _KEYWORDS:
            rest = tok[len(kw) :].lstrip("-/_:")
            if rest and (
                _VERSION.fullmatch(rest) or _COUNTER.fullmatch(rest) or rest.upper().split("-")[0].split("/")[0] in _KEYWORDS
            ):
                return [kw, *_split_glued(rest)]
    if ("-" in tok or "/" in tok or ":" in tok) and not _COUNTER.fullmatch(tok):
        # RFC/RFT, stable:PATCH, v3-resend; but never kvm-unit-tests or s390:features
        parts = _JOINERS.split(tok)
        if len(parts) > 1 and all(
            p and (p.upper() in _KEYWORDS or p.upper() in _QUALIFIERS or _VERSION.fullmatch(p)) for p in parts
        ) and any(p.upper() in _KEYWORDS or _VERSION.fullmatch(p) for p in parts):
            return parts
    return [tok]


def _tokens(group: str) -> list[str]:
    out: list[str] = []
    for raw in group.replace(",", " ").split():
        if len(raw) > 2 and raw[0] == "(" and raw[-1] == ")":
            raw = raw[1:-1]  # `[PATCH V5 (RESEND) 0/4]`
        out.extend(_split_glued(raw))
    # `1 of 2` -> `1/2`
    i = 0
    while i + 2 < len(out):
        if out[i].isdigit() and out[i + 1].lower() == "of" and out[i + 2].isdigit():
            out[i : i + 3] = [f"{out[i]}/{out[i + 2]}"]
        i += 1
    return out


class _Group(NamedTuple):
    """What one bracket group says (cached: the same groups recur on every list)."""

    prefixes: tuple[str, ...]
    tags: tuple[str, ...]
    targets: tuple[str, ...]
    version: str | None  # as written after the `v`: "3", "5.5"
    counter: tuple[int, int] | None
    flags: frozenset[str]  # patch rfc resend pull autosel stable bot


# The usual group, `[RFC PATCH v3 12/21]` or a part of it: read directly (what
# the token rules below give for it, without them).
_PLAIN_GROUP: Final = re.compile(r"(RFC )?PATCH(?: ([vV](\d+(?:\.\d+)*)))?(?: ((\d{1,4})/(\d{1,4})))?")
_PATCH_FLAGS: Final = frozenset(("patch",))
_RFC_PATCH_FLAGS: Final = frozenset(("rfc", "patch"))


def _plain_group(m: re.Match[str]) -> _Group:
    rfc, written_version, version, counter, index, total = m.groups()
    prefixes = ["RFC", "PATCH"] if rfc else ["PATCH"]
    if written_version:
        prefixes.append("v" + version)
    if counter:
        prefixes.append(counter)
    return _Group(
        tuple(prefixes),
        (),
        (),
        version,
        (int(index), int(total)) if counter else None,
        _RFC_PATCH_FLAGS if rfc else _PATCH_FLAGS,
    )


_FLAG_OF: Final = {"PATCH": "patch", "RFC": "rfc", "RESEND": "resend", "PULL": "pull", "AUTOSEL": "autosel", "stable": "stable"}


@lru_cache(maxsize=4096)
def _analyse_group(group: str, first: bool) -> _Group:
    m = _PLAIN_GROUP.fullmatch(group)
    if m:
        return _plain_group(m)
    return _analyse_tokens(group, first)


def _analyse_tokens(group: str, first: bool) -> _Group:
    """What a group says, token by token (the general rules)."""
    toks = _tokens(group)
    known = [t for t in toks if t.upper() in _KEYWORDS or _VERSION.fullmatch(t) or _COUNTER.fullmatch(t)]
    if not known and (len(toks) > 2 or (len(toks) == 2 and all(t.isalpha() and t.islower() for t in toks))):
        # A free-text group such as `[not for merge]`, `[Question about KVM on arm64]`:
        # one prefix, not tags.
        return _Group((" ".join(toks),), (), (), None, None, frozenset())
    prefixes: list[str] = []
    tags: list[str] = []
    targets: list[str] = []
    flags: set[str] = set()
    version: str | None = None
    counter: tuple[int, int] | None = None
    if first and toks:
        if toks[0].lower() == "syzbot" or (
            _TREE_BRANCH.fullmatch(toks[0]) and not any(t.upper() == "PATCH" for t in toks)
        ):
            flags.add("bot")
    j = 0
    while j < len(toks):
        tok = toks[j]
        j += 1
        up = tok.upper()
        kw = _KEYWORDS.get(up)
        if kw:
            prefixes.append(kw)
            flag = _FLAG_OF.get(kw)
            if flag:
                flags.add(flag)
            if kw == "AUTOSEL" or kw == "MANUALSEL":
                flags.add("stable")
            elif kw == "stable":
                tags.append(kw)
            continue
        if j >= 2 and toks[j - 2].upper() == "STABLE" and "." in tok:
            m = _STABLE_TARGET.fullmatch(tok)
            if m:  # `[PATCH stable v4.9 v2]`: the tree, not the patch version
                prefixes.append(tok)
                targets.append(m.group(1))
                continue
        m = _VERSION.fullmatch(tok)
        if m:
            prefixes.append("v" + m.group(1))
            version = version or m.group(1)
            continue
        m = _COUNTER.fullmatch(tok)
        if m:
            prefixes.append(tok)
            counter = counter or (int(m.group(1)), int(m.group(2)))
            continue
        if up == "FOR" and j < len(toks):
            # `for 6.10`, `for next`: a phrase, not a stable target.
            prefixes.append(f"{tok} {toks[j]}")
            j += 1
            continue
        m = _STABLE_TARGET.fullmatch(tok)
        if m:
            prefixes.append(tok)
            targets.append(m.group(1))
            flags.add("stable")
            continue
        prefixes.append(tok)
        if _TAG.fullmatch(tok) and up not in _NOT_TAGS:
            tags.append(tok)
    return _Group(tuple(prefixes), tuple(tags), tuple(targets), version, counter, frozenset(flags))


def _component(title: str, pos: int) -> tuple[str, int] | None:
    """The `word:` component starting at `pos` and where the next one starts."""
    m = _COMPONENT.match(title, pos)
    return (m.group(1), m.end()) if m else None


def _subsystem(title: str) -> str | None:
    first = _component(title, 0)
    if first is None:
        return None
    if first[0].upper() == "KVM":
        second = _component(title, first[1])
        if second is not None:
            return f"KVM: {second[0]}"
        return "KVM"
    return first[0]


@lru_cache(maxsize=8192)
def parse_subject(raw: str) -> Subject:
    """Parse one decoded, unfolded subject line. Never raises."""
    text = " ".join(raw.split())
    text, is_reply, is_forward, subset = _strip_reply(text)
    core = _parse_core(text)
    if raw == core.raw and not is_reply and not is_forward:
        return core
    # `Re: [PATCH v3 1/2] foo` shares everything but these with its patch's subject.
    values = dict(core.__dict__)
    values["raw"] = raw
    values["is_reply"] = is_reply or core.is_reply
    values["is_forward"] = is_forward
    values["subset"] = subset
    return construct(Subject, values)


@lru_cache(maxsize=8192)
def _parse_core(text: str) -> Subject:
    """The subject after its reply markers: raw is `text`, is_forward False."""
    raw = text
    is_reply = is_forward = False

    groups: list[str] = []
    while text.startswith("["):
        close = text.find("]")
        if close == -1:
            break
        groups.append(text[1:close])
        text = text[close + 1 :].lstrip()
        if not text.startswith("["):
            # A `Re:` after the prefixes (`[PATCH] Re: [PATCH] ...`) is odd but seen.
            m = _MARKER.match(text) if groups else None
            if m and text[m.end() :].startswith("["):
                is_reply = True
                text = text[m.end() :]
    # `[Patch 2/2]: powerpc/foo` and `[PATCH] - foo`: separator after the prefixes.
    if groups and text[:1] in (":", "-") and text[1:2] in (" ", ""):
        text = text[1:].lstrip()

    prefixes: list[str] = []
    tags: list[str] = []
    targets: list[str] = []
    flags: set[str] = set()
    version_text: str | None = None
    counter: tuple[int, int] | None = None
    for gi, group in enumerate(groups):
        info = _analyse_group(group, gi == 0)
        prefixes.extend(info.prefixes)
        tags.extend(info.tags)
        targets.extend(info.targets)
        flags |= info.flags
        version_text = version_text or info.version
        counter = counter or info.counter
    version: int | None = None
    label: str | None = None
    if version_text:
        version = int(version_text.split(".")[0])
        label = version_text if "." in version_text else None
    index, total = counter if counter else (None, None)
    bot = "bot" in flags
    stable = "stable" in flags

    m = _TRAILING_VERSION.search(text) if text.endswith(")") else None
    if m and m.start() > 0:
        if version is None:
            num = m.group(1)
            version = int(num.split(".")[0])
            label = num if "." in num else None
        text = text[: m.start()]
    text = text.strip()

    if bot:
        index = total = None
        targets = []
        stable = False
    counters_or_version = index is not None or version is not None
    # Every value below is already of its field's type: no validation needed.
    return construct(
        Subject,
        {
            "raw": raw,
            "title": text,
            "subsystem": None if bot else _subsystem(text),
            "prefixes": tuple(prefixes),
            "tags": tuple(tags),
            "version": version if version is not None else 1,
            "version_label": label,
            "index": index,
            "total": total,
            "rfc": "rfc" in flags,
            "resend": "resend" in flags,
            "is_reply": is_reply,
            "is_forward": is_forward,
            "subset": False,
            "is_patch": "patch" in flags or (counters_or_version and "pull" not in flags and not bot),
            "pull": "pull" in flags,
            "bot_report": bot,
            "autosel": "autosel" in flags,
            "stable_backport": stable,
            "stable_targets": tuple(targets),
        },
    )
