"""Probe overhead per training step: the same loop with and without the probe, in one process.

The lecture's loop (6×256 ReLU MLP, and the same with BatchNorm1d + Dropout(0.2) after every hidden
Linear; Adam, batch 100) over a DataLoader of pre-loaded MNIST-subset
tensors, so data loading does not hide the probe's cost. Blocks of steps alternate without/with
the probe (installed and uninstalled in between) so machine noise hits both alike; prints the
median per-step time of each and the overhead.
Usage: python benchmarks/probe_overhead.py [--rounds 20] [--model mlp|bn_dropout|both]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from grader.data.mnist import load_split, prepare
from grader.execution.instrument import load_in_process


def _model(kind: str) -> torch.nn.Module:
    """6×256 ReLU MLP; ``bn_dropout`` adds BatchNorm1d and Dropout(0.2) after every hidden Linear."""
    layers: list[torch.nn.Module] = []
    for i in range(6):
        layers.append(torch.nn.Linear(784 if i == 0 else 256, 256))
        layers += [torch.nn.BatchNorm1d(256), torch.nn.ReLU(), torch.nn.Dropout(0.2)] if kind == "bn_dropout" \
            else [torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(256, 10))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--steps", type=int, default=60, help="steps per block (one subset epoch = 60)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", choices=["mlp", "bn_dropout", "both"], default="both")
    args = ap.parse_args()
    for kind in (["mlp", "bn_dropout"] if args.model == "both" else [args.model]):
        measure(args, kind)


def measure(args: argparse.Namespace, kind: str) -> None:
    """Alternate blocks without/with the probe for one model; print the medians and the overhead."""
    torch.set_num_threads(args.threads)
    root = prepare("subset")
    probe = load_in_process()
    x, y = load_split(root, train=True)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x.float().div(255).view(-1, 784), y),
                                         batch_size=100, shuffle=True, drop_last=True)
    model = _model(kind)
    crit = torch.nn.CrossEntropyLoss()

    def block(n: int) -> float:
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)  # new optimizer per block: a run per block
        done, t = 0, time.perf_counter()
        while done < n:
            for X, Y in loader:
                opt.zero_grad()
                crit(model(X), Y).backward()
                opt.step()
                done += 1
                if done == n:
                    break
        return 1000 * (time.perf_counter() - t) / n

    block(args.steps)  # warm-up
    without, with_probe = [], []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = {"events_path": f"{tmp}/events.jsonl", "export_dir": tmp, "mnist_root": str(root), "seed": 0}
        for _ in range(args.rounds):
            without.append(block(args.steps))
            probe.install(cfg)
            with_probe.append(block(args.steps))
            probe.uninstall()
    a, b = statistics.median(without), statistics.median(with_probe)
    print(f"per-step time without probe: {a:.3f} ms (median of {args.rounds} blocks of {args.steps} steps)")
    print(f"per-step time with probe:    {b:.3f} ms")
    name = "6×256 ReLU MLP" if kind == "mlp" else "6×256 BatchNorm+ReLU+Dropout MLP"
    print(f"probe overhead: {100 * (b - a) / a:+.1f} % per step ({name}, Adam, batch 100, "
          f"{args.threads} CPU thread(s), in-memory DataLoader)")
    lo_a, lo_b = min(without), min(with_probe)  # the fastest block of each: least touched by other load
    print(f"fastest blocks: {lo_a:.3f} → {lo_b:.3f} ms ({100 * (lo_b - lo_a) / lo_a:+.1f} %)")


if __name__ == "__main__":
    main()
