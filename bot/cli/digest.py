"""`kvm-patchbot digest`: under construction (owned by the stage that provides it)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("digest", help="(not built yet)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise SystemExit("kvm-patchbot digest: not built yet")
