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


# A student's dataset as it is after these lines (``ds``: MNIST with ToTensor, or as the line makes it), then
# two epochs: the fast path (a whole batch through __getitems__) must give exactly what torchvision gives.
VARIANTS = {
    "subset": "ds = torch.utils.data.Subset(ds, range(0, 6000, 2))",
    "normalize_inplace": ("ds = dsets.MNIST('MNIST_data/', train=True, download=True, transform=T.Compose("
                          "[T.ToTensor(), T.Normalize((0.1307,), (0.3081,), inplace=True)]))"),
    "targets_changed_in_place": "ds.targets[ds.targets != 3] = 0",
    "data_changed_in_place": "ds.data[ds.data < 100] = 0",
    "subclass_getitem": ("class Half(dsets.MNIST):\n"
                         "    def __getitem__(self, i):\n"
                         "        x, y = super().__getitem__(i)\n"
                         "        return x * 0.5, y\n"
                         "ds = Half('MNIST_data/', train=True, transform=T.ToTensor(), download=True)"),
    "target_transform": "ds.target_transform = lambda y: (y + 1) % 10",
}

VARIANT_SCRIPT = textwrap.dedent("""
    import sys, json
    from grader.execution.instrument import load_in_process
    load_in_process().install(json.loads(sys.argv[1]))
    import torch, torchvision.datasets as dsets, torchvision.transforms as T
    out = {}
    for name, code in json.loads(sys.argv[2]).items():
        torch.manual_seed(777)
        ds = dsets.MNIST("MNIST_data/", train=True, transform=T.ToTensor(), download=True)
        exec(code)
        dl = torch.utils.data.DataLoader(ds, batch_size=100, shuffle=True, drop_last=True)
        sums = []
        for _ in range(2):
            for X, Y in dl:
                sums.append([float(X.double().sum()), float((X.double() ** 2).sum()), Y.tolist()])
        inner = getattr(ds, "dataset", ds)
        out[name] = {"sums": sums, "fast": "_grader_fast" in inner.__dict__}
    print(json.dumps(out))
""")


def _variants(tmp: Path, fast: bool) -> dict:
    cfg = {"events_path": str(tmp / f"ev-{fast}.jsonl"), "export_dir": str(tmp),
           "mnist_root": str(prepare("subset")), "seed": 0, "fast_mnist": fast}
    out = subprocess.run([sys.executable, "-c", VARIANT_SCRIPT, json.dumps(cfg), json.dumps(VARIANTS)],
                         capture_output=True, text=True, timeout=600, check=False, cwd=tmp)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_batches_equal_torchvision_for_what_students_do_to_the_dataset(tmp_path: Path) -> None:
    slow, fast = _variants(tmp_path, False), _variants(tmp_path, True)
    for name in VARIANTS:
        assert not slow[name]["fast"], name
        assert fast[name]["fast"], name  # the fast path was on, and stood aside where it must
        assert fast[name]["sums"] == slow[name]["sums"], f"{name}: batches differ from torchvision's"
