"""The fast MNIST path: bit-identical losses with and without it, and untouched for other transforms."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.data.mnist import prepare

SCRIPT = textwrap.dedent("""
    import sys, json, time
    from grader.execution.instrument import load_in_process
    load_in_process().install(json.loads(sys.argv[1]))
    import torch, torchvision.datasets as dsets, torchvision.transforms as T
    torch.manual_seed(777)
    tf = {"plain": T.ToTensor(), "norm": T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
          "other": T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2)])}[sys.argv[2]]
    ds = dsets.MNIST("MNIST_data/", train=True, transform=tf, download=True)
    dl = torch.utils.data.DataLoader(ds, batch_size=100, shuffle=True, drop_last=True)
    model = torch.nn.Sequential(torch.nn.Linear(784, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses, t = [], time.perf_counter()
    for X, Y in dl:
        opt.zero_grad(); cost = torch.nn.functional.cross_entropy(model(X.view(-1, 784)), Y)
        cost.backward(); opt.step(); losses.append(cost.item())
    print(json.dumps({"losses": losses, "fast": "_grader_fast" in ds.__dict__, "s": time.perf_counter() - t}))
""")


def _train(tmp: Path, fast: bool, transform: str) -> dict:
    cfg = {"events_path": str(tmp / f"ev-{fast}-{transform}.jsonl"), "export_dir": str(tmp),
           "mnist_root": str(prepare("subset")), "seed": 0, "fast_mnist": fast}
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(cfg), transform],
                         capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("transform", ["plain", "norm"])
def test_fast_path_is_bit_identical(tmp_path: Path, transform: str) -> None:
    slow, fast = _train(tmp_path, False, transform), _train(tmp_path, True, transform)
    assert fast["fast"] and not slow["fast"]
    assert len(fast["losses"]) == 60
    assert fast["losses"] == slow["losses"], "per-step losses must be exactly equal"


def test_other_transforms_run_untouched(tmp_path: Path) -> None:
    assert not _train(tmp_path, True, "other")["fast"]
