"""`kvm-patchbot run` as a real process: env overrides, a mail over SMTP, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import smtplib
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(rb"ready, SMTP on ([\d.]+):(\d+)")


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=30) as c:
        c.sendmail("list@vger.kernel.org", ["kvm@localhost"], raw.replace(b"\n", b"\r\n"))


async def _serve_one_mail(cwd: Path, env: dict[str, str], raw: bytes) -> tuple[int, bytes]:
    """Start `run`, wait for its ready line, deliver `raw`, SIGTERM; (exit code, stdout)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KVMBOT_")}
    full_env.update(env, PYTHONPATH=str(ROOT))
    with open(cwd / "stderr.log", "wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=cwd, env=full_env, stdout=asyncio.subprocess.PIPE, stderr=err
        )
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            ready = READY.search(line)
            assert ready, (line, (cwd / "stderr.log").read_text())
            await asyncio.to_thread(_send, int(ready.group(2)), raw)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, line + rest


def _stored_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT message_id FROM mails")]


async def test_run_on_embedded_defaults(tmp_path: Path, seed_dir: Path) -> None:
    """No config at all: SQLite file in the working directory; only the port overridden."""
    raw = (seed_dir / "01-tdp-mmu-prove-mmu.eml").read_bytes()
    code, out = await _serve_one_mail(tmp_path, {"KVMBOT_SMTP__PORT": "0"}, raw)
    assert code == 0, (tmp_path / "stderr.log").read_text()
    assert _stored_ids(tmp_path / "kvm-patchbot.db") == ["20250315023448.2358456-1-seanjc@google.com"]
    assert b"stopped after 1 mails (1 new, 0 duplicates)" in out


async def test_run_with_env_overrides(tmp_path: Path, seed_dir: Path) -> None:
    db = tmp_path / "elsewhere" / "bot.db"
    db.parent.mkdir()
    env = {
        "KVMBOT_SMTP__HOST": "127.0.0.1",
        "KVMBOT_SMTP__PORT": "0",
        "KVMBOT_STORE__URL": f"sqlite+aiosqlite:///{db}",
    }
    raw = (seed_dir / "06-cpuid-zero-init-unions.eml").read_bytes()
    code, out = await _serve_one_mail(tmp_path, env, raw)
    assert code == 0, (tmp_path / "stderr.log").read_text()
    assert _stored_ids(db) == ["20250315024102.2361628-1-seanjc@google.com"]
    assert not (tmp_path / "kvm-patchbot.db").exists()
