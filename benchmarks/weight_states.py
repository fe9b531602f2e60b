"""What the guard's weight-state fingerprints cost: one ``state_fp`` per epoch edge, against one epoch of training.

For a few model sizes (the lecture's MLPs, a small CNN, a wide MLP) prints the time of one fingerprint of the
trained weights (blake2b over their float32 bytes, ``grader.recording.probe_guard.state_fp``) and of one epoch on
the embedded subset (60 steps of batch 100, one thread, as the kernels train), and their ratio. The guard takes
at most one fingerprint per run per epoch (at the pass's end; a pass's begin and a cell's end reuse it when no
step came between). Usage: python benchmarks/weight_states.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from grader.execution.instrument import load_in_process


def _models() -> dict[str, tuple[torch.nn.Module, tuple[int, ...]]]:
    def mlp(width: int, hidden: int) -> torch.nn.Module:
        sizes = [784] + [width] * hidden
        layers: list[torch.nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))

    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 10))
    return {"MLP 784-64x6-10": (mlp(64, 6), (784,)), "MLP 784-256x6-10": (mlp(256, 6), (784,)),
            "CNN 2 conv + 256": (cnn, (1, 28, 28)), "MLP 784-2048x4-10": (mlp(2048, 4), (784,))}


def _epoch(model: torch.nn.Module, shape: tuple[int, ...], steps: int = 60) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.rand(100, *shape), torch.randint(0, 10, (100,))
    t = time.perf_counter()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    load_in_process()  # the kernel-side modules, as the set-up cell loads them
    import sys
    state_fp = sys.modules["_grader_probe_guard"].state_fp
    torch.set_num_threads(1)
    print(f"{'model':<20} {'params':>10} {'fingerprint':>12} {'epoch (60 steps)':>17} {'overhead':>9}")
    for name, (model, shape) in _models().items():
        weights = list(model.parameters())
        epoch = _epoch(model, shape)
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            state_fp(weights)
            times.append(time.perf_counter() - t)
        fp = statistics.median(times)
        n = sum(w.numel() for w in weights)
        print(f"{name:<20} {n:>10,} {fp * 1e3:>9.2f} ms {epoch:>15.2f} s {fp / epoch:>8.3%}")


if __name__ == "__main__":
    main()
