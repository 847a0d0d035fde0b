"""Raw bytes -> ParsedMail, and ParsedMail -> the JSON the parse command prints.

`parse_mail` never raises: a failure anywhere becomes kind=unparseable with
the error recorded (and a message-id, synthetic if need be). The hot path
works on bytes and decodes only what it reads; see headers/mime/diff.

A mail holding several patches (format-patch output pasted one after
another, or one attachment each) has one diffstat over all of them: when the
first patch's block disagrees with the whole diff, every patch's block is
read and merged (`_all_blocks`).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

from bot.mail.applied import parse_applied
from bot.mail.classify import classify, is_bot_sender
from bot.mail.construct import construct
from bot.mail.diff import (
    StatBlock,
    block_mismatches,
    compute_diffstat,
    find_diff,
    read_diffstat_block,
    separator_before,
)
from bot.mail.headers import (
    RawHeaders,
    clean_ascii_ids,
    dedupe,
    header_message_ids,
    header_text,
    looks_like_headers,
    normalise_message_id,
    parse_date,
    read_head,
    read_headers,
    received_date,
    remember,
    to_text,
)
from bot.mail.mime import read_body
from bot.mail.models import (
    Attachment,
    Diffstat,
    Kind,
    ParsedMail,
    Person,
    StableTag,
    Subject,
)
from bot.mail.people import parse_address_list, parse_person
from bot.mail.subject import parse_subject
from bot.mail.trailers import META_TAIL, ReplyScan, meta_tail_start, parse_trailers, scan_reply

SYNTHETIC_DOMAIN: Final = "kvm-patchbot.invalid"
# "Jane Doe via kvm" <kvm@vger...>: the list rewrote From for DMARC.
_VIA: Final = re.compile(r"\s+via\s+\S+\s*$", re.IGNORECASE)
_FORWARD_MARK: Final = re.compile(
    r"^(?:-{2,}\s*(?:Forwarded|Original)\s+[Mm]essage\s*-{2,}|Begin forwarded message:)",
    re.MULTILINE,
)
# Mailman's footer: a line of underscores, then the list's name and URL.
_LIST_FOOTER: Final = re.compile(r"^_{20,}\n[^\n]*(?:mailing list|@)", re.MULTILINE)
_MSGID_BYTES: Final = re.compile(rb"^message-id[ \t]*:[ \t]*<?([^\s<>]+@[^\s<>]+)>?", re.MULTILINE | re.IGNORECASE)
_NO_STABLE: Final = StableTag()
# Kind's members, read once: a read on the Enum class costs ~1k instructions
# (EnumType.__getattr__), and the parse makes several; compiled, a Final is
# a C static.
_PATCH: Final = Kind.PATCH
_COVER: Final = Kind.COVER
_PULL: Final = Kind.PULL
_REPLY: Final = Kind.REPLY
_BOT: Final = Kind.BOT
_BACKPORT: Final = Kind.BACKPORT
# Kernel mail repeats the same To/Cc lists and the same people endlessly;
# Person is frozen, so parsed values are shared. Bounded: cleared when full.
_CACHE_MAX: Final = 8192  # entries per cache: a few MB at most
_LIST_CACHE: Final[dict[bytes, tuple[Person, ...]]] = {}
_PERSON_CACHE: Final[dict[str, Person]] = {}
# From and List-Id values recur too (a few thousand senders, a few lists).
_AUTHOR_CACHE: Final[dict[bytes, Person]] = {}
_LIST_ID_CACHE: Final[dict[bytes, str | None]] = {}
_IDS_CACHE: Final[dict[bytes, tuple[str, ...]]] = {}
_IDS_CACHE_MAX: Final = 1024  # siblings arrive close together: 1k catches nearly all (46% of 47% on kvmarm)
_MISSING: Final = object()


def _build(**values: Any) -> ParsedMail:
    """ParsedMail from typed values (see `construct`: no validation, no per-field defaults)."""
    return construct(ParsedMail, values)


def synthetic_id(material: bytes) -> str:
    """A stable Message-ID for a mail that has none: a hash of its content."""
    return f"{hashlib.sha256(material).hexdigest()[:32]}@{SYNTHETIC_DOMAIN}"


def parse_mail(raw: bytes) -> ParsedMail:
    """Everything we can read from one raw mail. Never raises."""
    try:
        return _parse(raw)
    except Exception as exc:  # noqa: BLE001 - the contract is "never raise"
        return _unparseable(raw, f"{type(exc).__name__}: {exc}")


def _unparseable(raw: bytes, error: str, size: int | None = None) -> ParsedMail:
    """The smallest honest result: an id (found or synthetic), the size, the error."""
    msgid: str | None = None
    try:
        data = bytes(raw)
        m = _MSGID_BYTES.search(data[:65536])
        if m:
            msgid = m.group(1).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001
        data = b""
    if size is None:
        try:
            size = len(raw)
        except Exception:  # noqa: BLE001
            size = 0
    return ParsedMail(
        message_id=msgid or synthetic_id(data),
        synthetic_id=msgid is None,
        kind=Kind.UNPARSEABLE,
        size=size,
        errors=(error,),
    )


def _address_list(text: str) -> tuple[Person, ...]:
    """`people.parse_address_list`, with a fast path for the common plain lists.

    Without quotes or comments every comma separates two addresses, so the
    value can be split directly and each `Name <addr>` looked up in a cache.
    """
    if '"' in text or "(" in text:
        return parse_address_list(text)
    items = text.split(",")
    out: list[Person] = []
    for item in items:
        if "@" not in item:
            if not item.strip():
                continue
            return parse_address_list(text)  # a name-only fragment: merging rules
        person = _PERSON_CACHE.get(item)
        if person is None:
            person = parse_person(item)
            remember(_PERSON_CACHE, item, person, _CACHE_MAX)
        out.append(person)
    return tuple(out)


def _addresses(values: list[bytes], warnings: list[str]) -> tuple[Person, ...]:
    """Every person of the given To/Cc header values, in order."""
    if not values:
        return ()
    out: list[Person] = []
    for value in values:
        got = _LIST_CACHE.get(value)
        if got is None:
            local: list[str] = []
            got = _address_list(header_text(value, local))
            if local:
                warnings.extend(local)
            else:  # only clean values are shared, so warnings stay per mail
                remember(_LIST_CACHE, value, got, _CACHE_MAX)
        if len(values) == 1:
            return got
        out.extend(got)
    return tuple(out)


def _ids(value: bytes, warnings: list[str]) -> tuple[str, ...]:
    """`header_message_ids`, once per distinct value: replies to one mail share
    its References and In-Reply-To."""
    got = _IDS_CACHE.get(value)
    if got is None:
        local: list[str] = []
        got = tuple(header_message_ids(value, local))
        if local:
            warnings.extend(local)
        else:
            remember(_IDS_CACHE, value, got, _IDS_CACHE_MAX)
    return got


def _message_id(value: bytes, warnings: list[str]) -> str | None:
    """`normalise_message_id` of a raw value; a plain ASCII `<id>` skips decoding."""
    ids = None
    if value.isascii():
        text = value.decode("ascii")
        if "\x00" not in text:
            ids = clean_ascii_ids(text)
    return ids[0] if ids else normalise_message_id(header_text(value, warnings))


def _author(h: RawHeaders, warnings: list[str]) -> Person:
    value = h.first("from")
    if value is None:
        warnings.append("no From header")
        return Person()
    person = _AUTHOR_CACHE.get(value)
    if person is not None:
        return person
    local: list[str] = []
    person = parse_person(header_text(value, local))
    if local:
        warnings.extend(local)
    if person.name and _VIA.search(person.name):
        # DMARC munging: the list put its own address in From.
        for name in ("x-original-from", "reply-to"):
            other = h.first(name)
            if other is not None:
                real = parse_address_list(header_text(other, warnings))
                if len(real) == 1 and real[0].email:
                    return real[0]
        return Person(name=_VIA.sub("", person.name), email=person.email)
    if not local:  # only clean values are shared, so warnings stay per mail
        remember(_AUTHOR_CACHE, value, person, _CACHE_MAX)
    return person


def _date(h: RawHeaders, warnings: list[str]) -> Any:
    value = h.first("date")
    if value is not None:
        text = header_text(value, warnings)
        got = parse_date(text)
        if got is not None:
            return got
        warnings.append(f"unreadable Date {text[:80]!r}: using Received")
    else:
        warnings.append("no Date header: using Received")
    got = received_date(h.head)
    if got is None:
        warnings.append("no usable date")
    return got


def _list_id(h: RawHeaders, warnings: list[str]) -> str | None:
    value = h.first("list-id")
    if value is not None:
        got = _LIST_ID_CACHE.get(value, _MISSING)
        if got is not _MISSING:
            return got  # type: ignore[return-value]
        local: list[str] = []
        text = header_text(value, local)
        lt = text.rfind("<")
        if lt != -1:
            gt = text.find(">", lt)
            text = text[lt + 1 : gt if gt != -1 else len(text)]
        list_id = text.strip() or None
        if local:
            warnings.extend(local)
        else:
            remember(_LIST_ID_CACHE, value, list_id, _CACHE_MAX)
        return list_id
    value = h.first("x-mailing-list")
    if value is not None:
        addr = to_text(value).strip().strip("<>").strip()
        return addr.replace("@", ".") or None
    return None


def _strip_tail(text: str) -> str:
    """Text without the `-- ` signature and a mailing list's footer."""
    sig = text.find("\n-- \n")
    if sig != -1:
        text = text[: sig + 1]
    elif text.startswith("-- \n"):
        return ""
    if "____" in text:
        m = _LIST_FOOTER.search(text)
        if m:
            text = text[: m.start()]
    return text.rstrip() + "\n" if text.strip() else ""


def _computed(
    text: str, diff_pos: int, diff_parts: list[str], unknown: list[str], checked: bool
) -> Diffstat | None:
    """The diffstat of the inline diff and of every diff attachment, merged."""
    stats = []
    if diff_pos != -1:
        got = compute_diffstat(text, diff_pos, unknown, checked)
        if got is not None:
            stats.append(got)
    for part_text in diff_parts:
        got = compute_diffstat(part_text, find_diff(part_text), unknown, checked)
        if got is not None:
            stats.append(got)
    return _merge(stats)


def _blocks_of(text: str, first_diff: int, out: list[StatBlock]) -> None:
    """The diffstat block of every patch in `text` (several `format-patch`
    outputs pasted one after another): the block between each patch's `---`
    line and its first diff, in order."""
    prev = 0
    at = first_diff
    while at != -1:
        sep = separator_before(text, at, prev)
        if sep != -1:
            block = read_diffstat_block(text, sep, at)
            if block is not None:
                out.append(block)
        prev = at + 1
        at = find_diff(text, prev)


def _all_blocks(text: str, diff_pos: int, diff_parts: list[str]) -> StatBlock | None:
    """The diffstat blocks of every patch of the mail, inline and attached, as one."""
    blocks: list[StatBlock] = []
    if diff_pos != -1:
        _blocks_of(text, diff_pos, blocks)
    for part_text in diff_parts:
        _blocks_of(part_text, find_diff(part_text), blocks)
    if not blocks:
        return None
    if len(blocks) == 1:
        return blocks[0]
    return StatBlock(
        sum(b.files for b in blocks),
        sum(b.insertions for b in blocks),
        sum(b.deletions for b in blocks),
        [line for b in blocks for line in b.lines],
    )


def _merge(stats: list[Diffstat]) -> Diffstat | None:
    if not stats:
        return None
    if len(stats) == 1:
        return stats[0]
    per_file = tuple(e for s in stats for e in s.per_file)
    return Diffstat(
        files=sum(s.files for s in stats),
        insertions=sum(s.insertions for s in stats),
        deletions=sum(s.deletions for s in stats),
        per_file=per_file,
    )


def _parse(raw: bytes) -> ParsedMail:
    size = len(raw)
    # (bytes.find, not `in`: see headers.header_text)
    if raw.find(b"\r") != -1:
        raw = raw.replace(b"\r\n", b"\n")
    head, body_bytes, h = read_head(raw)
    warnings: list[str] = []
    errors: list[str] = []
    if not looks_like_headers(head):
        return _unparseable(raw, "no mail header block found", size)
    if head.find(b"\x00") != -1:
        warnings.append("NUL bytes in the headers")
        head = head.replace(b"\x00", b"")
        h = read_headers(head)
    warnings.extend(h.warnings)

    # Identity and threading.
    ids = h.all("message-id")
    msgid = _message_id(ids[0], warnings) if ids else None
    if len(ids) > 1:
        warnings.append(f"{len(ids)} Message-ID headers: the first is used")
    irt_values = h.all("in-reply-to")
    irt: list[str] = []
    for v in irt_values:
        irt.extend(_ids(v, warnings))
    irt_ids = dedupe(irt)
    if len(irt_ids) > 1:
        warnings.append(f"{len(irt_ids)} In-Reply-To ids: the first is used")
    refs: list[str] = []
    for v in h.all("references"):
        refs.extend(_ids(v, warnings))
    references = dedupe(refs)

    subjects = h.all("subject")
    subject_text = header_text(subjects[0], warnings) if subjects else ""
    if len(subjects) > 1:
        warnings.append(f"{len(subjects)} Subject headers: the first is used")
    subject = parse_subject(subject_text) if subject_text else Subject()

    author = _author(h, warnings)
    date = _date(h, warnings)
    to = _addresses(h.all("to"), warnings)
    cc = _addresses(h.all("cc"), warnings)
    list_id = _list_id(h, warnings)

    # Body and attachments.
    ctype = h.first("content-type")
    cte = h.first("content-transfer-encoding")
    disp = h.first("content-disposition")
    body = read_body(
        header_text(ctype, warnings) if ctype else "",
        to_text(cte).strip() if cte else "",
        header_text(disp, warnings) if disp else "",
        body_bytes,
        warnings,
    )
    text = body.text

    attachments: list[Attachment] = []
    diff_parts: list[str] = []
    for part in body.parts:
        is_diff = part.text is not None and find_diff(part.text) != -1
        if is_diff:
            diff_parts.append(part.text)  # type: ignore[arg-type]
        attachments.append(
            Attachment(
                filename=part.filename, content_type=part.content_type, size=part.size, is_diff=is_diff
            )
        )

    # A reply (what `classify` will say, from the subject and the sender):
    # one pass over its lines answers the diff, trailer and notice scans.
    scan: ReplyScan | None = None
    if (subject.is_reply or subject.is_forward) and not subject.bot_report and not is_bot_sender(author):
        scan = scan_reply(text)
        diff_pos = scan.diff
    else:
        diff_pos = find_diff(text)
    forwarded = subject.is_forward
    if (
        diff_pos != -1
        and not forwarded
        # (a mark holds one of these words; only the text above the diff is read)
        and (text.find("orwarded", 0, diff_pos) != -1 or text.find("riginal", 0, diff_pos) != -1)
        and _FORWARD_MARK.search(text, 0, diff_pos)
    ):
        forwarded = True
        warnings.append("diff inside a forwarded message: not a patch")
    if forwarded:
        diff_parts = []
    has_diff = not forwarded and (diff_pos != -1 or bool(diff_parts))
    in_reply_to = irt_ids[0] if irt_ids else None
    kind, carries_patch = classify(subject, has_diff=has_diff, in_reply_to=in_reply_to, author=author)
    shape = kind
    if kind is _BACKPORT:
        # Read as the patch or cover it is; only its kind tells it apart.
        shape = _COVER if subject.index == 0 else _PATCH
    if shape is _COVER:
        has_diff = False  # an interdiff/range-diff is not the series' change

    # Diffstats: the block as written, and the one computed from the diff.
    block: StatBlock | None = None
    computed: Diffstat | None = None
    diffstat: Diffstat | None = None
    unknown: list[str] = []  # files deleted with format-patch -D: counts not in the diff
    commit_message = ""
    if has_diff:
        end = diff_pos if diff_pos != -1 else len(text)
        sep = separator_before(text, end)
        block = read_diffstat_block(text, max(sep, 0), end)
        if block is None:
            for part_text in diff_parts:
                block = read_diffstat_block(part_text, 0, find_diff(part_text))
                if block is not None:
                    break
        # With a block to check against, the cheaper unchecked count will do;
        # any disagreement is recounted in full before it is reported.
        computed = _computed(
            text, diff_pos, diff_parts, unknown, checked=block is None or shape is _PULL
        )
        if block is not None and computed is not None and shape is not _PULL:
            # (a pull request's diffstat covers the whole pull, its diff often less)
            problems = block_mismatches(block, computed, unknown)
            if problems:
                unknown.clear()
                computed = _computed(text, diff_pos, diff_parts, unknown, checked=True)
                # Several patches in one mail (pasted inline or attached)
                # each carry a block: the mail's diffstat is all of them.
                every = _all_blocks(text, diff_pos, diff_parts)
                if every is not None:
                    block = every
                problems = block_mismatches(block, computed, unknown) if computed is not None else []
                if problems:
                    warnings.append("diffstat block disagrees with the diff: " + "; ".join(problems[:5]))
            if not problems and not unknown:
                diffstat = computed  # the same, with exact per-file counts and full paths
        if shape is _PATCH:
            if sep == -1 and diff_pos == -1:
                commit_message = _strip_tail(text)
            else:
                commit_message = text[: sep if sep != -1 else end].rstrip() + "\n"
        elif shape is _PULL:
            commit_message = _strip_tail(text[:end])
    elif shape is _COVER or shape is _PULL:
        commit_message = _strip_tail(text)
        block = read_diffstat_block(commit_message) if shape is _COVER else None
    elif shape is _PATCH:
        commit_message = _strip_tail(text)

    if diffstat is None and block is not None:
        diffstat = block.to_diffstat()
    if computed is not None:
        files = tuple(e.path for e in computed.per_file)
    elif diffstat is not None:
        files = tuple(e.path for e in diffstat.per_file)
    else:
        files = ()

    # Trailers (commit-message rules for patches and covers, reply rules else).
    tb = None
    if shape is _PATCH or shape is _COVER or shape is _PULL:
        trailer_text = text
        if diff_pos > 0:
            # Trailers end before the diff; b4's metadata may follow it (read
            # only in its trailing block, see `meta_tail_start`), else the
            # (often large) diff need not be read again.
            tail = len(text) - META_TAIL
            tail = diff_pos if tail <= diff_pos else max(diff_pos, meta_tail_start(text))
            if text.find("base-commit:", tail) == -1 and text.find("change-id:", tail) == -1:
                trailer_text = text[:diff_pos]
        tb = parse_trailers(trailer_text)
    elif kind is _REPLY or kind is _BOT:
        tb = parse_trailers(text, reply=True, scan=scan)
    applied = parse_applied(text, scan.verb_line if scan is not None else None) if kind is _REPLY else None
    if tb is not None and tb.warnings:
        warnings.extend(tb.warnings)

    if msgid is None:
        warnings.append("no Message-ID: a synthetic one was derived from the content")
        material = b"\0".join(
            (h.first("from") or b"", h.first("date") or b"", h.first("subject") or b"", body_bytes)
        )
    return _build(
        message_id=msgid if msgid is not None else synthetic_id(material),
        synthetic_id=msgid is None,
        in_reply_to=in_reply_to,
        references=references,
        author=author,
        date=date,
        to=to,
        cc=cc,
        list_id=list_id,
        subject=subject,
        kind=kind,
        backport_to=subject.stable_targets if kind is _BACKPORT else (),
        body=text,
        commit_message=commit_message,
        trailers=tb.trailers if tb is not None else (),
        fixes=tb.fixes if tb is not None else (),
        stable=tb.stable if tb is not None else _NO_STABLE,
        change_id=tb.change_id if tb is not None else None,
        base_commit=tb.base_commit if tb is not None else None,
        previous_versions=tb.previous_versions if tb is not None else (),
        diffstat=diffstat,
        diffstat_computed=computed,
        files=files,
        has_diff=has_diff,
        carries_patch=carries_patch,
        attachments=tuple(attachments),
        applied=applied,
        size=size,
        errors=tuple(errors),
        warnings=tuple(warnings),
    )


# --- JSON -----------------------------------------------------------------------


def _diffstat_json(ds: Diffstat | None) -> dict[str, Any] | None:
    if ds is None:
        return None
    return {
        "files": ds.files,
        "insertions": ds.insertions,
        "deletions": ds.deletions,
        "per_file": [
            {
                "path": e.path,
                "insertions": e.insertions,
                "deletions": e.deletions,
                **({"binary": True} if e.binary else {}),
                **({"old_path": e.old_path} if e.old_path else {}),
            }
            for e in ds.per_file
        ],
    }


def to_json(mail: ParsedMail) -> dict[str, Any]:
    """The flat JSON object `kvm-patchbot parse` prints for one mail.

    `diffstat` is the mail's diffstat block when it has one, else the one
    computed from the diff (null without a diff); `diffstat_computed` is
    always the computed one.
    """
    s = mail.subject
    applied = mail.applied
    return {
        "message_id": mail.message_id,
        "synthetic_id": mail.synthetic_id,
        "kind": mail.kind.value,
        "backport_to": list(mail.backport_to),
        "subject": s.raw,
        "title": s.title,
        "subsystem": s.subsystem,
        "prefixes": list(s.prefixes),
        "tags": list(s.tags),
        "version": s.version,
        "version_label": s.version_label,
        "index": s.index,
        "total": s.total,
        "rfc": s.rfc,
        "resend": s.resend,
        "is_reply": s.is_reply,
        "is_forward": s.is_forward,
        "subset": s.subset,
        "pull": s.pull,
        "bot_report": s.bot_report,
        "autosel": s.autosel,
        "stable_backport": s.stable_backport,
        "stable_targets": list(s.stable_targets),
        "author": {"name": mail.author.name, "email": mail.author.email},
        "date": mail.date.isoformat() if mail.date else None,
        "in_reply_to": mail.in_reply_to,
        "references": list(mail.references),
        "list_id": mail.list_id,
        "to": [{"name": p.name, "email": p.email} for p in mail.to],
        "cc": [{"name": p.name, "email": p.email} for p in mail.cc],
        "fixes": [{"sha": f.sha, "subject": f.subject} for f in mail.fixes],
        "stable": {
            "tagged": mail.stable.tagged,
            "versions": list(mail.stable.versions),
            "noautosel": mail.stable.noautosel,
            "prerequisites": list(mail.stable.prerequisites),
            "embargoed": mail.stable.embargoed,
        },
        "trailers": [{"name": t.name, "value": t.value, "extra": t.extra} for t in mail.trailers],
        "change_id": mail.change_id,
        "base_commit": mail.base_commit,
        "previous_versions": list(mail.previous_versions),
        "diffstat": _diffstat_json(mail.diffstat or mail.diffstat_computed),
        "diffstat_computed": _diffstat_json(mail.diffstat_computed),
        "files": list(mail.files),
        "has_diff": mail.has_diff,
        "carries_patch": mail.carries_patch,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size, "is_diff": a.is_diff}
            for a in mail.attachments
        ],
        "applied": None
        if applied is None
        else {
            "tree": applied.tree,
            "branch": applied.branch,
            "where": applied.where,
            "indices": list(applied.indices),
            "commits": [{"index": c.index, "title": c.title, "commit": c.commit} for c in applied.commits],
        },
        "size": mail.size,
        "errors": list(mail.errors),
        "warnings": list(mail.warnings),
    }
