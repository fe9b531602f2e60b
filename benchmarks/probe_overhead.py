"""Probe overhead per training step: the same loop with and without the probe, same machine.

Runs the lecture's loop (6×256 ReLU MLP, Adam, batch 100, DataLoader over pre-loaded subset
tensors so data loading does not hide the probe's cost) in fresh subprocesses, alternating
without/with the probe, and prints the median time per step of each and the overhead.
Usage: python benchmarks/probe_overhead.py [--steps 600] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import json, sys, time, types
    use_probe, steps, tmp, root = sys.argv[1] == "1", int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if use_probe:
        src = open(sys.argv[5]).read()
        m = types.ModuleType("_grader_probe"); exec(compile(src, "<probe>", "exec"), m.__dict__)
        sys.modules["_grader_probe"] = m
        m.install({"events_path": tmp + "/events.jsonl", "export_dir": tmp, "mnist_root": root, "seed": 0})
    import torch
    from grader.data.mnist import load_split
    torch.manual_seed(0)
    x, y = load_split(__import__("pathlib").Path(root), train=True)
    ds = torch.utils.data.TensorDataset(x.float().div(255).view(-1, 784), y)
    dl = torch.utils.data.DataLoader(ds, batch_size=100, shuffle=True, drop_last=True)
    layers = [torch.nn.Linear(784, 256), torch.nn.ReLU()]
    for _ in range(5): layers += [torch.nn.Linear(256, 256), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = torch.nn.CrossEntropyLoss()
    def run(n):
        done = 0
        while done < n:
            for X, Y in dl:
                opt.zero_grad(); cost = crit(model(X), Y); cost.backward(); opt.step()
                done += 1
                if done == n: break
    run(50)  # warm-up
    t = time.perf_counter(); run(steps); dt = time.perf_counter() - t
    print(json.dumps({"per_step_ms": 1000 * dt / steps}))
""")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from grader.data.mnist import prepare

    root = str(prepare("subset"))
    probe = str(ROOT / "grader" / "recording" / "probe.py")
    times: dict[str, list[float]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for label, flag in (("without", "0"), ("with", "1")):
                out = subprocess.run([sys.executable, "-c", CHILD, flag, str(args.steps), tmp, root, probe],
                                     capture_output=True, text=True, check=True)
                times[label].append(json.loads(out.stdout.strip().splitlines()[-1])["per_step_ms"])
    a, b = statistics.median(times["without"]), statistics.median(times["with"])
    print(f"per-step time without probe: {a:.3f} ms  (runs: {', '.join(f'{t:.3f}' for t in times['without'])})")
    print(f"per-step time with probe:    {b:.3f} ms  (runs: {', '.join(f'{t:.3f}' for t in times['with'])})")
    print(f"probe overhead: {100 * (b - a) / a:+.1f} % per step ({args.steps} steps × {args.rounds} rounds, "
          "6×256 ReLU MLP, Adam, batch 100, CPU)")


if __name__ == "__main__":
    main()
