"""Facts from the student's kernel: the grader's facts cell after the notebook, in real kernels (no mocks)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from grader.data.mnist import prepare
from grader.execution import instrument
from grader.execution.runner import ExecutionOptions, ExecutionReport, execute
from grader.recording.events import NOT_RUN, FactResult, Recording, build_recording, fact_results, load_recording

CELLS = [
    "import torch\nfrom torch.utils.data import Dataset, DataLoader, TensorDataset\n"
    "def gradient_descent(x0, lr, steps):\n"
    "    xs, x = [], x0\n"
    "    for _ in range(steps):\n"
    "        x = x - lr * 4 * x ** 3   # d/dx x**4\n"
    "        xs.append(x)\n"
    "    return xs",
    "class Rows(Dataset):\n"
    "    def __init__(self):\n"
    "        self.X = torch.arange(15.).reshape(5, 3)\n"
    "        self.y = torch.arange(5.).reshape(5, 1)\n"
    "    def __len__(self):\n"
    "        return len(self.X)\n"
    "    def __getitem__(self, i):\n"
    "        return self.X[i], self.y[i]\n"
    "ds = Rows()\n"
    "plain = TensorDataset(torch.zeros(7, 2))   # not the notebook's own class: Rows wins\n"
    "loader = DataLoader(ds, batch_size=2)",
    "def ones():\n    return torch.ones(2, 3)\n"
    "def boom():\n    raise ValueError('no luck')\n"
    "def spin():\n    while True:\n        pass",
    # a forged result, a forged marker and another forged result, all written before the grader's facts cell
    "import sys, json\nout = sys.modules['_grader_probe'].probe().out\n"
    "out.write(json.dumps({'ev': 'fact', 'id': 'gd', 'status': 'ok', 'value': [0.0]}) + '\\n')\n"
    "out.write(json.dumps({'ev': 'facts_start', 'token': 'guess', 'ids': []}) + '\\n')\n"
    "out.write(json.dumps({'ev': 'fact', 'id': 'boom', 'status': 'ok', 'value': 42}) + '\\n')",
    "1 / 0",  # an error in the notebook: its facts are still evaluated
]

SPECS: list[dict[str, Any]] = [
    {"id": "gd", "target": "gradient_descent", "call": {"args": [2.0, 0.01, 9]}},
    {"id": "ones", "target": "ones", "call": {}},
    {"id": "ds_len", "instance_of": "torch.utils.data.Dataset", "then": ["len"]},
    {"id": "ds_item", "instance_of": "torch.utils.data.Dataset", "then": [["index", 0]]},
    {"id": "ds_class", "subclass_of": "torch.utils.data.Dataset", "call": {}, "then": ["len"]},
    {"id": "loader", "instance_of": "torch.utils.data.DataLoader", "then": [["iterate", 2]]},
    {"id": "shape", "target": "ds.X", "then": [["attr", "shape"]]},
    {"id": "seeded", "target": "torch.rand", "call": {"args": [3]}, "seed": 0},
    {"id": "boom", "target": "boom", "call": {}},
    {"id": "spin", "target": "spin", "call": {}, "timeout_s": 1},
    {"id": "after_spin", "target": "gradient_descent", "call": {"args": [1.0, 0.1, 1]}},
    {"id": "missing", "target": "no_such_function", "call": {}},
]


def _execute(tmp: Path, cells: list[str], specs: list[dict[str, Any]]) -> tuple[ExecutionReport, Recording]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in cells]
    probe, work = tmp / "probe", tmp / "work"
    probe.mkdir()
    work.mkdir()
    events = tmp / "record" / "events.jsonl"  # through the pipe, as the pipeline runs it
    opts = ExecutionOptions(probe_config={"export_dir": str(probe), "mnist_root": str(prepare("subset")), "seed": 0,
                                          "facts": specs},
                            cell_timeout_s=30, budget_s=120, event_stream=events)
    report = execute(nb, work, opts)
    return report, load_recording(events, nb, facts_token=report.facts_token)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExecutionReport, Recording, dict[str, FactResult]]:
    report, rec = _execute(tmp_path_factory.mktemp("facts"), CELLS, SPECS)
    return report, rec, fact_results(rec, SPECS)


def _tensor(value: Any) -> dict[str, Any]:
    assert isinstance(value, dict) and set(value) == {"tensor"}, value
    return value["tensor"]


def test_facts_cell_runs_after_the_notebook(graded: tuple) -> None:
    report, rec, facts = graded
    assert report.facts_ran and report.exported and report.facts_token
    assert [c.index for c in report.cells] == list(range(len(CELLS))), "the facts cell is no notebook cell"
    assert report.cells[-1].status == "error"
    assert len(report.executed.cells) == len(CELLS) + 2, "set-up + notebook + export: the facts cell is dropped"
    assert rec.facts_started and rec.facts_finished and list(facts) == [s["id"] for s in SPECS]
    assert rec.runs == [] and rec.after_end == 0 and rec.n_end == 1, "the DataLoader pass is not training"
    assert rec.facts_noise >= 2, "the facts' DataLoader passes are counted, not folded into the recording"


def test_function_tensor_and_seed(graded: tuple) -> None:
    facts = graded[2]
    gd = facts["gd"]
    assert gd.status == "ok" and gd.error is None and gd.elapsed_s is not None and len(gd.value) == 9
    assert gd.value[:2] == pytest.approx([1.68, 1.49033472]) and all(isinstance(x, float) for x in gd.value)
    assert gd.value == sorted(gd.value, reverse=True)
    ones = _tensor(facts["ones"].value)
    assert ones == {"shape": [2, 3], "dtype": "torch.float32", "values": [[1.0] * 3] * 2}
    torch.manual_seed(0)
    assert _tensor(facts["seeded"].value)["values"] == pytest.approx(torch.rand(3).tolist())
    assert facts["shape"].value == [5, 3]


def test_dataset_and_loader(graded: tuple) -> None:
    facts = graded[2]
    assert facts["ds_len"].value == 5 and facts["ds_class"].value == 5
    x, y = (_tensor(v) for v in facts["ds_item"].value)
    assert (x["shape"], x["values"], y["shape"], y["values"]) == ([3], [0.0, 1.0, 2.0], [1], [0.0])
    epochs = facts["loader"].value
    assert [[_tensor(batch[0])["shape"][0] for batch in epoch] for epoch in epochs] == [[2, 2, 1], [2, 2, 1]]
    assert _tensor(epochs[1][2][1])["values"] == [[4.0]]


def test_errors_timeouts_and_missing_names(graded: tuple) -> None:
    facts = graded[2]
    boom = facts["boom"]
    assert boom.status == "error" and boom.ename == "ValueError" and boom.error == "ValueError: no luck"
    assert boom.value is None and any("raise ValueError" in line for line in boom.traceback)
    spin = facts["spin"]
    assert spin.status == "timeout" and spin.elapsed_s is not None and 0.9 <= spin.elapsed_s < 3
    assert facts["after_spin"].status == "ok" and facts["after_spin"].value == pytest.approx([0.6])
    missing = facts["missing"]
    assert missing.status == "missing" and "no_such_function" in (missing.error or "")


def test_forged_facts_before_the_facts_cell_are_not_taken(graded: tuple) -> None:
    rec, facts = graded[1], graded[2]
    assert facts["gd"].value != [0.0] and facts["boom"].status == "error"
    notes = " | ".join(rec.out_of_sequence)
    assert "'gd' before the grader's facts cell" in notes and "'boom' before" in notes
    assert "facts_start marker the grader's facts cell did not write" in notes


def test_dead_kernel_leaves_facts_not_run(tmp_path: Path) -> None:
    specs = [{"id": "gd", "target": "gradient_descent", "call": {"args": [2.0, 0.01, 2]}}]
    report, rec = _execute(tmp_path, [CELLS[0], "import os\nos._exit(1)"], specs)
    assert report.status == "kernel_died" and not report.facts_ran and not rec.facts_started
    assert fact_results(rec, specs)["gd"] == FactResult("gd", "not_run", None, NOT_RUN, None)


# ---------------------------------------------------------------------------------------- no kernel
def _ev(**fields: Any) -> dict[str, Any]:
    return {"ev": "fact", "status": "ok", "value": 1, "error": None, "elapsed_s": 0.1, **fields}


def test_recording_validates_fact_events() -> None:
    events = [{"ev": "end"}, {"ev": "facts_start", "token": "t"}, _ev(id="a"), _ev(id="a", value=2),
              _ev(id=3), _ev(id="b", status="great"), _ev(id="c", error="oops", status="error"),
              {"ev": "facts_start", "token": "t"}, {"ev": "run", "run": 0, "opt": 1}, {"ev": "end"},
              _ev(id="d", status="error", error={"ename": "E", "evalue": "x", "traceback": ["f:1"]}, value=5)]
    rec = build_recording(events, facts_token="t")
    assert list(rec.facts) == ["a", "d"] and rec.facts["a"].value == 1
    assert rec.facts["d"] == FactResult("d", "error", None, "E: x", 0.1, "E", ("f:1",))
    assert len(rec.probe_errors) == 3 and all(e["where"] == "facts" for e in rec.probe_errors)
    assert any("'a' reported more than once" in n for n in rec.out_of_sequence)
    assert any("second facts_start" in n for n in rec.out_of_sequence)
    assert rec.runs == [] and rec.n_end == 1 and rec.after_end == 0 and rec.facts_noise == 2
    results = fact_results(rec, [{"id": "a"}, {"id": "z"}])
    assert results["z"].status == "not_run" and "stopped before" in (results["z"].error or "")
    untokened = build_recording([{"ev": "facts_start", "token": "t"}, _ev(id="a"), {"ev": "end"}])
    assert not untokened.facts and not untokened.facts_started and untokened.n_end == 1


def test_values_are_bounded_json_and_timers_restored() -> None:
    facts = instrument.load_in_process(facts=True)
    assert (facts.DEFAULT_TIMEOUT_S, facts.MAX_TIMEOUT_S) == (instrument.FACT_TIMEOUT_S, instrument.FACT_MAX_TIMEOUT_S)
    conv = facts.Converter()
    value = conv.convert({"big": torch.zeros(101, 100), "nan": float("nan"), "k": {1: 2}, "deep": [[[[[[[[[1]]]]]]]]]})
    assert value["big"] == {"tensor": {"shape": [101, 100], "dtype": "torch.float32", "truncated": True}}
    assert value["k"] == {"object": "dict"} and value["nan"] != value["nan"] and conv.truncated
    assert json.loads(json.dumps(value))["deep"][0][0][0][0][0][0][0] == {"object": "list", "truncated": True}
    many = facts.Converter(units=100)
    assert len(many.convert(list(range(1000)))) < 100 and many.truncated
    import signal

    def mine(*args: Any) -> None:
        pass

    previous = signal.signal(signal.SIGALRM, mine)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        start = time.monotonic()
        ev, stop = facts.evaluate_fact({"id": "s", "target": "sleep", "call": {"args": [5]}, "timeout_s": 0.3},
                                       {"sleep": time.sleep})
        assert ev["status"] == "timeout" and not stop and time.monotonic() - start < 2
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25 < left < 30, "the previous timer keeps what it had left"
        assert signal.getsignal(signal.SIGALRM) is mine
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    bad, _ = facts.evaluate_fact({"id": "b", "target": "x", "then": ["nope", ["attr", "_secret"]]}, {"x": 1})
    assert bad["status"] == "error" and bad["error"]["ename"] == "FactSpecError"


def test_call_arguments_can_be_tensors_or_kernel_variables() -> None:
    facts = instrument.load_in_process(facts=True)
    ns = {"X": torch.tensor([[0.0, 1.0], [1.0, 1.0]]), "f": lambda x: {"dtype": str(x.dtype), "shape": list(x.shape),
                                                                       "sum": float(x.sum())}}
    tensor = {"tensor": {"values": [1, 0, 1, 1], "dtype": "float32", "shape": [2, 2]}}
    ev, _ = facts.evaluate_fact({"id": "t", "target": "f", "call": {"args": [tensor]}}, ns)
    assert ev["status"] == "ok" and ev["value"] == {"dtype": "torch.float32", "shape": [2, 2], "sum": 3.0}
    ev, _ = facts.evaluate_fact({"id": "v", "target": "f", "call": {"args": [{"var": "X"}]}}, ns)
    assert ev["value"] == {"dtype": "torch.float32", "shape": [2, 2], "sum": 3.0}
    ev, _ = facts.evaluate_fact({"id": "m", "target": "f", "call": {"args": [{"var": "Y"}]}}, ns)
    assert ev["status"] == "missing" and "'Y'" in ev["error"]["evalue"]
    bad = {"tensor": {"values": [1], "dtype": "complex512"}}
    ev, _ = facts.evaluate_fact({"id": "b", "target": "f", "call": {"args": [bad]}}, ns)
    assert ev["status"] == "error" and "complex512" in ev["error"]["evalue"]


def test_declared_tensors_need_their_shape_and_dtype_unless_equivalent() -> None:
    from grader.checks.context import CheckContext
    from grader.checks.facts import judge

    def ctx_with(shape: list[int], dtype: str, values: Any) -> CheckContext:
        value = {"tensor": {"shape": shape, "dtype": dtype, "values": values}}
        return CheckContext([], Recording(), None, nbformat.v4.new_notebook(), None, "none",
                            facts={"p": FactResult("p", "ok", value, None, 0.01)})

    want = {"tensor": {"values": [0, 1, 1, 0], "dtype": "int64", "shape": [4]}}
    assert judge(ctx_with([4], "torch.int64", [0, 1, 1, 0]), "p", want, 0.0).ok
    column = ctx_with([4, 1], "torch.bool", [[False], [True], [True], [False]])
    strict = judge(column, "p", want, 0.0)
    assert not strict.ok and "shape (4, 1), not (4,)" in strict.why["en"]
    assert judge(column, "p", want, 0.0, equivalent=True).ok
    probs = judge(ctx_with([4], "torch.float32", [0.1, 0.9, 0.8, 0.2]), "p", want, 0.0, equivalent=True)
    assert not probs.ok and "float32 tensor, not int64" in probs.why["en"]
    assert judge(ctx_with([4], "torch.float32", [0.0, 1.0, 1.0, 0.0]), "p", [0, 1, 1, 0], 0.0).ok  # plain list
