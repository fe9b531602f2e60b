#!/usr/bin/env python3
# ruff: noqa: T201  (a script: it prints what it wrote)
"""Write ``assignments/dnn2_gd_dataloader/baselines/baseline-none.json``: the solution graded with seeds 0, 1, 2,
as ``grader reference --assignment dnn2_gd_dataloader --seeds 3`` does (the solution reads ``GRADER_SEED``).

    .venv/bin/python reference/dnn2_gd_dataloader/build_baseline.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file
from grader.reference.baseline import build_reference

SEEDS = [0, 1, 2]


def main() -> int:
    assignment = load_assignment("dnn2_gd_dataloader")

    def grade(path: Path, seed: int) -> dict[str, Any]:
        t0 = time.monotonic()
        res = grade_file(path, assignment, GradeOptions(device="cpu", seed=seed, env={"GRADER_SEED": str(seed)}))
        print(f"seed {seed}: {res['status']} in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        return res

    path = build_reference(assignment, "none", SEEDS, grade)
    runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
    print(f"wrote {path} with reference runs {sorted(runs)}")
    return 0 if "none_sgd" in runs else 1


if __name__ == "__main__":
    sys.exit(main())
