"""`kvm-patchbot run`: the service (SMTP sink, store, poller, delivery) until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from bot.app import App
from bot.config import Settings, load_settings, log_level

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the service: SMTP sink, store, poller, Discord delivery",
        description=(
            "Run the service until SIGINT or SIGTERM. Settings come from --config (else "
            "./kvm-patchbot.toml if present, else embedded defaults) and KVMBOT_<SECTION>__<KEY> "
            "environment variables, e.g. KVMBOT_SMTP__PORT=2525."
        ),
    )
    p.add_argument("--config", type=Path, help="TOML settings file")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # A bad setting, a taken port, a database that is down: bot.cli.main says
    # so in one line (exit status 2 for the settings, 1 for the rest).
    settings = load_settings(args.config)
    if settings.log_format == "json":
        from bot.observe.logjson import use_json_logs

        use_json_logs()
    if not (args.verbose or args.debug):
        logging.getLogger().setLevel(log_level(settings))
        # aiosmtpd logs every SMTP command at INFO.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(serve(settings))
    return 0


async def serve(settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app = App(settings)
    await app.start()
    try:
        assert app.sink is not None
        host, port = app.sink.address
        # The ready line: scripts and tests wait for it (it carries the real port).
        metrics = ""
        if app.metrics_server is not None:
            metrics = ", metrics on {}:{}".format(*app.metrics_server.address)
        print(f"kvm-patchbot: ready, SMTP on {host}:{port}, store {_safe(settings.store.url)}{metrics}", flush=True)
        await stop.wait()
        log.info("shutting down")
    finally:
        await app.stop()
    s = app.stats
    print(f"kvm-patchbot: stopped after {s.read} mails ({s.new} new, {s.duplicates} duplicates)", flush=True)


def _safe(url: str) -> str:
    """The store URL without a password, for logs."""
    from bot.store.url import hide_password

    return hide_password(url)
