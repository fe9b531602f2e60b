"""The training-loop doctor without a kernel: the kernel-side evidence recorded in this process by the real probe
over real torch training on the MNIST subset, the rules on that evidence, the configuration, task sections and
how findings attach to checks. The kernel scenarios are in test_diagnosis_scenarios.py."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import torch

from grader.assignment import find_assignment, load_assignment
from grader.data.mnist import load_split, prepare
from grader.data.provider import MnistProvider
from grader.diagnosis import Diagnosis, DiagnosisConfig, DiagnosisInput, TaskSpec, diagnose, gradients
from grader.diagnosis.cells import task_sections
from grader.errors import AssignmentError
from grader.evaluation.evaluate import evaluate_runs
from grader.execution.instrument import load_in_process
from grader.recording.events import load_recording
from grader.scoring.explain import explain_checks
from grader.text import text

ROOT = prepare("subset")


@pytest.fixture(scope="module")
def loader() -> Iterator[torch.utils.data.DataLoader[Any]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    x, y = load_split(ROOT, train=True)
    ds = torch.utils.data.TensorDataset(x[:3000].float().div(255).view(-1, 784), y[:3000])
    yield torch.utils.data.DataLoader(ds, batch_size=100, shuffle=True, drop_last=True)
    torch.set_num_threads(threads)


def _mlp(hidden: int = 2, width: int = 64, out: list[torch.nn.Module] | None = None) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    n_in = 784
    for _ in range(hidden):
        layers += [torch.nn.Linear(n_in, width), torch.nn.ReLU()]
        n_in = width
    return torch.nn.Sequential(*layers, torch.nn.Linear(n_in, 10), *(out or []))


def _record(train_fn: Callable[[], None]) -> DiagnosisInput:
    """Run ``train_fn`` under the real probe (loaded in this process) and read back what it recorded."""
    probe = load_in_process()
    tmp = Path(tempfile.mkdtemp(prefix="grader-doctor-"))
    try:
        p = probe.install({"events_path": str(tmp / "events.jsonl"), "export_dir": str(tmp), "mnist_root": str(ROOT),
                           "seed": 0})
        try:
            train_fn()
        finally:
            p.flush_all()  # the export cell does this in a kernel
            probe.uninstall()
        rec = load_recording(tmp / "events.jsonl")
        return DiagnosisInput(evaluate_runs(rec, tmp, MnistProvider(), ROOT), rec, None, None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _loop(loader: Any, model: torch.nn.Module, opt: torch.optim.Optimizer, zero: str = "optimizer",
          epochs: int = 1, loss_fn: Callable[[Any, Any], Any] | None = None) -> None:
    crit = loss_fn or torch.nn.CrossEntropyLoss()
    for _ in range(epochs):
        for X, Y in loader:
            if zero == "optimizer":
                opt.zero_grad()
            elif zero == "keep_tensors":
                opt.zero_grad(set_to_none=False)
            elif zero == "model":
                model.zero_grad()
            crit(model(X), Y).backward()
            opt.step()


# ============================================================================ kernel-side evidence + rules
@pytest.mark.parametrize("zero", ["optimizer", "keep_tensors", "model"])
def test_every_way_of_zeroing_counts(loader: Any, zero: str) -> None:
    def fn() -> None:
        m = _mlp()
        _loop(loader, m, torch.optim.Adam(m.parameters(), lr=1e-3), zero=zero)

    inp = _record(fn)
    carry = inp.doctor_events("grad_carry")
    assert carry and all(e["carried"] == 0.0 for e in carry), carry
    assert not gradients.grad_not_zeroed(inp, DiagnosisConfig())


def test_missing_zero_grad_is_found_from_the_carried_gradient(loader: Any) -> None:
    def fn() -> None:
        m = _mlp()
        _loop(loader, m, torch.optim.SGD(m.parameters(), lr=0.05), zero="none")

    found = [d for d in diagnose(_record(fn)) if d.id == "grad_not_zeroed"]
    assert len(found) == 1 and found[0].severity == "error" and found[0].run == 0
    checks = found[0].evidence["checks"]
    assert len(checks) >= 3 and all(c["carried"] > 0 for c in checks)
    assert checks[-1]["carried"] > checks[0]["carried"]  # it keeps growing: every step adds to the sum


def test_nan_loss_names_the_step_and_the_learning_rate(loader: Any) -> None:
    """log(softmax) with Adam at lr 0.5: a probability reaches exactly 0 and the loss is inf at step 2."""
    def fn() -> None:
        m = _mlp(out=[torch.nn.Softmax(dim=1)])
        nll = torch.nn.NLLLoss()
        _loop(loader, m, torch.optim.Adam(m.parameters(), lr=0.5), loss_fn=lambda out, y: nll(torch.log(out), y))

    inp = _record(fn)
    assert inp.runs[0].run.losses[1] is None  # not finite
    d = next(d for d in diagnose(inp) if d.id == "lr_too_high")
    assert d.severity == "error" and d.evidence["first_nonfinite_step"] == 1 and d.evidence["lr"] == 0.5
    assert "NaN/inf at step 2" in d.message["en"] and "lr 0.5" in d.message["en"] and "lr=0.05" in d.todo["en"]


def test_exploding_gradients_fold_into_the_learning_rate(loader: Any) -> None:
    def fn() -> None:
        m = _mlp(hidden=6)
        _loop(loader, m, torch.optim.Adam(m.parameters(), lr=0.1))

    inp = _record(fn)
    exploding = gradients.exploding(inp, DiagnosisConfig())
    assert len(exploding) == 1 and exploding[0].evidence["ratio"] >= 1000, inp.doctor_events("grads")
    found = {d.id: d for d in diagnose(inp)}
    assert "exploding_gradients" not in found  # one root cause per run: the learning rate explains it
    assert any(a["id"] == "exploding_gradients" for a in found["lr_too_high"].evidence["also"])
    assert "dead_relu" in found


def test_stepping_an_optimizer_that_holds_another_model(loader: Any) -> None:
    def fn() -> None:
        old = _mlp()
        adam = torch.optim.Adam(old.parameters(), lr=1e-3)
        _loop(loader, old, adam)
        new = _mlp()
        torch.optim.SGD(new.parameters(), lr=0.1)  # made for the new model, never stepped
        _loop(loader, new, adam)  # the copy-pasted loop still steps the old model's Adam

    inp = _record(fn)
    idle = inp.doctor_events("idle_step")
    assert [e["n"] for e in idle] == [1, 2, 4, 8, 16] and all(e["shared_params"] == 0 for e in idle)
    d = next(d for d in diagnose(inp) if d.evidence.get("cause") == "wrong_optimizer")
    assert d.severity == "error" and d.evidence["idle_steps"] >= 16 and d.run is None  # 30 with the end event
    assert d.evidence["never_stepped"][0]["optimizer"] == "SGD"


def test_input_range_and_train_mode_forward_evidence(loader: Any) -> None:
    def fn() -> None:
        m = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                torch.nn.Linear(32, 10))
        _loop(loader, m, torch.optim.Adam(m.parameters(), lr=1e-3))
        with torch.no_grad():
            m(load_split(ROOT, train=False)[0][:50].float().view(-1, 784))  # no eval(), no / 255

    inp = _record(fn)
    train = [e for e in inp.doctor_events("forward") if e["grad"]]
    test = [e for e in inp.doctor_events("forward") if not e["grad"]]
    assert len(train) == 3 and all(e["max"] <= 1.0 for e in train)
    assert len(test) == 1 and test[0]["max"] == 255 and test[0]["training"] is True
    assert test[0]["active"]["dropout"] == [0.3]


# ============================================================================ engine, config, cells, explain
def test_config_from_the_assignment() -> None:
    cfg = load_assignment().diagnoses
    assert cfg.lecture_for("chance_plateau", "vanishing_gradients").startswith("4. Activation Function: Sigmoid")
    assert cfg.lecture_for("chance_plateau", "unknown") is None
    tuned = DiagnosisConfig.from_table({"plateau_epochs": 3, "disabled": ["dead_relu"], "plateau_window": 20})
    assert tuned.plateau_epochs == 3.0 and tuned.disabled == ("dead_relu",) and tuned.plateau_window == 20
    with pytest.raises(ValueError, match="plateau_epoch"):
        DiagnosisConfig.from_table({"plateau_epoch": 3})


def test_bad_diagnoses_table_is_an_assignment_error(tmp_path: Path) -> None:
    shutil.copytree(find_assignment("dnn2_mnist"), tmp_path / "a")
    toml = tmp_path / "a" / "assignment.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[diagnoses]\n", "[diagnoses]\nnot_a_setting = 1\n"),
                    encoding="utf-8")
    with pytest.raises(AssignmentError, match="not_a_setting"):
        load_assignment(tmp_path / "a")


def test_task_sections_follow_headings() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Homework: tasks 1, 2 and 3"), nbformat.v4.new_code_cell("a = 1"),
                nbformat.v4.new_markdown_cell("## Task 1. Six hidden layers"), nbformat.v4.new_code_cell("b = 2"),
                nbformat.v4.new_markdown_cell("intro\n### 과제 2 결론"), nbformat.v4.new_code_cell("c = 3"),
                nbformat.v4.new_markdown_cell("## An optimizer other than Adam"), nbformat.v4.new_code_cell("d")]
    tasks = [TaskSpec("t1", 1, "Six hidden layers", None), TaskSpec("t2", 2, "Sigmoid", None),
             TaskSpec("t3", 3, "An optimizer other than Adam", None)]
    from grader.recording.events import Recording

    sections = task_sections(DiagnosisInput([], Recording(), None, nb, tasks))
    assert [sections.get(i) for i in range(8)] == [None, None, "t1", "t1", "t2", "t2", "t3", "t3"]


def _diag(diag_id: str, run: int | None = None, task: str | None = None, severity: Any = "error",
          evidence: dict[str, Any] | None = None) -> Diagnosis:
    return Diagnosis(diag_id, severity, text("en", "ko"), text("do", "해"), evidence or {}, run=run, task=task,
                     cell_index=7 if diag_id == "task_cell_error" else None)


def test_findings_attach_to_the_checks_they_explain() -> None:
    checks = [{"id": "t1.six_hidden", "task": "t1", "status": "pass", "evidence": {"run": 0}},
              {"id": "t1.loss_decreased", "task": "t1", "status": "fail", "evidence": {}},
              {"id": "t2.sigmoid_model", "task": "t2", "status": "fail",
               "message": "no six-hidden-layer Sigmoid model was trained: closest is run 1 (Adam, 784→64 (ReLU ×1)), "
                          "but not every hidden layer uses Sigmoid", "evidence": {}},
              {"id": "t3.other_optimizer", "task": "t3", "status": "fail", "evidence": {},
               "message": "0 points: integrity flag probe_tampered — every training step was taken by Adam"}]
    cell_error = _diag("task_cell_error", task="t2", evidence={"clause": {"en": "task 2's cell index 7 raised X"}})
    found = [_diag("grad_not_zeroed", run=0), _diag("chance_plateau", run=0, severity="info"),
             _diag("train_mode_eval", run=0, severity="warning"), cell_error,
             _diag("task_cell_error", task="t3", evidence={"clause": {"en": "task 3's cell index 9 raised Y"}})]
    out = {c["id"]: c for c in explain_checks(checks, found)}
    assert out["t1.loss_decreased"]["diagnoses"] == ["grad_not_zeroed@run1"]  # not the info, not the printed one
    assert "diagnoses" not in out["t1.six_hidden"]  # it passed
    assert out["t2.sigmoid_model"]["message"] == ("no six-hidden-layer Sigmoid model was trained: task 2's cell index "
                                                  "7 raised X")
    assert out["t2.sigmoid_model"]["evidence"]["closest_other"].startswith("closest is run 1")
    assert out["t3.other_optimizer"]["message"] == ("0 points: integrity flag probe_tampered — task 3's cell index 9 "
                                                    "raised Y; every training step was taken by Adam")
    assert found[0].checks == ["t1.loss_decreased"] and cell_error.checks == ["t2.sigmoid_model"]
    assert checks[2]["message"].startswith("no six-hidden-layer Sigmoid model was trained: closest")  # not mutated


def test_disabled_lecture_and_json_safe_evidence() -> None:
    from grader.recording.events import Recording

    inp = DiagnosisInput([], Recording(), None, None)
    assert diagnose(inp) == []
    d = _diag("lr_too_high", run=0, evidence={"peak": math.inf, "x": [math.nan, 1.0]})
    assert json.loads(json.dumps(d.to_dict(), allow_nan=False))["evidence"] == {"peak": "inf", "x": ["nan", 1.0]}
    assert d.ref == "lr_too_high@run1"
    assert text("run 2 (Adam)", "run 2 (Adam) 학습")["ko"] == "실행 2 (Adam) 학습"


def test_a_heading_as_high_as_the_task_ends_its_section() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## 과제 1: six hidden layers"), nbformat.v4.new_code_cell("a"),
                nbformat.v4.new_markdown_cell("### 모델 생성"), nbformat.v4.new_code_cell("b"),
                nbformat.v4.new_markdown_cell("## 부록 (appendix)"), nbformat.v4.new_code_cell("plt.plot([1])")]
    from grader.recording.events import Recording

    sections = task_sections(DiagnosisInput([], Recording(), None, nb, [TaskSpec("t1", 1, "Six hidden layers", None)]))
    assert [sections.get(i) for i in range(6)] == ["t1", "t1", "t1", "t1", None, None]


def test_a_cell_error_after_the_tasks_run_explains_none_of_its_verdicts() -> None:
    """``plt.plot`` raising after task 1 trained run 1: t1.accuracy's low accuracy is not that cell's fault."""
    checks = [{"id": "t1.accuracy", "task": "t1", "status": "partial", "evidence": {"run": 0},
               "message": "test accuracy 0.7560"},
              {"id": "t1.six_hidden", "task": "t1", "status": "fail", "evidence": {},
               "message": "no six-hidden-layer model was trained: closest is run 5 (SGD, …)"}]
    late = _diag("task_cell_error", task="t1", evidence={"clause": {"en": "task 1's cell index 7 raised NameError"},
                                                           "runs_before": [0]})
    out = {c["id"]: c for c in explain_checks(checks, [late])}
    assert "diagnoses" not in out["t1.accuracy"] and out["t1.accuracy"]["message"] == "test accuracy 0.7560"
    assert out["t1.six_hidden"]["diagnoses"] == ["task_cell_error@cell7"]  # no run named: the error may be why


def test_the_output_layer_rule_knows_the_loss() -> None:
    """A sigmoid output is right before BCELoss (and for a regression), wrong before BCEWithLogitsLoss (sigmoid
    twice) and before CrossEntropyLoss."""
    from grader.diagnosis.structure import _finding
    from grader.evaluation.runs import EvaluatedRun
    from grader.recording.architecture import Architecture, Layer
    from grader.recording.events import Run

    def run(loss: str) -> EvaluatedRun:
        layers = (Layer("linear", 2, 4, "sigmoid", ()), Layer("linear", 4, 1, None, ()))
        r = Run(0, 0, {"torch_cls": "SGD", "hparams": {"lr": 1.0}}, 0, "Sequential", None, None, loss, 4, 1)
        return EvaluatedRun(r, Architecture(layers, ("sigmoid",), (), 17, None))

    assert _finding(run("bce")) is None and _finding(run("mse")) is None
    twice = _finding(run("bce_logits"))
    assert twice is not None and twice.severity == "error" and "BCEWithLogitsLoss applies sigmoid again" in \
        twice.message["en"]
    ce = _finding(run("cross_entropy"))
    assert ce is not None and ce.id == "activation_after_output" and "CrossEntropyLoss" in ce.message["en"]


def test_a_loss_growing_back_in_a_loop_without_epochs_is_told_in_steps() -> None:
    from grader.diagnosis.training import _growth
    from grader.evaluation.runs import EvaluatedRun
    from grader.recording.events import Epoch, Run

    losses = [1.0 - i / 1200 for i in range(600)] + [0.5 + i / 1000 for i in range(400)]
    r = Run(0, 0, {"torch_cls": "SGD", "hparams": {"lr": 5.0}}, 0, "Sequential", None, None, "bce", 4, 1,
            losses=losses, iters=[-1] * 1000, epochs=[Epoch(0, None, 1000, False, None)], steps_only=True)
    found = _growth(EvaluatedRun(r, None), DiagnosisConfig())
    assert found is not None and found[0] == "warning"
    assert "(steps 501–600) and grew back" in found[1]["en"] and "(steps 901–1000)" in found[1]["en"]
    assert found[2]["steps_per_window"] == 100
