"""Warm start: where a submission's start-up time goes, and what starting the next kernel ahead saves.

Part 1 (start-up breakdown, the sandbox as this machine allows it, alternating rounds): a kernel without
preloading, from launch to its first answer (process + sandbox + ZMQ handshake); ``import torch`` and then
``import torchvision`` timed inside it; the probe's set-up cell (torch loaded); a preloading kernel from
launch to its first answer; the per-submission folders + sandbox; and a batch worker's own imports (once per
worker, not per submission).
Part 2: the same batch of N tiny submissions (scenario builders, width 64, one epoch on the subset) graded by
``run_batch`` with warm start off and on, alternating; per-submission start-up (``kernel_start_s`` +
``probe_setup_s``) and wall time of the whole batch; the saving.
Usage: python benchmarks/warm_start.py [--n 6] [--rounds 2] [--jobs 1] [--breakdown-rounds 3] [--skip-breakdown]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from jupyter_client import BlockingKernelClient

from grader.assignment import load_assignment
from grader.batch.discover import discover
from grader.batch.runner import run_batch
from grader.execution.instrument import setup_cell_source
from grader.execution.runner import launch
from grader.pipeline import GradeOptions, prepare_slot

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import scenarios as s  # noqa: E402

IMPORTS = ("import time as _t\n_a = _t.perf_counter()\nimport torch\n_b = _t.perf_counter()\nimport torchvision\n"
           "print(_b - _a, _t.perf_counter() - _b)\ndel _t, _a, _b\n")
WORKER = ("import time; t = time.perf_counter(); import torch; a = time.perf_counter(); import grader.pipeline; "
          "print(a - t, time.perf_counter() - a)")


def _connect(km: Any) -> BlockingKernelClient:
    kc = BlockingKernelClient(connection_file=km.connection_file, parent=km)  # alive = its process (not heartbeat)
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return kc


def _run(kc: BlockingKernelClient, code: str) -> tuple[float, str]:
    """Wall seconds of one cell and its stdout; RuntimeError if it raised."""
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            raise RuntimeError(f"cell failed: {msg['content']['ename']}: {msg['content']['evalue']}")

    t = time.perf_counter()
    kc.execute_interactive(code, output_hook=hook, timeout=120)
    return time.perf_counter() - t, "".join(out)


def _kernel_round(preload: bool) -> dict[str, float]:
    """One kernel, started (with or without preload) in a fresh sandboxed slot; the times it took."""
    t = time.perf_counter()
    slot = prepare_slot(load_assignment(), GradeOptions(data="subset"), warm=False)
    times = {"slot_s": time.perf_counter() - t}
    with slot:
        assert slot.exec_opts is not None
        opts = replace(slot.exec_opts, preload=preload)
        t = time.perf_counter()
        slot.kernel = launch(slot.work, opts)
        kc = _connect(slot.kernel.km)
        times["ready_s"] = time.perf_counter() - t
        if not preload:
            _, text = _run(kc, IMPORTS)
            times["torch_s"], times["torchvision_s"] = (float(x) for x in text.split())
        times["probe_setup_s"], _ = _run(kc, setup_cell_source(slot.kernel.config))
        kc.stop_channels()
    return times


def breakdown(rounds: int) -> None:
    cold: list[dict[str, float]] = []
    warm: list[dict[str, float]] = []
    for _ in range(rounds):
        cold.append(_kernel_round(False))
        warm.append(_kernel_round(True))
    worker = [[float(x) for x in subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True,
                                                 check=True).stdout.split()] for _ in range(rounds)]

    def med(rows: list[dict[str, float]], key: str) -> str:
        return f"{statistics.median(r[key] for r in rows):.2f} s"

    with prepare_slot(load_assignment(), GradeOptions(data="subset"), warm=False) as probe:
        on = probe.box is not None and probe.box.info["enabled"]
    print(f"start-up breakdown, median of {rounds} (sandbox {'on' if on else 'off'}):")
    print(f"  per-submission folders + sandbox (+ cgroups)        {med(cold, 'slot_s')}")
    print(f"  kernel launch -> first answer, no preload           {med(cold, 'ready_s')}")
    print(f"  import torch (in that kernel)                       {med(cold, 'torch_s')}")
    print(f"  import torchvision (after torch)                    {med(cold, 'torchvision_s')}")
    print(f"  probe set-up cell (torch loaded)                    {med(cold, 'probe_setup_s')}")
    print(f"  kernel launch -> first answer, preloading torch+tv  {med(warm, 'ready_s')}")
    print(f"  worker process: import torch {statistics.median(w[0] for w in worker):.2f} s, "
          f"grader.pipeline {statistics.median(w[1] for w in worker):.2f} s (once per worker)")


def make_class(root: Path, n: int) -> Path:
    cls = root / "class"
    cls.mkdir()
    variants = [(["ReLU"] * 6, s.ADAM), (["Sigmoid"] * 6, s.ADAM), (["ReLU"] * 6, s.SGD),
                (["Sigmoid"] * 6, s.SGD), (["ReLU"] * 2, s.ADAM), (["ReLU"] * 6, s.ADAMW)]
    for i in range(n):
        acts, opt = variants[i % len(variants)]
        s.write_notebook(cls, f"student{i:02d}", [s.DATA, s.sequential(acts), s.train(opt, epochs=1),
                                                  s.TEST_ACCURACY])
    return cls


def grade_batch(cls: Path, out: Path, jobs: int, warm: bool) -> tuple[float, list[dict[str, Any]]]:
    t = time.perf_counter()
    summary = run_batch(discover(cls).entries, load_assignment(), GradeOptions(data="subset"), out, jobs=jobs,
                        force=True, warm=warm)
    wall = time.perf_counter() - t
    if summary.failed:
        raise SystemExit(f"grading failed: {summary.failed}")
    return wall, sorted(summary.results, key=lambda r: r["submission"]["id"])


def compare(n: int, rounds: int, jobs: int) -> None:
    walls: dict[bool, list[float]] = {False: [], True: []}
    starts: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="warm-bench-") as tmp:
        cls = make_class(Path(tmp), n)
        for r in range(rounds):
            for warm in (False, True) if r % 2 == 0 else (True, False):
                wall, results = grade_batch(cls, Path(tmp) / f"out-{r}-{warm}", jobs, warm)
                per = [r_["execution"]["kernel_start_s"] + r_["execution"]["probe_setup_s"] for r_ in results]
                walls[warm].append(wall)
                starts[warm] += per
                used = sum(bool(r_["execution"]["warm_start"]) for r_ in results)
                print(f"round {r + 1} warm {'on ' if warm else 'off'}: wall {wall:6.1f} s; start-up per submission "
                      f"{' '.join(f'{x:.2f}' for x in per)} s; warm kernels used {used}/{n}")
    off, on = statistics.median(walls[False]), statistics.median(walls[True])
    s_off, s_on = statistics.median(starts[False]), statistics.median(starts[True])
    print(f"\n{n} submissions, --jobs {jobs}, {rounds} rounds each, {os.cpu_count()} CPU cores "
          f"({platform.processor() or platform.machine()}):")
    print(f"  median start-up per submission: off {s_off:.2f} s, on {s_on:.2f} s (saves {s_off - s_on:.2f} s)")
    print(f"  median batch wall: off {off:.1f} s, on {on:.1f} s: saves {off - on:.1f} s ({(off - on) / off:.0%}), "
          f"{(off - on) / n:.2f} s per submission")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--breakdown-rounds", type=int, default=3)
    ap.add_argument("--skip-breakdown", action="store_true")
    args = ap.parse_args()
    if not args.skip_breakdown:
        breakdown(args.breakdown_rounds)
    compare(args.n, args.rounds, args.jobs)


if __name__ == "__main__":
    main()
