"""What the training-loop doctor (grader/recording/probe_doctor.py) adds to a training step, two ways.

1. Controlled blocks: every block resets the weights and runs the same 60 batches in the same order, so each
   block does identical work; blocks without the probe, with the probe but no doctor, and with both run in a
   random order and are timed in thread CPU time (another process on the machine does not count). Denormals
   are not flushed in any block, so all three do the same arithmetic.
2. The doctor's own CPU time: its methods are timed while the lecture's loop runs with a new optimizer (a new
   run) every 60 steps, the densest sampling a notebook can produce.

Usage: python benchmarks/doctor_overhead.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

from grader.data.mnist import load_split, prepare
from grader.execution.instrument import load_in_process


def _setup() -> tuple[torch.nn.Module, Any, dict[str, Any]]:
    torch.set_num_threads(1)
    root = prepare("subset")
    x, y = load_split(root, train=True)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x.float().div(255).view(-1, 784), y),
                                         batch_size=100, shuffle=False, drop_last=True)
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = [torch.nn.Linear(784, 256), torch.nn.ReLU()]
    for _ in range(5):
        layers += [torch.nn.Linear(256, 256), torch.nn.ReLU()]
    tmp = tempfile.mkdtemp()
    cfg = {"events_path": f"{tmp}/events.jsonl", "export_dir": tmp, "mnist_root": str(root), "seed": 0,
           "flush_denormal": False}
    return torch.nn.Sequential(*layers, torch.nn.Linear(256, 10)), loader, cfg


def _block(model: torch.nn.Module, loader: Any, init: dict[str, torch.Tensor]) -> float:
    """CPU ms per step of one pass from the same initial weights."""
    with torch.no_grad():
        model.load_state_dict(init)
    for p in model.parameters():
        p.grad = None
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    crit = torch.nn.CrossEntropyLoss()
    t = time.thread_time()
    for X, Y in loader:
        opt.zero_grad()
        crit(model(X), Y).backward()
        opt.step()
    return 1000 * (time.thread_time() - t) / len(loader)


def controlled(rounds: int) -> None:
    """Medians of identical blocks without the probe, with the probe only, with the probe and the doctor."""
    model, loader, cfg = _setup()
    probe = load_in_process()
    init = copy.deepcopy(model.state_dict())

    def run(mode: str) -> float:
        if mode == "no probe":
            return _block(model, loader, init)
        p = probe.install(cfg)
        if mode == "probe, no doctor":
            p.doctor = None
        try:
            return _block(model, loader, init)
        finally:
            probe.uninstall()

    _block(model, loader, init)
    times: dict[str, list[float]] = {"no probe": [], "probe, no doctor": [], "probe + doctor": []}
    for _ in range(rounds):
        for mode in random.sample(list(times), len(times)):
            times[mode].append(run(mode))
    base = statistics.median(times["no probe"])
    for mode, values in times.items():
        m = statistics.median(values)
        print(f"{mode:17s} {m:.3f} ms CPU/step ({100 * (m - base) / base:+.1f} %), median of {rounds} blocks")


def own_time(blocks: int) -> None:
    """The doctor's methods' CPU time per step, a new run every 60 steps."""
    model, loader, cfg = _setup()
    probe = load_in_process()
    doctor = sys.modules["_grader_probe_doctor"].Doctor
    spent = [0.0]

    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any) -> Any:
            t = time.thread_time()
            try:
                return fn(self, *args)
            finally:
                spent[0] += time.thread_time() - t
        return wrapper

    originals = {n: getattr(doctor, n) for n in ("root_forward", "before_step", "after_step", "idle_step")}
    for n, fn in originals.items():
        setattr(doctor, n, timed(fn))
    probe.install(cfg)
    crit, steps, t0 = torch.nn.CrossEntropyLoss(), 0, time.thread_time()
    for _ in range(blocks):
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        for X, Y in loader:
            opt.zero_grad()
            crit(model(X), Y).backward()
            opt.step()
            steps += 1
    total = time.thread_time() - t0
    probe.uninstall()
    for n, fn in originals.items():
        setattr(doctor, n, fn)
    print(f"doctor's own CPU time: {1e6 * spent[0] / steps:.1f} µs/step = {100 * spent[0] / (total - spent[0]):.2f} % "
          f"of a step ({steps} steps, a new run every {len(loader)} steps)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    controlled(args.rounds)
    own_time(10)


if __name__ == "__main__":
    main()
