"""Wall time to grade a correct notebook of an assignment in its default data mode, kernel start included.

Default: assignments/dnn2_mnist/examples/perfect.ipynb (lecture run + ReLU/Adam, Sigmoid/Adam, ReLU/SGD;
15 epochs each, batch 100); `--all` grades every assignment's first example (its correct one) and prints each
wall time against the 2-minute target of `grader check` on 2 CPU cores.
Usage: python benchmarks/grade_speed.py [--repeat 2] [--assignment ID] [NOTEBOOK] | --all
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from grader.assignment import available, load_assignment
from grader.pipeline import GradeOptions, grade_file

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook", nargs="?", type=Path,
                    default=ROOT / "assignments/dnn2_mnist/examples/perfect.ipynb")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--assignment", default="dnn2_mnist")
    ap.add_argument("--all", action="store_true", help="every assignment's first (correct) example")
    args = ap.parse_args()
    if args.all:
        for aid in sorted(available()):
            a = load_assignment(aid)
            if a.examples:
                bench(a.root / a.examples[0].file, aid, args.repeat)
        return
    bench(args.notebook, args.assignment, args.repeat)


def bench(notebook: Path, aid: str, repeat: int) -> None:
    """Grade ``notebook`` ``repeat`` times and print the wall times."""
    assignment = load_assignment(aid)
    walls = []
    for i in range(repeat):
        t = time.perf_counter()
        res = grade_file(notebook, assignment, GradeOptions(device="cpu"))
        walls.append(time.perf_counter() - t)
        ex = res["execution"]
        runs = ", ".join(f"{r['optimizer']['torch_class']}×{r['epochs_completed']}ep" for r in res["runs"])
        print(f"run {i + 1}: {walls[-1]:.1f} s wall (kernel start {ex['kernel_start_s']:.1f} s, "
              f"execution {res['timings']['execution_s']:.1f} s, evaluation {res['timings']['evaluation_s']:.1f} s); "
              f"score {res['score']['auto']:g}/{res['score']['auto_max']:g}; runs: {runs}")
    print(f"{aid}: median wall time to grade {notebook.name} ({res['data']['mode']}): {statistics.median(walls):.1f} s "
          f"on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}); target ≤ 120 s")


if __name__ == "__main__":
    main()
