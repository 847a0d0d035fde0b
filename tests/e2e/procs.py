"""Real `kvm-patchbot run` processes for the multi-process tests: started with
settings in the environment, ready once they print their ready line."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import smtplib
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

READY = re.compile(r"ready, SMTP on ([\d.]+):(\d+)")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    def send(self, raw: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as smtp:
            smtp.sendmail("list@vger.kernel.org", ["kvm@localhost"], raw)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_run(cwd: Path, env: Mapping[str, str], name: str) -> Run:
    cwd.mkdir(parents=True, exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith("KVMBOT_")}
    full.update(PYTHONPATH=str(ROOT), KVMBOT_SMTP__HOST="127.0.0.1", KVMBOT_SMTP__PORT="0", **env)
    log = cwd / f"{name}.log"
    with open(log, "wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=cwd, env=full, stdout=asyncio.subprocess.PIPE, stderr=err,
        )
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, f"kvm-patchbot run ({name}) exited before it was ready: {log.read_text()[-2000:]}"
        if m := READY.search(line):
            return Run(proc, int(m.group(2)), log)


@asynccontextmanager
async def pg_schema(url: str, name: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        await admin.dispose()
