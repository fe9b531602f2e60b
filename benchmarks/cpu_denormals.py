"""Why an RMSprop run can get slower per step on a CPU: subnormal floats in the optimizer state, side by side.

Two measurements, both with one torch thread:

1. **Natural run**: the homework's 6×256 ReLU MLP trained with RMSprop (lr 1e-3) on the MNIST subset until the
   loss is ~0. Every ``--report`` steps it prints ms/step and how many ``square_avg`` entries are subnormal
   (0 < |x| < 1.18e-38). Gradients of saturated/dead units are ~0, so ``square_avg`` decays by alpha=0.99 per step
   into the subnormal range and stays there for ~1600 steps; Adam's state decays by 0.9 (exp_avg: passes the
   range in ~150 steps) or 0.999 (exp_avg_sq: reaches it only after ~60,000 steps).
2. **Step cost**: ``RMSprop.step`` / ``Adam.step`` on the same parameters whose state is normal vs subnormal,
   with ``torch.set_flush_denormal`` off and on, in alternating blocks; prints the median ms per step of each.

Usage: python benchmarks/cpu_denormals.py [--steps 4800] [--report 600] [--blocks 7] [--data subset|full]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from grader.data.mnist import load_split, prepare

TINY = torch.finfo(torch.float32).tiny  # smallest normal float32


def mlp() -> torch.nn.Sequential:
    """The homework's model: 6 hidden layers of 256, ReLU."""
    layers: list[torch.nn.Module] = [torch.nn.Linear(784, 256), torch.nn.ReLU()]
    for _ in range(5):
        layers += [torch.nn.Linear(256, 256), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(256, 10))


def subnormal_count(opt: torch.optim.Optimizer, key: str) -> tuple[int, int]:
    """(subnormal entries, all entries) of one state tensor kind over every parameter."""
    sub = total = 0
    for state in opt.state.values():
        t = state.get(key)
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            a = t.abs()
            sub += int(((a > 0) & (a < TINY)).sum())
            total += t.numel()
    return sub, total


def natural_run(steps: int, report: int, data: str = "subset", flush: bool = False) -> None:
    """Train until the loss is ~0 and watch the state enter the subnormal range."""
    torch.set_flush_denormal(flush)
    torch.manual_seed(0)
    x, y = load_split(prepare(data), train=True)
    data = x.float().div(255).view(-1, 784)
    model, crit = mlp(), torch.nn.CrossEntropyLoss()
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    t, step = time.perf_counter(), 0
    while step < steps:
        perm = torch.randperm(len(data), generator=gen)
        for i in range(0, len(data) - 99, 100):
            idx = perm[i:i + 100]
            opt.zero_grad()
            loss = crit(model(data[idx]), y[idx])
            loss.backward()
            opt.step()
            step += 1
            if step % report == 0:
                sub, total = subnormal_count(opt, "square_avg")
                ms = 1000 * (time.perf_counter() - t) / report
                print(f"  flush={flush!s:5} step {step:5d}: {ms:5.1f} ms/step, loss {loss.item():.2e}, "
                      f"subnormal square_avg {sub}/{total}", flush=True)
                t = time.perf_counter()
            if step >= steps:
                break


def _optimizer(name: str, params: list[torch.nn.Parameter], subnormal: bool) -> torch.optim.Optimizer:
    """An optimizer with initialised state: every state value 1e-39 (subnormal) or 1e-6 (normal)."""
    opt = torch.optim.RMSprop(params, lr=1e-3) if name == "rmsprop" else torch.optim.Adam(params, lr=1e-3)
    for p in params:
        p.grad = torch.zeros_like(p)  # the dead units' gradient: exactly 0
    opt.step()
    fill = 1e-39 if subnormal else 1e-6
    for state in opt.state.values():
        for v in state.values():
            if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dim() > 0:
                v.fill_(fill)
    return opt


def step_cost(blocks: int, steps: int = 50) -> None:
    """Median ms per optimizer step for each (optimizer, state, flush) combination, blocks alternating."""
    params = [p for p in mlp().parameters()]
    combos = [(n, s, f) for n in ("rmsprop", "adam") for s in (False, True) for f in (False, True)]
    times: dict[tuple[str, bool, bool], list[float]] = {c: [] for c in combos}
    for _ in range(blocks):
        for name, subnormal, flush in combos:
            torch.set_flush_denormal(flush)
            opt = _optimizer(name, params, subnormal)
            t = time.perf_counter()
            for _ in range(steps):
                opt.step()
            times[(name, subnormal, flush)].append(1000 * (time.perf_counter() - t) / steps)
    torch.set_flush_denormal(False)
    for (name, subnormal, flush), ts in times.items():
        print(f"  {name:8} state {'subnormal' if subnormal else 'normal   '} flush_denormal={flush!s:5}: "
              f"{statistics.median(ts):.2f} ms/step")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4800)
    ap.add_argument("--report", type=int, default=600)
    ap.add_argument("--blocks", type=int, default=7)
    ap.add_argument("--data", choices=["subset", "full"], default="subset")
    ap.add_argument("--skip-step-cost", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not args.skip_step_cost:
        print("optimizer step cost, state normal vs subnormal (6×256 MLP parameters, gradients 0):")
        step_cost(args.blocks)
    for flush in (False, True):
        print(f"\nnatural RMSprop run on MNIST {args.data} ({args.steps} steps), flush_denormal={flush}:")
        natural_run(args.steps, args.report, args.data, flush)
    torch.set_flush_denormal(False)


if __name__ == "__main__":
    main()
