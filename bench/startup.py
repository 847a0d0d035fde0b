"""How long `kvm-patchbot` takes to start: `--help`, `parse --help` and `parse` of one mail.

Each command runs --runs times as a fresh process (`python -m bot ...`, as the
console script does); the figures are wall time (min and median) and the CPU
time (user + system) of the child, which a busy machine inflates less. The
target (issue 11) is 0.25 s for `--help` and `parse`. `-X importtime` then
names the slowest imports of `parse`, and the heavy libraries each command
loads (none of SQLAlchemy, discord.py, aiosmtpd, alembic, pydantic-settings
or tqdm should be among them).

    python bench/startup.py [--runs 20] [--mail FILE] [--compiled]

`--compiled` first builds a copy of the tree with the parser compiled, as a
wheel install has it (build_support/kvmbot_build.py), and times that.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed"
HEAVY = ("sqlalchemy", "discord", "aiosmtpd", "alembic", "pydantic_settings", "tqdm", "aiohttp", "asyncpg")
TARGET = 0.25


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(args: list[str], runs: int, tree: Path = ROOT) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of `runs` fresh processes of `python -m bot ARGS`, bot from `tree`."""
    walls, cpus = [], []
    env = {**os.environ, "PYTHONPATH": str(tree)}
    for _ in range(runs):
        cpu0, t0 = _child_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot", *args], env=env, stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - t0)
        cpus.append(_child_cpu() - cpu0)
    return walls, cpus


def imports_of(args: list[str], tree: Path = ROOT) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of every import `python -X importtime -m bot ARGS` makes."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True,
    )
    out = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if cumulative.isdigit():
            out.append((int(cumulative), name))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--mail", type=Path, default=min(SEED.glob("*.eml"), default=None), help="the mail `parse` reads")
    ap.add_argument("--compiled", action="store_true", help="time a copy with the parser compiled (mypyc)")
    opts = ap.parse_args()
    if opts.compiled:
        sys.path.insert(0, str(ROOT))  # build_support (a folder, not an installed package)
        from build_support.kvmbot_build import compiled_copy

        with tempfile.TemporaryDirectory(prefix="kvmbot-startup-") as tmp:
            t = time.perf_counter()
            tree = compiled_copy(Path(tmp))
            print(f"compiled a copy of the parser and tracker in {time.perf_counter() - t:.0f} s")
            report(opts.runs, opts.mail, tree)
        return
    report(opts.runs, opts.mail, ROOT)


def report(runs: int, mail: Path, tree: Path) -> None:
    commands = {"--help": ["--help"], "parse --help": ["parse", "--help"], "parse MAIL": ["parse", str(mail)]}
    load = os.getloadavg()
    print(f"{runs} runs each, bot from {tree}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    walls, cpus = [], []
    for _ in range(runs):  # the interpreter alone (with site-packages), for scale
        cpu0, t0 = _child_cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        walls.append(time.perf_counter() - t0)
        cpus.append(_child_cpu() - cpu0)
    print(f"{'python -c pass':>28}: wall min {min(walls):.3f} s, median {statistics.median(walls):.3f} s; "
          f"CPU median {statistics.median(cpus):.3f} s")
    for label, args in commands.items():
        walls, cpus = time_command(args, runs, tree)
        verdict = "ok" if statistics.median(walls) <= TARGET else f"over {TARGET} s"
        heavy = sorted({name.split(".")[0] for _, name in imports_of(args, tree) if name.split(".")[0] in HEAVY})
        print(f"{'kvm-patchbot ' + label:>28}: wall min {min(walls):.3f} s, median {statistics.median(walls):.3f} s "
              f"({verdict}); CPU median {statistics.median(cpus):.3f} s; heavy imports: {', '.join(heavy) or 'none'}")
    # The slowest top-level imports, each the median of 5 runs (one run is at the mercy of the scheduler).
    runs_of: dict[str, list[int]] = {}
    for _ in range(5):
        for micros, name in imports_of(commands["parse MAIL"], tree):
            if not name.startswith(" "):
                runs_of.setdefault(name, []).append(micros)
    print("slowest top-level imports of `parse MAIL` (cumulative, median of 5 runs):")
    for name, samples in sorted(runs_of.items(), key=lambda kv: -statistics.median(kv[1]))[:8]:
        print(f"  {statistics.median(samples) / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
