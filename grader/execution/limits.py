"""Tiny launcher put in front of a sandboxed kernel: join cgroups, set rlimits, exec the rest.

Run as ``python -S -E limits.py [--cgroup DIR ...] [--cpu S] [--fsize BYTES] [--data BYTES] -- CMD ...``.
Stdlib only and no ``grader`` import, so it starts in a few milliseconds and works without the package
on ``sys.path``. It runs *outside* bubblewrap (cgroup files are read-only inside), then execs ``CMD``
(bwrap), so every process of the sandbox inherits the cgroups and the limits.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys


def _set(limit: int, soft: int, hard: int | None = None) -> None:
    """Lower one rlimit; never above the current hard limit (raising it needs privileges)."""
    _, cur_hard = resource.getrlimit(limit)
    hard = soft if hard is None else hard
    if cur_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, cur_hard), min(hard, cur_hard)
    resource.setrlimit(limit, (soft, hard))


def apply(cgroups: list[str], cpu_s: int | None, fsize: int | None, data: int | None) -> None:
    """Join each cgroup directory (writes our pid into ``cgroup.procs``) and set the rlimits."""
    for cg in cgroups:
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    if cpu_s:
        _set(resource.RLIMIT_CPU, cpu_s, cpu_s + 5)  # SIGXCPU first, SIGKILL 5 CPU-seconds later
    if fsize:
        _set(resource.RLIMIT_FSIZE, fsize)  # Python ignores SIGXFSZ: writes fail with EFBIG
    if data:
        _set(resource.RLIMIT_DATA, data)  # fallback memory limit when no memory cgroup exists


def main(argv: list[str]) -> None:
    """Parse, apply, exec; exit 127 with a message when anything fails (the kernel never starts)."""
    p = argparse.ArgumentParser(prog="limits")
    p.add_argument("--cgroup", action="append", default=[])
    p.add_argument("--cpu", type=int, default=None)
    p.add_argument("--fsize", type=int, default=None)
    p.add_argument("--data", type=int, default=None)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        p.error("no command given after --")
    try:
        apply(args.cgroup, args.cpu, args.fsize, args.data)
        os.execvp(cmd[0], cmd)
    except OSError as exc:
        sys.stderr.write(f"grader sandbox launcher: {exc}\n")  # a separate process: its stderr is the log
        sys.exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])
