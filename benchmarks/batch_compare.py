"""Batch throughput before and after a change: ``grader batch`` of the same folder from two checkouts, alternating.

The baseline is a git revision checked out in a temporary worktree and run with this venv's Python
(``PYTHONPATH`` puts its ``grader`` first), so both sides use the same torch, the same data and the same machine
in one run. Each round grades the folder into a fresh output folder (nothing skipped as already graded); the
script prints every wall time, the medians and submissions per minute. Results go in docs/measurements.md.

Usage: python benchmarks/batch_compare.py --baseline REV [--rounds 2] [--jobs N] [FOLDER] [-- extra batch args]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _worktree import worktree

ROOT = Path(__file__).resolve().parents[1]


def _batch(checkout: Path, folder: Path, assignment: str, out: Path, extra: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    cmd = [sys.executable, "-m", "grader", "batch", str(folder), "--assignment", assignment, "--out", str(out),
           "--no-progress", *extra]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{checkout}: grader batch failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, default=ROOT / "assignments/dnn2_mnist/examples")
    ap.add_argument("--baseline", required=True, help="git revision to compare against (e.g. a commit before)")
    ap.add_argument("--assignment", default="dnn2_mnist")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args, extra = ap.parse_known_args()
    extra = [e for e in extra if e != "--"]
    folder = args.folder.resolve()
    n = sum(1 for p in folder.iterdir() if p.suffix in (".ipynb", ".py") or p.is_dir())
    times: dict[str, list[float]] = {"baseline": [], "current": []}
    with worktree(args.baseline) as base, tempfile.TemporaryDirectory(prefix="grader-batch-compare-") as tmp:
        for r in range(args.rounds):
            for side, checkout in (("baseline", base), ("current", ROOT)):
                wall = _batch(checkout, folder, args.assignment, Path(tmp) / f"out-{side}-{r}", extra)
                times[side].append(wall)
                print(f"round {r + 1}: {side:8s} {wall:6.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{folder.name} ({n} submissions, {args.rounds} rounds, {os.cpu_count()} CPU cores): baseline "
          f"{args.baseline} median {med['baseline']:.1f} s ({60 * n / med['baseline']:.1f}/min), current median "
          f"{med['current']:.1f} s ({60 * n / med['current']:.1f}/min), current/baseline "
          f"{med['current'] / med['baseline']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"folder": str(folder), "submissions": n, "baseline": args.baseline,
                                         "times_s": times, "median_s": med}, indent=1))


if __name__ == "__main__":
    main()
