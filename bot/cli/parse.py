"""`kvm-patchbot parse [--jsonl] [--range A..B] PATH...`: print what the parser reads.

PATH is an .eml file, an mbox, a directory of them, or a public-inbox v2
archive (a bare epoch repository, or a top directory holding git/0.git ...).
Output, in input order, one object per mail (see `bot.mail.to_json`, plus
`source`: the commit id, `mbox:offset` or file it came from):

* default: a JSON array of indented objects, written object by object as it goes
  (streamed: memory stays flat however many mails there are);
* `--jsonl`: one compact JSON object per line.

A mail that cannot be parsed still gets its object (kind "unparseable").
Exit status 2 only for unusable arguments (missing path, bad range).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO



def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "parse",
        help="parse mail (.eml, mbox, directory, public-inbox git) and print JSON",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", metavar="PATH", nargs="+", type=Path)
    p.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--range",
        dest="rev_range",
        metavar="A..B",
        help="public-inbox only: the commits after A up to B (as git reads A..B)",
    )
    p.set_defaults(func=_run)


def write_mails(paths: list[Path], out: TextIO, jsonl: bool, rev_range: str | None = None) -> int:
    """Stream every mail under `paths` to `out`; returns the number written.

    Raises SourceError before writing anything when an argument is unusable.
    """
    # Here, not at the top: `kvm-patchbot parse --help` then prints without
    # building the parser's pydantic models (0.15 s of a 0.2 s start).
    from bot.ingest.sources import iter_paths
    from bot.mail import parse_mail, to_json

    mails = iter_paths(paths, rev_range)
    count = 0
    if not jsonl:
        out.write("[")
    for raw in mails:
        obj = to_json(parse_mail(raw.data))
        obj["source"] = raw.ref
        if jsonl:
            out.write(json.dumps(obj, ensure_ascii=False))
            out.write("\n")
        else:
            out.write(",\n" if count else "\n")
            out.write(json.dumps(obj, ensure_ascii=False, indent=2))
        count += 1
    if not jsonl:
        out.write("\n]\n" if count else "]\n")
    return count


def _run(args: argparse.Namespace) -> int:
    # A SourceError (exit status 2) and a closed pipe (`| head`) are bot.cli.main's.
    write_mails(args.paths, sys.stdout, args.jsonl, args.rev_range)
    return 0
