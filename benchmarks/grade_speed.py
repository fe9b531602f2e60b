"""Wall time to grade a full three-task notebook in subset mode, kernel start included.

Grades assignments/dnn2_mnist/examples/perfect.ipynb (lecture run + ReLU/Adam, Sigmoid/Adam,
ReLU/SGD; 15 epochs each, batch 100) and prints wall time, kernel start and per-run epochs.
Usage: python benchmarks/grade_speed.py [--repeat 2] [NOTEBOOK]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

from grader.pipeline import GradeOptions, grade_file

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook", nargs="?", type=Path,
                    default=ROOT / "assignments/dnn2_mnist/examples/perfect.ipynb")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    walls = []
    for i in range(args.repeat):
        t = time.perf_counter()
        res = grade_file(args.notebook, opts=GradeOptions(data="subset"))
        walls.append(time.perf_counter() - t)
        ex = res["execution"]
        runs = ", ".join(f"{r['optimizer']['torch_class']}×{r['epochs_completed']}ep" for r in res["runs"])
        print(f"run {i + 1}: {walls[-1]:.1f} s wall (kernel start {ex['kernel_start_s']:.1f} s, "
              f"execution {res['timings']['execution_s']:.1f} s, evaluation {res['timings']['evaluation_s']:.1f} s); "
              f"score {res['score']['auto']:g}/{res['score']['auto_max']:g}; runs: {runs}")
    print(f"median wall time to grade {args.notebook.name} in subset mode: {statistics.median(walls):.1f} s "
          f"on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}); target ≤ 60 s")


if __name__ == "__main__":
    main()
