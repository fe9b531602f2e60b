"""Builds ``assignments/mnist_cnn/baselines/baseline-<mode>.json`` from the solution, 3 seeds, on the CPU.

    GRADER_MNIST_DIR=/path/to/mnist .venv/bin/python reference/mnist_cnn/make_baselines.py subset full

Like ``grader reference --assignment mnist_cnn --data <mode> --seeds 3 --device cpu`` (seeds 0, 1, 2; the solution
reads its seed from ``GRADER_SEED``). The solution's two runs get two keys: ``relu_adam_maxpool`` (task 1's plain CNN)
and ``relu_adam_batchnorm_dropout_maxpool`` (task 2's CNN), since run kinds include the layers' decorations.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file
from grader.reference.baseline import build_reference

SEEDS = [0, 1, 2]


def main(modes: list[str]) -> None:
    assignment = load_assignment("mnist_cnn")
    for mode in modes:
        def grade(path: Path, seed: int, mode: str = mode) -> dict[str, Any]:
            started = time.monotonic()
            res = grade_file(path, assignment, GradeOptions(data=mode, device="cpu", seed=seed,
                                                            env={"GRADER_SEED": str(seed)}))
            accs = [(r["index"], r["accuracy"]["value"]) for r in res["runs"]]
            took = time.monotonic() - started
            print(f"{mode} seed {seed}: {res['status']} in {took:.0f} s, accuracies {accs}, "  # noqa: T201
                  f"timings {res.get('timings')}", flush=True)
            return res

        path = build_reference(assignment, mode, SEEDS, grade)
        print(f"baseline written to {path}", flush=True)  # noqa: T201


if __name__ == "__main__":
    main(sys.argv[1:] or ["subset"])
