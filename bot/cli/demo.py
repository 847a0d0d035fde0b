"""`kvm-patchbot demo [PATH...]`: the whole service once, on sample mail, in preview.

Starts the real service (store, SMTP sink, delivery in preview mode) on the
embedded defaults inside a temporary directory, sends the mails through the
SMTP sink with smtplib, waits until every resulting event has been previewed,
prints the cards as they ended up (after edits) with their thread messages,
and stops. Default mail: the 18 seed mails, in arrival order.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import functools
import io
import json
import logging
import re
import smtplib
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.app import App
from bot.config import load_settings
from bot.ingest.record import SourceError
from bot.ingest.sources import iter_paths
from bot.notify.models import Post
from bot.notify.preview import post_text

SEED = Path(__file__).resolve().parents[2] / "tests" / "data" / "seed"
IDLE_TIMEOUT = 120.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the service on sample mail and print the cards it would post")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                   help="mail to send (.eml, mbox, directory); default: the 18 seed mails")
    p.add_argument("--config", type=Path, help="TOML settings file (store and preview go to a temp dir)")
    p.add_argument("--here", action="store_true",
                   help="use the configured store and preview file instead of a temporary directory")
    p.set_defaults(func=_run)


def seed_mails(seed: Path = SEED) -> list[bytes]:
    """The seed mails in INDEX.tsv arrival order."""
    with (seed / "INDEX.tsv").open(encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh, delimiter="\t"), key=lambda r: int(r["arrival"]))
    return [(seed / r["file"]).read_bytes() for r in rows]


def mails_from(paths: list[Path]) -> list[bytes]:
    if not paths:
        if not (SEED / "INDEX.tsv").is_file():
            raise SourceError(f"no seed mails at {SEED}: give PATHs")
        return seed_mails()
    out: list[bytes] = []
    for path in paths:
        if path.is_dir() and (path / "INDEX.tsv").is_file():
            out += seed_mails(path)
        else:
            out += [m.data for m in iter_paths([path])]
    return out


_BARE_LF = re.compile(rb"(?<!\r)\n")


def crlf(raw: bytes) -> bytes:
    """SMTP lines end in CRLF; smtplib sends bytes as they are."""
    return _BARE_LF.sub(b"\r\n", raw)


def send_all(host: str, port: int, mails: list[bytes]) -> list[str]:
    """Send each mail in its own transaction; returns the refusals (normally none)."""
    refused: list[str] = []
    with smtplib.SMTP(host, port, timeout=60) as smtp:
        for i, raw in enumerate(mails, 1):
            try:
                smtp.sendmail("demo@localhost", ["kvm@localhost"], crlf(raw))
            except smtplib.SMTPException as exc:
                refused.append(f"mail {i}: {exc}")
    return refused


def _is_card(post: Post) -> bool:
    """A card's footer names its series alone (a patch message's adds k/N, an alert "stable")."""
    footer = post.embeds[0].footer or "" if post.embeds else ""
    head, _, sid = footer.rpartition(" · series ")
    return head == "kvm-patchbot" and sid.isdigit()


def final_posts(preview_file: Path) -> list[tuple[Post, list[Post]]]:
    """Each card as last rendered (send, then edits), with its thread's messages."""
    records: list[dict[str, Any]] = []
    if preview_file.is_file():
        records = [json.loads(line) for line in preview_file.read_text(encoding="utf-8").splitlines() if line]
    cards: dict[int, Post] = {}
    threads: dict[int, list[Post]] = {}
    for r in records:
        post = Post.model_validate(r["post"]) if r.get("post") else None
        if r["action"] == "send" and post is not None and _is_card(post):
            cards[r["message_id"]] = post
        elif r["action"] == "edit" and post is not None and r["message_id"] in cards:
            cards[r["message_id"]] = post
        elif r["action"] == "send" and post is not None:
            threads.setdefault(r["channel_id"], []).append(post)
    return [(card, threads.get(mid, [])) for mid, card in cards.items()]


def print_cards(posts: list[tuple[Post, list[Post]]], out: Any = None) -> None:
    out = out if out is not None else sys.stdout
    for card, thread in posts:
        out.write("=" * 78 + "\n")
        out.write("\n".join(post_text(card)) + "\n")
        if card.thread_name:
            out.write(f"  # thread: {card.thread_name}\n")
        for message in thread:
            out.write("\n".join("    " + line for line in post_text(message)) + "\n")


async def demo(settings_overrides: dict[str, Any], config: Path | None, mails: list[bytes], here: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="kvm-patchbot-demo-") as tmp:
        overrides = dict(settings_overrides)
        if not here:
            overrides.update(
                store={"url": f"sqlite+aiosqlite:///{Path(tmp) / 'kvm-patchbot.db'}"},
                discord={"preview_file": Path(tmp) / "preview.jsonl"},
            )
        settings = load_settings(config)
        settings = settings.model_copy(
            update={
                "store": settings.store.model_copy(update=overrides.get("store", {})),
                "smtp": settings.smtp.model_copy(update={"host": "127.0.0.1", "port": 0}),
                "discord": settings.discord.model_copy(update={**overrides.get("discord", {}), "token": None}),
            }
        )
        from bot.delivery import DeliveryService

        # Posts are collected and printed in their final state at the end, not streamed.
        starter = functools.partial(DeliveryService.start, stream=io.StringIO())
        app = App(settings, workers=[starter])
        await app.start()
        try:
            assert app.sink is not None
            host, port = app.sink.address
            refused = await asyncio.to_thread(send_all, host, port, mails)
            delivery = app.workers[0]
            assert isinstance(delivery, DeliveryService)
            await delivery.wait_idle(IDLE_TIMEOUT)
        finally:
            await app.stop()
        posts = final_posts(settings.discord.preview_file)
        print_cards(posts)
        threads = sum(len(t) for _, t in posts)
        print("=" * 78)
        print(f"kvm-patchbot demo: {len(mails)} mails sent over SMTP, {len(posts)} cards, "
              f"{threads} thread messages (preview: {settings.discord.preview_file if here else 'temporary'})")
        for line in refused:
            print(f"refused: {line}", file=sys.stderr)
        return 1 if refused else 0


def _run(args: argparse.Namespace) -> int:
    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    try:
        mails = mails_from(args.paths)
    except SourceError as exc:
        print(f"kvm-patchbot demo: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(demo({}, args.config, mails, args.here))
    except (FileNotFoundError, ValueError) as exc:
        print(f"kvm-patchbot demo: {exc}", file=sys.stderr)
        return 2
