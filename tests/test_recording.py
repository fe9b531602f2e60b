"""Folding the probe's event stream into runs and epochs; the architecture view of traced models."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from grader.recording.architecture import analyse
from grader.recording.events import build_recording, load_recording
from grader.recording.probe_graph import trace_graph


def _graph(model: nn.Module, x: torch.Tensor | None = None) -> dict[str, Any]:
    """The op graph the probe traces from one training step of ``model`` (a loss on a real batch)."""
    x = torch.rand(8, 1, 28, 28) if x is None else x
    model.train()
    loss = F.cross_entropy(model(x), torch.arange(x.shape[0]) % 10)
    return trace_graph(loss, list(model.modules()))["graph"]


def _linear_graph() -> dict[str, Any]:
    torch.manual_seed(0)
    return _graph(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))


def _events(iters: list[int], loader_len: int = 3, graph: Any = None) -> list[dict]:
    evs = [{"ev": "optimizer", "opt": 1, "torch_cls": "SGD", "cls": "SGD", "hparams": {"lr": 0.1}},
           {"ev": "run", "run": 0, "opt": 1, "model": None, "graph": _linear_graph() if graph is None else graph,
            "loss": "cross_entropy", "batch": 100, "cell": 2}]
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


def test_run_event_carries_the_graph() -> None:
    graph = _linear_graph()
    run = build_recording(_events([1, 1, 1], graph=graph)).runs[0]
    assert run.graph == graph and run.loss_kind == "cross_entropy" and run.batch == 100 and run.cell == 2
    arch = analyse(run.graph)
    assert arch is not None and arch.hidden == 0 and arch.affine == ((784, 10),)
    for bad in ([{"op": "linear"}], "graph", 3):  # anything but a dict (an old-style layer list) is no graph
        assert build_recording(_events([1], graph=bad)).runs[0].graph is None


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
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.Sigmoid(),
                          nn.Linear(128, 10), nn.Softmax(dim=1))
    arch = analyse(_graph(model))
    assert arch is not None
    assert arch.hidden == 2 and arch.widths == (256, 128) and arch.hidden_acts == ("relu", "sigmoid")
    assert arch.output_ops == ("softmax",) and arch.activation_family == "mixed"
    assert arch.describe() == "784→256→128→10 (ReLU ×1, Sigmoid ×1, then Softmax)"
    assert arch.in_features == 784 and arch.out_features == 10 and arch.kinds == ("linear",) * 3

    no_act = analyse(_graph(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.Linear(64, 10))))
    assert no_act is not None and no_act.hidden_acts == (None,) and no_act.activation_family == "none"
    assert analyse(None) is None


def test_invalid_graphs_give_no_architecture() -> None:
    graph = _linear_graph()
    assert analyse({}) is None
    assert analyse({"nodes": []}) is None
    bad = copy.deepcopy(graph)
    bad["nodes"][1]["op"] = "conv2d"  # not in the op table
    assert analyse(bad) is None
    bad = copy.deepcopy(graph)
    bad["nodes"][1]["weight"] = "nope"  # a tensor the table does not declare
    assert analyse(bad) is None
    assert analyse(graph) is not None


def test_batchnorm_and_dropout_decorate_but_do_not_count() -> None:
    torch.manual_seed(1)
    mods: list[nn.Module] = [nn.Flatten()]
    prev = 784
    for _ in range(6):
        mods += [nn.Linear(prev, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.1), nn.Dropout(0.2)]
        prev = 256
    mods.append(nn.Linear(256, 10))
    arch = analyse(_graph(nn.Sequential(*mods)))
    assert arch is not None
    assert arch.hidden == 6 and arch.widths == (256,) * 6 and arch.activation_family == "leaky_relu"
    assert arch.decorations() == ["BatchNorm", "Dropout 0.2"]
    assert all(layer.decorations == ("BatchNorm", "Dropout 0.2") for layer in arch.layers[:-1])
    assert arch.layers[-1].decorations == () and arch.layers[-1].activation is None and arch.output_ops == ()
    assert arch.describe() == "784→256×6→10 (LeakyReLU ×6 · BatchNorm · Dropout 0.2)"


def test_conv_layers_are_read_with_their_kernels() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 5), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    arch = analyse(_graph(model))
    assert arch is not None
    assert arch.kinds == ("conv", "conv", "linear") and arch.hidden == 2
    assert [(x.n_in, x.n_out, x.kernel) for x in arch.layers] == [(1, 8, (3, 3)), (8, 16, (5, 5)), (16, 10, ())]
    assert arch.hidden_acts == ("relu", "relu") and arch.in_features == 784 and arch.input_shape == (1, 28, 28)
    assert arch.layers[0].label() == "Conv 1→8 3×3"
    assert "MaxPool 2" in arch.layers[0].decorations
    assert arch.describe().startswith("Conv 1→8 3×3 · MaxPool 2 → Conv 8→16 5×5")


def test_maxout_is_one_layer_and_handwritten_layout_is_read() -> None:
    class Maxout(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b, self.out = nn.Linear(784, 32), nn.Linear(784, 32), nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.flatten(1)
            return self.out(torch.max(self.a(x), self.b(x)))

    torch.manual_seed(3)
    arch = analyse(_graph(Maxout()))
    assert arch is not None
    assert arch.kinds == ("maxout", "linear") and arch.hidden == 1 and arch.widths == (32,)
    assert arch.layers[0].pieces == 2 and arch.hidden_acts == ("maxout",)
    assert arch.layers[0].label() == "Maxout 784→32 (k=2)"

    w1, b1 = torch.randn(784, 48, requires_grad=True), torch.zeros(48, requires_grad=True)
    w2 = torch.randn(48, 10, requires_grad=True)
    x = torch.rand(8, 784)
    loss = F.cross_entropy(torch.tanh(x @ w1 + b1) @ w2, torch.arange(8) % 10)
    hand = analyse(trace_graph(loss)["graph"])
    assert hand is not None
    assert hand.affine == ((784, 48), (48, 10)) and hand.hidden_acts == ("tanh",)
    assert hand.n_params == 784 * 48 + 48 + 48 * 10


def test_n_params_counts_each_trainable_tensor_once() -> None:
    torch.manual_seed(4)
    shared = nn.Linear(32, 32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32, bias=False), nn.BatchNorm1d(32), nn.PReLU(),
                          shared, nn.ReLU(), shared, nn.ReLU(), nn.LayerNorm(32), nn.Linear(32, 10))
    arch = analyse(_graph(model))
    assert arch is not None
    # BatchNorm's running statistics are buffers, not parameters; the shared layer counts once
    assert arch.n_params == sum(p.numel() for p in model.parameters())
    assert arch.hidden == 3 and arch.to_dict()["params"] == arch.n_params


def test_a_full_batch_loop_without_a_served_split_counts_steps() -> None:
    evs = _events([-1] * 25)
    evs[-1]["losses"] = [1.0 - i / 50 for i in range(25)]
    run = build_recording(evs).runs[0]
    assert not run.has_epochs and run.epochs_completed == 0
    unit, means, per = run.progress()
    assert unit == "step" and per == 3 and len(means) == 8  # 9 windows of 3; the short last one (1 step) dropped
    assert means[0] == sum(1.0 - i / 50 for i in range(3)) / 3 and means[-1] < means[0]
    served = _events([-1] * 6)
    served.insert(0, {"ev": "dataset", "split": "train", "n_items": 200})
    sized = build_recording(served).runs[0]
    assert sized.has_epochs and sized.progress() == ("epoch", sized.epoch_means(), 1)
