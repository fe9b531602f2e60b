"""Folding the probe's event stream into runs and epochs; the architecture view."""

from __future__ import annotations

from pathlib import Path

from grader.recording.architecture import analyse
from grader.recording.events import build_recording, load_recording


def _lin(i: int, o: int) -> dict:
    return {"op": "linear", "in": i, "out": o, "bias": True}


def _events(iters: list[int], loader_len: int = 3) -> list[dict]:
    evs = [{"ev": "optimizer", "opt": 1, "torch_cls": "SGD", "cls": "SGD", "hparams": {"lr": 0.1}},
           {"ev": "run", "run": 0, "opt": 1, "model": None, "layers": [_lin(784, 10)], "batch": 100, "cell": 2}]
    evs += [{"ev": "loader_iter", "it": it, "len": loader_len, "split": "train"} for it in sorted(set(iters)) if it > 0]
    evs.append({"ev": "steps", "run": 0, "first": 0, "losses": [float(i) for i in range(len(iters))], "iters": iters})
    return evs


def test_epochs_follow_dataloader_passes() -> None:
    rec = build_recording(_events([1, 1, 1, 2, 2, 2, 3]))
    run = rec.runs[0]
    assert [e.steps for e in run.epochs] == [3, 3, 1]
    assert [e.complete for e in run.epochs] == [True, True, False]
    assert run.epochs_completed == 2 and run.epoch_means() == [1.0, 4.0]
    assert run.optimizer_family == "sgd"


def test_manual_batching_chunks_by_train_size() -> None:
    evs = _events([-1] * 7)
    evs.insert(0, {"ev": "dataset", "split": "train", "n_items": 300})
    run = build_recording(evs).runs[0]
    assert [e.steps for e in run.epochs] == [3, 3, 1] and run.epochs_completed == 2


def test_truncated_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"ev": "hello", "torch": "x"}\n{"ev": "optim')
    rec = load_recording(path)
    assert rec.hello == {"ev": "hello", "torch": "x"} and rec.bad_lines == 1


def test_architecture_counts_hidden_layers() -> None:
    layers = [_lin(784, 256), {"op": "relu"}, _lin(256, 128), {"op": "sigmoid"}, _lin(128, 10), {"op": "softmax"}]
    arch = analyse(layers)
    assert arch is not None
    assert arch.hidden == 2 and arch.widths == (256, 128) and arch.hidden_acts == ("relu", "sigmoid")
    assert arch.output_ops == ("softmax",) and arch.activation_family == "mixed"
    assert arch.describe() == "784→256→128→10 (ReLU ×1, Sigmoid ×1, then Softmax)"
    no_act = analyse([_lin(784, 64), _lin(64, 10)])
    assert no_act is not None and no_act.hidden_acts == (None,) and no_act.activation_family == "none"
    assert analyse(None) is None
