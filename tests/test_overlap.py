"""Grading while the notebook runs gives the result grading after it gives (grader/overlap.py,
grader/evaluation/live.py): the same verdicts, points, flags, proof and diagnoses, byte for byte apart from the
timings and the sandbox's measured memory peak, for an honest notebook and for one that swaps a run's checkpoints
after they were re-trained live (the check of the file after the notebook still catches it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scenarios import ADAM, DATA, relu6, sigmoid6, train, write_notebook

from grader.assignment import load_assignment
from grader.pipeline import GradeOptions, grade_file

SWAP = """\
import glob, shutil, sys
_d = sys.modules['_grader_probe'].probe().cfg['export_dir']
for _f in glob.glob(_d + '/proof_run1_seg*.pt'):   # the Sigmoid run's checkpoints pass for the ReLU run's
    shutil.copy(_f, _f.replace('proof_run1', 'proof_run0'))"""


def _comparable(result: dict[str, Any]) -> str:
    """The result JSON without what is measured (times, the memory peak) and the grading's own date."""
    r = json.loads(json.dumps(result, default=str))
    r.pop("timings")
    r.pop("graded_at")
    r["sandbox"].pop("memory_peak_mb", None)
    for key in ("wall_s", "kernel_start_s", "probe_setup_s"):
        r["execution"].pop(key, None)
    for cell in r["execution"].get("cells", []):
        cell.pop("duration_s", None)
    return json.dumps(r, sort_keys=True, indent=1)


def _both(tmp: Path, name: str, cells: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    nb = write_notebook(tmp, name, cells)
    assignment = load_assignment()
    live = grade_file(nb, assignment, GradeOptions(overlap=True, replay_seed=5))
    after = grade_file(nb, assignment, GradeOptions(overlap=False, replay_seed=5))
    return live, after


@pytest.mark.parametrize("tamper", [False, True], ids=["honest", "swapped_after_training"])
def test_grading_while_the_notebook_runs_gives_the_same_result(tmp_path: Path, tamper: bool) -> None:
    # a third run trains last, so the earlier runs' segments are re-trained live while it trains (the last run's
    # live replay races the notebook's end, which stops it: nothing is waited for)
    cells = [DATA, relu6(), train(ADAM, 3), sigmoid6(), train(ADAM, 3), *([SWAP] if tamper else []),
             relu6(), train(ADAM, 3)]
    live, after = _both(tmp_path, "overlap", cells)
    assert live["timings"]["segments_replayed_live"] > 0, live["timings"]  # the live replay did the work
    assert after["timings"]["segments_replayed_live"] == 0
    proofs = [r["proof"]["status"] for r in live["runs"]]
    assert proofs == (["unverified", "verified", "verified"] if tamper else ["verified"] * 3), proofs
    if tamper:  # re-trained live from the genuine file, caught after the notebook all the same
        assert "sha256 differs" in live["runs"][0]["proof"]["reason"]
    assert _comparable(live) == _comparable(after)
