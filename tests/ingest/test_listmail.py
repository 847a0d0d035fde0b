"""List-management mail (subscription confirmations, bounces) is kept for the
operator, never treated as list traffic: classified, and over SMTP into the app."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings
from bot.ingest.listmail import ListMailKind, classify

CONFIRM = b"""From: kvm+help@vger.kernel.org
To: kvm-patchbot@bot.example.org
Subject: Confirm subscription to kvm@vger.kernel.org
Reply-To: kvm+subconf-4f6c0a8e1b2d3c4e@vger.kernel.org
Message-ID: <mlmmj-123@vger.kernel.org>
Date: Mon, 1 Dec 2025 10:00:00 +0000

Hi, this is the mlmmj program managing the <kvm@vger.kernel.org> mailing list.
To confirm you want the address kvm-patchbot@bot.example.org added, reply to this mail.
"""

DSN = b"""From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: kvm-patchbot@bot.example.org
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The mail could not be delivered.
--b--
"""

PROBE = b"""From: kvm+owner@vger.kernel.org
To: kvm-patchbot@bot.example.org
Subject: Some messages to you could not be delivered

Some messages to you bounced; this is a probe.
"""

WELCOME = b"""From: kvm+help@vger.kernel.org
To: kvm-patchbot@bot.example.org
Subject: Welcome to kvm@vger.kernel.org

Welcome to the list.
"""

PATCH = b"""From: Ann Dev <ann@example.com>
To: kvm@vger.kernel.org
Subject: [PATCH] KVM: x86: Please confirm the subscription counter
Message-ID: <patch-1@example.com>
Date: Mon, 1 Dec 2025 10:00:00 +0000
List-Id: <kvm.vger.kernel.org>

Signed-off-by: Ann Dev <ann@example.com>
"""

PERSON = b"""From: Ann Dev <ann@example.com>
To: kvm-patchbot@bot.example.org
Subject: Re: your bot

Thanks for the bot.
"""


@pytest.mark.parametrize(
    ("raw", "mail_from", "kind"),
    [
        (CONFIRM, "kvm+bounces-help@vger.kernel.org", ListMailKind.CONFIRMATION),
        (DSN, "", ListMailKind.BOUNCE),
        (DSN, "MAILER-DAEMON@mx.example.org", ListMailKind.BOUNCE),
        (PERSON, "", ListMailKind.BOUNCE),  # the null sender is a bounce, whatever it says
        (PROBE, "kvm+bounces-probe@vger.kernel.org", ListMailKind.BOUNCE),
        (WELCOME, "kvm+bounces-help@vger.kernel.org", ListMailKind.NOTICE),
        (PATCH, "kvm+bounces-123@vger.kernel.org", None),  # list traffic, whatever its subject
        (PERSON, "ann@example.com", None),
    ],
)
def test_classify(raw: bytes, mail_from: str, kind: ListMailKind | None) -> None:
    got = classify(raw, mail_from)
    assert (got.kind if got else None) == kind


def _send(port: int, raw: bytes, mail_from: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.test", timeout=30) as c:
        c.sendmail(mail_from, ["kvm-patchbot@localhost"], raw.replace(b"\n", b"\r\n"))


async def test_list_management_mail_is_kept_apart_and_listed(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    # With list_ids set, a mail without a List-Id was refused (550): the confirmation was never seen.
    app = App(Settings(smtp={"port": 0, "list_ids": ["kvm.vger.kernel.org"]}, store={"url": url}), workers=[])
    await app.start()
    try:
        assert app.sink is not None
        port = app.sink.address[1]
        await asyncio.to_thread(_send, port, CONFIRM, "kvm+bounces-help@vger.kernel.org")
        await asyncio.to_thread(_send, port, DSN, "")
        await asyncio.to_thread(_send, port, PATCH, "kvm+bounces-1@vger.kernel.org")
        kept = await app.store.list_mail()
        assert [(m.kind, m.subject) for m in kept] == [
            ("confirmation", "Confirm subscription to kvm@vger.kernel.org"),
            ("bounce", "Undelivered Mail Returned to Sender"),
        ]
        assert kept[1].mail_from == "" and kept[0].source_ref and kept[0].source_ref.startswith("smtp 127.0.0.1:")
        assert await app.store.list_mail_raw(kept[0].id) == CONFIRM
        assert await app.store.count("mails") == 1  # only the patch is list traffic
        assert await app.store.raw("mlmmj-123@vger.kernel.org") is None
    finally:
        await app.stop()

    capfd.readouterr()
    assert await asyncio.to_thread(main, ["list-mail", "--db", url]) == 0
    out, err = capfd.readouterr()
    assert "#1 confirmation at " in out and "from kvm+help@vger.kernel.org: Confirm subscription" in out
    assert "#2 bounce at " in out and "2 list-management mails kept" in err
