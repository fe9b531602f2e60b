"""What proof of training costs: the same notebook graded with and without it, alternating.

Grades assignments/dnn2_mnist/examples/perfect.ipynb (four 15-epoch runs) with proof on
(checkpoints in the kernel, segments re-trained in the grader) and off, alternating ``--repeat``
times, and prints the median wall times, the overhead, and the deviations the replays measured
(the honest-run tolerance evidence). Usage:
python benchmarks/proof_cost.py [--data subset|full] [--repeat 2] [NOTEBOOK]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from grader.pipeline import GradeOptions, grade_file

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook", nargs="?", type=Path,
                    default=ROOT / "assignments/dnn2_mnist/examples/perfect.ipynb")
    ap.add_argument("--data", choices=["subset", "full"], default="subset")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    walls: dict[bool, list[float]] = {True: [], False: []}
    devs: list[float] = []
    for _ in range(args.repeat):
        for proof in (False, True):
            t = time.perf_counter()
            res = grade_file(args.notebook, opts=GradeOptions(data=args.data, proof=proof))
            walls[proof].append(time.perf_counter() - t)
            if proof:
                devs += [s["weight_dev"] for r in res["runs"] for s in (r.get("proof") or {}).get("segments", [])]
                print("  proofs:", ", ".join(f"run {r['index'] + 1}: {(r.get('proof') or {}).get('status')}"
                                             for r in res["runs"]))
            print(f"proof {'on ' if proof else 'off'}: {walls[proof][-1]:.1f} s, score {res['score']['auto']:g}")
    on, off = statistics.median(walls[True]), statistics.median(walls[False])
    print(f"median wall time ({args.data}): without proof {off:.1f} s, with proof {on:.1f} s: "
          f"{100 * (on - off) / off:+.1f} %; replayed segments {len(devs)}, max weight deviation "
          f"{max(devs, default=0.0):.2e} (tolerance 2e-2)")


if __name__ == "__main__":
    main()
