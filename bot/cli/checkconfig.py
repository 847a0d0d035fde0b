"""`kvm-patchbot check-config [FILE]`: load the settings as `run` would and report.

Every problem is one line, `where: key: what is wrong`, where `where` is the
file or `environment` (a KVMBOT_* variable, which wins over the file). All
are listed, not just the first. Without problems, one line says what the
service would run with. Exit status: 0 good, 1 problems, 2 no such file.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-config",
        help="check a configuration file and the environment; list every problem",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", type=Path, metavar="FILE",
                   help="TOML settings file (default: ./kvm-patchbot.toml if present, else the embedded defaults)")
    p.set_defaults(func=_run)


# KVMBOT_* variables that are not settings: the wheel build's switch, the suite's
# database, corpus and property-test size.
NOT_SETTINGS = ("KVMBOT_COMPILE", "KVMBOT_TEST_", "KVMBOT_SHARED", "KVMBOT_PROPERTY_EXAMPLES")


def stray_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """KVMBOT_* variables that name no setting, each with a suggestion when one
    is close. pydantic-settings ignores them (it refuses only an unknown key
    inside a section), so a typo like KVMBOT_STORE_URL for KVMBOT_STORE__URL
    would go unnoticed."""
    from bot.config import ENV_PREFIX, Settings

    env = os.environ if environ is None else environ
    out = []
    for name in sorted(env):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper.startswith(NOT_SETTINGS):
            continue
        section = upper.removeprefix(ENV_PREFIX).lower().partition("__")[0]
        if section not in Settings.model_fields:
            close = difflib.get_close_matches(upper, _setting_variables(), n=1)
            out.append(f"{name}: no such setting, ignored" + (f" (did you mean {close[0]}?)" if close else ""))
    return out


def _setting_variables() -> list[str]:
    """KVMBOT_<SECTION>__<KEY> for every key of every section, and the top-level keys."""
    from bot.config import ENV_PREFIX, Settings, model_in

    names = []
    for section, field in Settings.model_fields.items():
        names.append(f"{ENV_PREFIX}{section.upper()}")
        model = model_in(field.annotation)
        if model is not None and isinstance(field.annotation, type):  # a section, not a list of them
            names += [f"{ENV_PREFIX}{section.upper()}__{key.upper()}" for key in model.model_fields]
    return names


def summary(s: Settings) -> str:
    """One line: what the service would run with (no secret in it)."""
    from bot.store.url import hide_password

    source = "token" if s.discord.token is not None else "no token: preview mode"
    if s.discord.token_file is not None:
        source = f"token from {s.discord.token_file}"
    poller = f"poller {s.poller.url}" if s.poller.enabled else "no poller"
    return (
        f"SMTP on {s.smtp.host}:{s.smtp.port}, store {hide_password(s.store.url)}, {poller}, "
        f"Discord: {source}, {len(s.subscriptions)} subscription{'' if len(s.subscriptions) == 1 else 's'}, "
        f"log level {s.log_level}"
    )


def _run(args: argparse.Namespace) -> int:
    from bot.config import ConfigError, config_path, load_settings

    path = config_path(args.file)
    name = str(path) if path is not None else "settings (no file: embedded defaults and the environment)"
    for stray in stray_variables():
        print(f"environment: {stray}")
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        if path is not None and not path.is_file():
            print(f"kvm-patchbot check-config: {exc.problems[0]}", file=sys.stderr)
            return 2
        for problem in exc.problems:
            print(problem)
        print(f"{name}: {len(exc.problems)} problem{'' if len(exc.problems) == 1 else 's'}", file=sys.stderr)
        return 1
    print(f"{name}: OK: {summary(settings)}")
    return 0
