"""The fast MNIST path against torchvision's, side by side: seconds per epoch of the lecture's loop.

Same process, same code: torchvision ``MNIST(root, transform=ToTensor())`` + ``DataLoader(batch 100, shuffle)``
and the lecture's 6×256 MLP/Adam step, once with the probe's fast path off (torchvision decodes one PIL image per
sample) and once on (pre-decoded tensors, bit-identical batches). Rounds alternate so machine noise hits both.
Prints seconds per epoch of the data path alone (a loop that only iterates the DataLoader) and of a whole
epoch (data + training steps), and the ratios.
Usage: python benchmarks/fast_data.py [--data full|subset] [--rounds 3] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from grader.data.mnist import prepare

# One epoch in a fresh process per measurement: the probe patches torchvision at import time.
EPOCH = textwrap.dedent("""
    import json, sys, time
    from grader.execution.instrument import load_in_process
    load_in_process().install(json.loads(sys.argv[1]))
    import torch, torchvision.datasets as dsets, torchvision.transforms as T
    torch.set_num_threads(1); torch.manual_seed(777)
    ds = dsets.MNIST("MNIST_data/", train=True, transform=T.ToTensor(), download=True)
    dl = torch.utils.data.DataLoader(ds, batch_size=100, shuffle=True, drop_last=True)
    t = time.perf_counter()
    for X, Y in dl:
        pass
    data_s = time.perf_counter() - t
    layers = [torch.nn.Linear(784, 256), torch.nn.ReLU()]
    for _ in range(5):
        layers += [torch.nn.Linear(256, 256), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(256, 10))
    opt, crit = torch.optim.Adam(model.parameters(), 1e-3), torch.nn.CrossEntropyLoss()
    t = time.perf_counter()
    for X, Y in dl:
        opt.zero_grad(); crit(model(X.view(-1, 784)), Y).backward(); opt.step()
    print(json.dumps({"data_s": data_s, "epoch_s": time.perf_counter() - t, "n": len(ds)}))
""")


def _epoch(fast: bool, root: Path, tmp: Path) -> dict[str, float]:
    cfg = {"events_path": str(tmp / f"ev-{fast}.jsonl"), "export_dir": str(tmp), "mnist_root": str(root),
           "seed": 0, "fast_mnist": fast}
    out = subprocess.run([sys.executable, "-c", EPOCH, json.dumps(cfg)], capture_output=True, text=True,
                         check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=["subset", "full"], default="full")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = prepare(args.data, args.data_dir)
    res: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for fast in (False, True):
                res[fast].append(_epoch(fast, root, Path(tmp)))
                r = res[fast][-1]
                print(f"round {i + 1} {'fast' if fast else 'torchvision'}: data {r['data_s']:.2f} s, "
                      f"data+training {r['epoch_s']:.2f} s per epoch of {int(r['n'])} images", flush=True)
    med = {f: {k: statistics.median(r[k] for r in res[f]) for k in ("data_s", "epoch_s")} for f in res}
    slow_d, fast_d = med[False]["data_s"], med[True]["data_s"]
    slow_e, fast_e = med[False]["epoch_s"], med[True]["epoch_s"]
    print(f"\nmedian per epoch ({args.data}, {os.cpu_count()} cores, 1 torch thread):")
    print(f"  data only:        torchvision {slow_d:.2f} s, fast path {fast_d:.2f} s  → {slow_d / fast_d:.1f}×")
    print(f"  data + training:  torchvision {slow_e:.2f} s, fast path {fast_e:.2f} s  → {slow_e / fast_e:.1f}×")


if __name__ == "__main__":
    main()
