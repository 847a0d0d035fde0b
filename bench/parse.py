"""Parse speed and memory on the kvmarm public-inbox archive.

    python bench/parse.py [--git DIR] [--limit N] [--profile] [--compiled]

Without --git the shared bundle (../shared/corpus/kvmarm-epoch0.bundle) is
cloned into a temporary directory. Prints, on one core:

1. in-memory rates: all raw mails are read into a list first (that pass is
   reported), then `parse_mail` (parse + classify) and, over the same bytes,
   `email.message_from_bytes(raw, policy=compat32)` are timed in CPU time,
   passes interleaved (--repeat, best counts: the machine is shared; pin it
   with `taskset -c 1` for steadier figures);
2. streaming end to end (git cat-file -> parse_mail), with peak RSS after the
   first 5,000 mails and after all of them, to show memory stays flat.

It says which parser it ran: the source, or the mypyc-compiled build that
deployments install (build_support/kvmbot_build.py). `--compiled` runs it
twice: first a compiled copy of the tree (built into a temporary directory;
needs mypy, from the test extra) in a child process, then the source here.
"""

from __future__ import annotations

import argparse
import cProfile
import email
import email.policy
import gc
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The source tree, unless PYTHONPATH names another (`--compiled` points it at
# its compiled copy, as bench/ingest.py does): then that one comes first.
if os.environ.get("PYTHONPATH"):
    sys.path.append(str(ROOT))
else:
    sys.path.insert(0, str(ROOT))

from bot.ingest.sources import iter_path  # noqa: E402
from bot.mail import parse_mail  # noqa: E402
from bot.mail import parse as _parse_module  # noqa: E402
from build_support import kvmbot_build  # noqa: E402

BUNDLE = ROOT.parent / "shared" / "corpus" / "kvmarm-epoch0.bundle"


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Current resident set size (Linux /proc), else the peak."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return peak_rss_mb()


def report(label: str, mails: int, nbytes: int, seconds: float) -> float:
    """Print one line of figures; return the rate in mails/s."""
    mb = nbytes / 1e6
    print(
        f"{label:<34} {mails:>7} mails {mb:>8.1f} MB {seconds:>7.2f} s "
        f"{mails / seconds:>9.0f} mails/s {mb / seconds:>7.1f} MB/s {seconds / mails * 1e6:>6.1f} us/mail"
    )
    return mails / seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--git", type=Path, help="a bare clone of the archive (default: clone the bundle)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N mails")
    ap.add_argument("--profile", action="store_true", help="cProfile parse_mail over the mails")
    ap.add_argument("--skip-stream", action="store_true")
    ap.add_argument(
        "--repeat", type=int, default=3, help="timed passes over the in-memory mails (the best counts; default 3)"
    )
    ap.add_argument(
        "--compiled", action="store_true", help="first the same with a mypyc-compiled copy of the parser, in a child process"
    )
    args = ap.parse_args()
    impl = "compiled (mypyc)" if str(_parse_module.__file__).endswith(".so") else "pure Python"
    print(f"parser: {impl}, {_parse_module.__file__}")

    tmp = None
    gitdir = args.git
    if gitdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="kvmbot-bench-")
        gitdir = Path(tmp.name) / "0.git"
        t = time.perf_counter()
        subprocess.run(["git", "clone", "-q", "--bare", str(BUNDLE), str(gitdir)], check=True)
        print(f"cloned {BUNDLE.name} in {time.perf_counter() - t:.1f} s")

    if args.compiled:
        # First, while this process is small: a child's peak RSS starts from its parent's at fork.
        with tempfile.TemporaryDirectory(prefix="kvmbot-compiled-") as tree:
            t = time.perf_counter()
            kvmbot_build.compiled_copy(Path(tree))
            print(f"compiled a copy of the parser in {time.perf_counter() - t:.1f} s")
            again = [a for a in sys.argv[1:] if a != "--compiled"]
            if args.git is None:
                again += ["--git", str(gitdir)]
            sys.stdout.flush()
            subprocess.run(
                [sys.executable, __file__, *again], env={**os.environ, "PYTHONPATH": tree}, check=True
            )
        print()
        print(f"parser: {impl}, {_parse_module.__file__}")

    # Streaming end to end first, so its peak RSS is not inflated by the list below.
    if not args.skip_stream:
        t = time.perf_counter()
        n = nbytes = 0
        in_parse = 0.0
        marks: list[str] = []
        clock = time.perf_counter
        for mail in iter_path(gitdir):
            t0 = clock()
            parse_mail(mail.data)
            in_parse += clock() - t0
            n += 1
            nbytes += len(mail.data)
            if n % 5000 == 0:
                marks.append(f"{n // 1000}k: {rss_mb():.0f}")
            if args.limit and n >= args.limit:
                break
        report("stream git -> parse_mail (wall)", n, nbytes, time.perf_counter() - t)
        report("  of which parse_mail (cold caches)", n, nbytes, in_parse)
        print(f"RSS MB after {', '.join(marks)}; at the end {rss_mb():.0f}, peak {peak_rss_mb():.0f}")
        print("  (RSS grows while the parser's bounded caches fill: each holds at most 8-16k entries)")

    t = time.perf_counter()
    raws: list[bytes] = []
    for mail in iter_path(gitdir):
        raws.append(mail.data)
        if args.limit and len(raws) >= args.limit:
            break
    total = sum(map(len, raws))
    report("read from git into memory", len(raws), total, time.perf_counter() - t)

    gc.collect()
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for raw in raws:
            parse_mail(raw)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)

    # Both parsers over the same bytes, in the same run, passes interleaved so
    # that load from other processes on the shared machine hits both alike.
    # CPU time of this process (not wall time) is what is measured.
    parsers = (
        ("parse_mail (parse + classify)", parse_mail),
        ("email compat32 (parse only)", lambda raw: email.message_from_bytes(raw, policy=email.policy.compat32)),
    )
    best: dict[str, float] = {}
    for n in range(1, max(1, args.repeat) + 1):
        for label, fn in parsers:
            gc.collect()
            t = time.process_time()
            for raw in raws:
                fn(raw)
            rate = report(f"{label} #{n}", len(raws), total, time.process_time() - t)
            best[label] = max(best.get(label, 0.0), rate)
    ours, stdlib = (best[label] for label, _ in parsers)
    print(
        f"best of {max(1, args.repeat)}: parse_mail {ours:.0f} mails/s ({1e6 / ours:.1f} us/mail, "
        f"{ours * total / len(raws) / 1e6:.1f} MB/s); compat32 {stdlib:.0f} mails/s "
        f"({stdlib * total / len(raws) / 1e6:.1f} MB/s); parse_mail/compat32 = {ours / stdlib:.2f}x"
    )

    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
