"""A student's self-check against a plain run of the same notebook: ``grader check`` vs ``jupyter execute``.

Both are whole commands, as a student types them, timed from launch to exit, on the same notebook and the same
data: the plain run works in a fresh folder whose ``MNIST_data/MNIST/raw`` holds the provider's prepared files
of the data mode (the embedded subset by default), so ``datasets.MNIST(root='MNIST_data/')`` reads the images
``grader check`` serves. The two alternate, ``--rounds`` times (default 3), on a machine left otherwise quiet;
the script prints every pair, the medians and the median ratio (check / plain). Results go in
docs/measurements.md; ``--json`` writes them too.

``--baseline REV`` adds ``grader check`` of an earlier revision (a temporary git worktree, same venv) to each
round: before and after a change, measured in one run.

Usage: python benchmarks/check_speed.py [--rounds 3] [--baseline REV] [--assignment dnn2_mnist] [--data subset]
       [NOTEBOOK]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from _worktree import worktree

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook", nargs="?", type=Path,
                    default=ROOT / "assignments/dnn2_mnist/examples/perfect.ipynb")
    ap.add_argument("--assignment", default="dnn2_mnist")
    ap.add_argument("--data", default="subset", help="the data mode both runs get (default: subset)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--baseline", default=None, help="also time `grader check` of this git revision")
    args = ap.parse_args()
    from grader.assignment import load_assignment
    from grader.pipeline import data_provider

    root = data_provider(load_assignment(args.assignment)).prepare(args.data, None)
    pairs = []
    with worktree(args.baseline) if args.baseline else nullcontext(None) as base:
        variants = ["check", "plain"] + (["before"] if base else [])
        for r in range(args.rounds):
            order = variants[r % len(variants):] + variants[:r % len(variants)]  # who goes first rotates
            row = {}
            for what in order:
                row[what] = plain_once(args.notebook, root) if what == "plain" else \
                    check_once(args.notebook, args.assignment, args.data, base if what == "before" else None)
            pairs.append(row)
            c, p = row["check"], row["plain"]
            before = f", before ({args.baseline}) {row['before']['wall_s']:.1f} s" if base else ""
            print(f"round {r + 1}: grader check {c['wall_s']:.1f} s (first line after {c['first_line_s']:.1f} s), "
                  f"plain run {p['wall_s']:.1f} s, ratio {c['wall_s'] / p['wall_s']:.2f}{before}", flush=True)
    check = statistics.median(p["check"]["wall_s"] for p in pairs)
    plain = statistics.median(p["plain"]["wall_s"] for p in pairs)
    ratio = statistics.median(p["check"]["wall_s"] / p["plain"]["wall_s"] for p in pairs)
    first_line = statistics.median(p["check"]["first_line_s"] for p in pairs)
    print(f"{args.notebook.name} ({args.data}, {args.rounds} rounds, {os.cpu_count()} CPU cores, "
          f"{platform.processor() or platform.machine()}): grader check median {check:.1f} s, plain nbclient run "
          f"median {plain:.1f} s, median ratio {ratio:.2f} (target ≤ 0.55, goal 0.5); first progress line after "
          f"{first_line:.1f} s (target ≤ 2 s)")
    if args.baseline:
        before = statistics.median(p["before"]["wall_s"] / p["plain"]["wall_s"] for p in pairs)
        print(f"before ({args.baseline}): median {statistics.median(p['before']['wall_s'] for p in pairs):.1f} s, "
              f"median ratio {before:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"notebook": args.notebook.name, "data": args.data, "rounds": pairs,
                                         "median_check_s": check, "median_plain_s": plain, "median_ratio": ratio,
                                         "cpu_count": os.cpu_count()}, indent=1))


def check_once(notebook: Path, aid: str, data: str, checkout: Path | None = None) -> dict[str, float]:
    """``grader check NOTEBOOK`` in a fresh output folder; wall time and when its first line came (stderr).
    With ``checkout``: that checkout's grader (``python -m grader``, it first on ``PYTHONPATH``)."""
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        grader = [str(BIN / "grader")] if checkout is None else [sys.executable, "-m", "grader"]
        env = os.environ if checkout is None else {**os.environ, "PYTHONPATH": str(checkout)}
        cmd = [*grader, "check", str(notebook), "--assignment", aid, "--data", data, "--out", str(Path(tmp) / "out")]
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp, env=env)
        assert proc.stderr is not None
        first = proc.stderr.readline()
        first_s = time.perf_counter() - t
        rest = proc.stderr.read()
        code = proc.wait()
        wall = time.perf_counter() - t
    if code != 0 or not first:
        raise SystemExit(f"grader check failed ({code}): {(first + rest).decode(errors='replace')[-2000:]}")
    return {"wall_s": round(wall, 2), "first_line_s": round(first_s, 2)}


def plain_once(notebook: Path, root: Path) -> dict[str, float]:
    """``jupyter execute NOTEBOOK`` (nbclient, the python3 kernel) in a fresh folder holding the same data."""
    with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
        raw = Path(tmp) / "MNIST_data" / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for f in sorted((root / "MNIST" / "raw").iterdir()):
            (raw / f.name).symlink_to(f.resolve())
        nb = Path(tmp) / notebook.name
        nb.write_bytes(notebook.read_bytes())
        t = time.perf_counter()
        proc = subprocess.run([str(BIN / "jupyter-execute"), "--timeout=1200", nb.name], cwd=tmp,
                              capture_output=True, check=False)
        wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"plain run failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    return {"wall_s": round(wall, 2)}


if __name__ == "__main__":
    main()
