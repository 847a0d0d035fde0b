"""`parse_mail` never raises; `to_json` keys; the `kvm-patchbot parse` command."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from bot.cli.parse import write_mails
from bot.mail import Kind, ParsedMail, parse_mail, to_json

SEED = Path(__file__).resolve().parent.parent / "data" / "seed"
REQUIRED = {
    "message_id", "kind", "subject", "title", "subsystem", "prefixes", "version", "version_label",
    "index", "total", "rfc", "resend", "is_reply", "author", "date", "in_reply_to", "references",
    "list_id", "fixes", "stable", "trailers", "diffstat", "has_diff", "applied", "errors",
}


def test_to_json_keys_and_values() -> None:
    j = to_json(parse_mail((SEED / "08-irqbypass-module.eml").read_bytes()))
    assert REQUIRED <= j.keys()
    assert j["kind"] == "patch" and j["version"] == 1 and j["index"] is None and j["total"] is None
    assert j["author"] == {"name": "Sean Christopherson", "email": "seanjc@google.com"}
    assert j["date"] == "2025-03-14T19:46:23-07:00"
    assert j["stable"]["tagged"] is True and j["stable"]["versions"] == [] and j["stable"]["noautosel"] is False
    assert j["diffstat"]["files"] == 3 and j["diffstat"]["insertions"] == 7 and j["diffstat"]["deletions"] == 7
    assert j["diffstat"]["per_file"][0] == {"path": "include/linux/kvm_host.h", "insertions": 1, "deletions": 1}
    assert {"name": "Cc", "value": "stable@vger.kernel.org", "extra": None} in j["trailers"]
    assert j["applied"] is None and j["errors"] == []
    json.dumps(j)  # serialisable as is


def test_to_json_cover_and_unparseable() -> None:
    cover = to_json(parse_mail((SEED / "10-pir-harvesting-0of8-cover.eml").read_bytes()))
    assert (cover["kind"], cover["index"], cover["total"], cover["has_diff"]) == ("cover", 0, 8, False)
    assert cover["diffstat"]["files"] == 5 and cover["diffstat_computed"] is None
    bad = to_json(parse_mail(b"\xff\xfe garbage"))
    assert bad["kind"] == "unparseable" and bad["errors"] and bad["message_id"]
    assert bad["diffstat"] is None and bad["version"] == 1


@pytest.mark.parametrize(
    "raw",
    [b"", b"\n", b"\n\nbody only", b"From \n", b"Subject: x", b"a" * 100_000, b"Content-Type: multipart/mixed\n\n--",
     b"Content-Type: multipart/mixed; boundary=a\n\n--a\n--a\n--a--\n", b"Date: \xff\xff\nFrom: \x00\n\n"],
)
def test_never_raises_on_odd_input(raw: bytes) -> None:
    mail = parse_mail(raw)
    ParsedMail.model_validate(mail.model_dump())
    assert mail.message_id
    json.dumps(to_json(mail))


def test_internal_failure_becomes_unparseable(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.mail.parse as mod

    def boom(*_a, **_k):
        raise RuntimeError("boom")

    monkeypatch.setattr(mod, "read_body", boom)
    mail = parse_mail((SEED / "01-tdp-mmu-prove-mmu.eml").read_bytes())
    assert mail.kind is Kind.UNPARSEABLE
    assert mail.message_id == "20250315023448.2358456-1-seanjc@google.com" and not mail.synthetic_id
    assert mail.errors == ("RuntimeError: boom",)


def test_write_mails_jsonl_and_array(tmp_path: Path) -> None:
    out = io.StringIO()
    assert write_mails([SEED], out, jsonl=True) == 18  # INDEX.tsv and digest.txt are not mail
    lines = out.getvalue().splitlines()
    objs = [json.loads(line) for line in lines]
    assert [o["source"] for o in objs[:2]] == [str(SEED / "01-tdp-mmu-prove-mmu.eml"), str(SEED / "02-hashed-page-list-0of3-cover.eml")]
    assert not any(o["kind"] == "unparseable" for o in objs)
    # A file named explicitly is read as a mail whatever it holds, and still gets its line.
    named = io.StringIO()
    assert write_mails([SEED / "INDEX.tsv"], named, jsonl=True) == 1
    assert json.loads(named.getvalue())["kind"] == "unparseable"
    arr = io.StringIO()
    write_mails([SEED / "01-tdp-mmu-prove-mmu.eml"], arr, jsonl=False)
    parsed = json.loads(arr.getvalue())
    assert isinstance(parsed, list) and parsed[0]["message_id"] == "20250315023448.2358456-1-seanjc@google.com"
    empty = io.StringIO()
    (tmp_path / "empty").mkdir()
    write_mails([tmp_path / "empty"], empty, jsonl=False)
    assert json.loads(empty.getvalue()) == []


def test_cli_errors_are_clean(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli_main(["parse", str(tmp_path / "missing.eml")]) == 2
    err = capsys.readouterr()
    assert "no such file" in err.err and err.out == ""
    assert cli_main(["parse", "--range", "a..b", str(SEED)]) == 2
    assert "--range needs a public-inbox" in capsys.readouterr().err


def test_cli_subprocess_streams_jsonl() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "parse", "--jsonl", str(SEED / "11-pir-harvesting-1of8-read-once.eml")],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    )
    (line,) = proc.stdout.splitlines()
    obj = json.loads(line)
    assert obj["fixes"] == [{"sha": "1b03d82ba15e", "subject": "x86/irq: Install posted MSI notification handler"}]
    assert obj["index"] == 1 and obj["total"] == 8
