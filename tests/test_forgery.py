"""Forged recordings: runs written into the event stream with ``P.emit`` instead of trained, forged ``end``
and final guard reports, and the probe's or guard's methods replaced. No evidence, no run; a forged stream
voids the recording. Real kernels on the embedded MNIST subset (width 32, 2 epochs), plus event-level units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from scenarios import ADAM, DATA, check, flag, flag_ids, sequential, summary, train, write_notebook

from grader.assignment import load_assignment
from grader.checks.context import CheckContext
from grader.checks.tamper import tamper_flags
from grader.evaluation.runs import EvaluatedRun
from grader.pipeline import GradeOptions, grade_file
from grader.recording.events import build_recording

KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
MODEL = sequential(["ReLU"] * 6, width=32)
PROBE = "P = sys.modules['_grader_probe'].probe()"

# task 1 trained for real; then a Sigmoid/Adam run and an SGD run written into the recording with made-up
# falling losses (graph copied from the real run, ReLU renamed Sigmoid). With FAKE_RUNS the forger also
# appends matching entries to the probe's own run list, so the export's run and step counts agree.
FORGE = f"""\
import json, sys
{PROBE}
graph = json.loads(json.dumps(P.runs[0]['graph']).replace('"relu"', '"sigmoid"'))
FAKE_RUNS = False
def forge(k, cls, hp, g, means):
    opt = 10**9 + k
    P.emit('optimizer', opt=opt, cls=cls, torch_cls=cls, hparams=hp, n_params=0)
    P.emit('run', run=k, opt=opt, model=id(model), graph=g, loss=P.last_trace['loss'], batch=100,
           param_overlap=14, n_opt_params=14)
    first = 0
    for e, m in enumerate(means):
        it = 1000 + 10 * k + e
        P.emit('loader_iter', it=it, loader=id(data_loader), len=60, ds=id(mnist_train), batch_size=100,
               split='train', dataset='MNIST', n_items=6000)
        P.emit('steps', run=k, first=first, losses=[m + 0.05 * (30 - i) / 30 for i in range(60)], iters=[it] * 60)
        first += 60
    if FAKE_RUNS:
        P.runs.append({{'opt': object(), 'model': None, 'steps': first, 'buf': [], 'iters': [], 'first': first,
                       'last_iter': -1, 'weights': [], 'tensors': {{}}, 'graph': None}})
forge(1, 'Adam', {{'lr': 0.001}}, graph, [2.30, 2.0, 1.2])
forge(2, 'SGD', {{'lr': 0.1, 'momentum': 0.9}}, P.runs[0]['graph'], [0.9, 0.4, 0.3])"""

SECOND_END = f"""\
import sys
{PROBE}
P.emit('guard', kind='final', state={{}}, first_bad={{}}, runs=[{{'run': 0, 'steps': 120, 'bumped': 120}}])
P.emit('end', hooks_intact={{}}, n_runs=1, steps=[120], empty_steps={{}})"""

REPLACE_REPORT = "import sys\nsys.modules['_grader_probe_guard'].guard().report = lambda: None"

# every event still goes out, except the guard's (which the guard does not send through P.emit)
REPLACE_EMIT = f"""\
import sys
{PROBE}
_emit = P.emit
P.emit = lambda ev, **fields: None if ev == 'guard' else _emit(ev, **fields)"""

T2_T3 = ("t2.sigmoid_model", "t3.other_optimizer", "t3.trained")


def _grade(directory: Path, name: str, cells: list[str]) -> dict[str, Any]:
    return grade_file(write_notebook(directory, name, cells), load_assignment(), GradeOptions(env=dict(KERNEL_ENV)))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("forgery")


def test_forged_runs_earn_nothing(workdir: Path) -> None:
    r = _grade(workdir, "forged_runs", [DATA, MODEL, train(ADAM, 2), FORGE])
    assert [x["optimizer"]["torch_class"] for x in r["runs"]] == ["Adam", "Adam", "SGD"], summary(r)
    forged = [f for f in r["flags"] if f["id"] == "no_training_evidence"]
    assert sorted(f["evidence"]["run"] for f in forged) == [1, 2], summary(r)
    f = flag(r, "probe_tampered")  # the export counted one run, the stream has three
    assert f is not None and any("1 run(s)" in x for x in f["evidence"]["forged"]), summary(r)
    for cid in T2_T3:
        assert check(r, cid)["points"] == 0, summary(r)
    assert r["score"]["auto"] == 0, summary(r)


def test_forged_runs_with_matching_counts_earn_nothing(workdir: Path) -> None:
    """The probe's own run list padded too: only the missing guard evidence gives the runs away."""
    r = _grade(workdir, "forged_runs_padded", [DATA, MODEL, train(ADAM, 2), FORGE.replace(
        "FAKE_RUNS = False", "FAKE_RUNS = True")])
    assert len(r["runs"]) == 3, summary(r)
    assert "probe_tampered" not in flag_ids(r), summary(r)
    assert sorted(f["evidence"]["run"] for f in r["flags"] if f["id"] == "no_training_evidence") == [1, 2], summary(r)
    for cid in T2_T3:
        c = check(r, cid)
        assert c["points"] == 0 and "no_training_evidence" in c.get("voided_by", []), summary(r)
    assert check(r, "t1.six_hidden")["status"] == "pass", summary(r)  # the real run keeps its points


def test_second_end_and_final_report(workdir: Path) -> None:
    r = _grade(workdir, "second_end", [DATA, MODEL, train(ADAM, 2), SECOND_END])
    f = flag(r, "probe_tampered")
    assert f is not None, summary(r)
    assert any("2 end events" in x for x in f["evidence"]["forged"]), f
    assert any("2 final guard reports" in x for x in f["evidence"]["forged"]), f
    assert r["score"]["auto"] == 0, summary(r)


@pytest.mark.parametrize(("name", "tamper", "broken"), [("replace_report", REPLACE_REPORT, "guard_methods"),
                                                       ("replace_emit", REPLACE_EMIT, "probe_methods")])
def test_replaced_probe_functions(workdir: Path, name: str, tamper: str, broken: str) -> None:
    r = _grade(workdir, name, [DATA, MODEL, train(ADAM, 2), tamper])
    f = flag(r, "probe_tampered")
    assert f is not None, summary(r)
    assert broken in f["evidence"]["broken"], f
    assert f["evidence"]["first_seen_cell_index"][broken] == 3, f
    assert r["score"]["auto"] == 0, summary(r)


# ----------------------------------------------------------------------------- event-level units
def _events(final: bool = True, end: bool = True) -> list[dict[str, Any]]:
    evs: list[dict[str, Any]] = [
        {"ev": "hello"}, {"ev": "optimizer", "opt": 1, "cls": "Adam", "torch_cls": "Adam"},
        {"ev": "run", "run": 0, "opt": 1}, {"ev": "steps", "run": 0, "first": 0, "losses": [1.0, 0.9], "iters": [1, 1]},
        {"ev": "steps", "run": 0, "first": 2, "losses": [0.8], "iters": [1]}]
    if final:
        evs.append({"ev": "guard", "kind": "final", "state": {}, "runs": [
            {"run": 0, "steps": 3, "bumped": 3, "data": 0, "idle": 0, "fused": False, "version_delta": 3}]})
    if end:
        evs.append({"ev": "end", "hooks_intact": {}, "n_runs": 1, "steps": [3]})
    return evs


def _flags(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    rec = build_recording(events)
    ctx = CheckContext([EvaluatedRun(r, None) for r in rec.runs], rec, None, nbformat.v4.new_notebook(), None, "subset")
    return {f["id"]: f for f in tamper_flags(ctx)}


def test_honest_stream_and_dead_kernel_are_not_flagged() -> None:
    assert _flags(_events()) == {}
    # the kernel died before the export: no final report, no end; nothing to judge the runs by
    assert _flags(_events(final=False, end=False)) == {}


def test_event_level_forgeries() -> None:
    forged_run = [{"ev": "run", "run": 1, "opt": 2},
                  {"ev": "steps", "run": 1, "first": 0, "losses": [0.5], "iters": [2]}]
    ev = _events()
    flags = _flags(ev[:5] + forged_run + ev[5:])
    assert flags["no_training_evidence"]["untrusted"] == {"runs": [1]}
    assert "probe counted 1 run(s)" in flags["probe_tampered"]["message"]
    dup = _flags(ev[:5] + [{"ev": "run", "run": 0, "opt": 2}] + ev[5:])
    assert "run event 0 after 1 run(s)" in dup["probe_tampered"]["message"]
    gap = _flags(ev[:4] + [{"ev": "steps", "run": 0, "first": 5, "losses": [0.8], "iters": [1]}] + ev[5:])
    assert "starting at 5 after 2 recorded" in gap["probe_tampered"]["message"]
    after = _flags(ev + [{"ev": "steps", "run": 0, "first": 3, "losses": [0.1], "iters": [1]}])
    assert "after the end" in after["probe_tampered"]["message"]
    no_final = _flags(_events(final=False))
    assert "without the guard's final report" in no_final["probe_tampered"]["message"]
    assert "no_training_evidence" not in no_final
