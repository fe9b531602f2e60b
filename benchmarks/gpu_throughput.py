"""Throughput of a class on one machine: naive one-at-a-time nbclient vs ``grader batch`` with its defaults.

N copies (default 16) of a realistic homework -- assignments/dnn2_mnist/examples/perfect.ipynb without
the lecture's own training run, so three training runs (6 hidden ReLU/Adam, Sigmoid/Adam, ReLU/SGD momentum)
scaled to ``training_epochs = 1`` -- are graded

(a) naively: one at a time, plain ``NotebookClient(nb, timeout=..., kernel_name="python3").execute()`` in a
    fresh folder holding ``MNIST_data/MNIST/raw/*`` (symlinks to the real files: the lecture's own
    torchvision data path, ``download=True`` finds them and never touches the network); nothing of ours;
(b) by ``python -m grader batch DIR --data MODE --out OUT --no-progress`` with every default on (jobs from
    GPU memory and cores, CUDA MPS when it starts, the fast MNIST path, the sandbox).

Prints both wall times, the ratio, submissions/hour, and the extrapolation to the real 15-epoch homework:
per submission, the training cells' time is scaled by 15 and the rest (kernel start, imports, data,
evaluation) kept; the batch's wall time is scaled by the same ratio of work. Goal: 100 homeworks on one
H100 in <= 10 minutes. Sized to fit about 8 minutes on an H100 machine: the naive pass stops after
``--naive-budget-s`` and extrapolates linearly from the copies it graded (it is sequential).

Usage: python benchmarks/gpu_throughput.py [--n 16] [--data full|subset] [--data-dir DIR] [--json OUT.json]
Smoke test on CPU: python benchmarks/gpu_throughput.py --n 2 --data subset
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
PERFECT = ROOT / "assignments/dnn2_mnist/examples/perfect.ipynb"
REAL_EPOCHS = 15
GOAL_MIN_FOR_100 = 10.0


def homework(epochs: int = 1) -> nbformat.NotebookNode:
    """perfect.ipynb with ``training_epochs = epochs`` and the lecture's own training run (the 2-layer model
    between the EDA and task 1) removed: three training runs remain."""
    nb = nbformat.read(PERFECT, as_version=4)
    cells = nb.cells
    lecture = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and "2개의 hidden layer" in c.source
                   and c.source.lstrip().startswith("###"))
    task1 = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and "과제 1." in c.source)
    kept = cells[:lecture] + cells[task1:]
    for c in kept:
        if c.cell_type == "code":
            c.source = re.sub(r"training_epochs\s*=\s*15", f"training_epochs = {epochs}", c.source)
    nb.cells = kept
    return nb


def training_cells(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of the cells that run a training loop."""
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "for epoch in range(" in c.source]


def write_copies(nb: nbformat.NotebookNode, n: int, folder: Path) -> list[Path]:
    """``n`` copies with distinct names (and distinct bytes, so no two share a file hash)."""
    paths = []
    for i in range(n):
        c = copy.deepcopy(nb)
        c.cells[0].source += f"\n\n<!-- student {i:03d} -->"
        path = folder / f"student{i:03d}.ipynb"
        nbformat.write(c, path)
        paths.append(path)
    return paths


def lecture_data_dir(work: Path, root: Path) -> None:
    """``work/MNIST_data/MNIST/raw/*`` as symlinks to the prepared raw files (torchvision's layout)."""
    raw = work / "MNIST_data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in sorted((root / "MNIST" / "raw").iterdir()):
        (raw / f.name).symlink_to(f.resolve())


def naive_one(path: Path, root: Path, train_idx: list[int], timeout: int) -> dict[str, Any]:
    """Grade one copy the naive way; wall time and the training cells' time."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    starts: dict[int, float] = {}
    took: dict[int, float] = {}

    def on_start(cell: Any, cell_index: int, **_: Any) -> None:
        starts[cell_index] = time.perf_counter()

    def on_done(cell: Any, cell_index: int, **_: Any) -> None:
        took[cell_index] = time.perf_counter() - starts.get(cell_index, time.perf_counter())

    error = None
    with tempfile.TemporaryDirectory(prefix="naive-") as tmp:
        lecture_data_dir(Path(tmp), root)
        t = time.perf_counter()
        try:
            NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": tmp}},
                           on_cell_start=on_start, on_cell_executed=on_done).execute()
        except CellExecutionError as exc:  # plain nbclient stops at the first error: say so, keep the time
            error = str(exc).strip().splitlines()[-1][:200]
        wall = time.perf_counter() - t
    return {"wall_s": round(wall, 2), "train_s": round(sum(took.get(i, 0.0) for i in train_idx), 2),
            **({"error": error} if error else {})}


def run_naive(paths: list[Path], root: Path, train_idx: list[int], budget_s: float, timeout: int) -> dict[str, Any]:
    """One at a time until done or ``budget_s`` is spent; the total is extrapolated from the copies done."""
    rows: list[dict[str, Any]] = []
    t = time.perf_counter()
    for p in paths:
        rows.append(naive_one(p, root, train_idx, timeout))
        print(f"  naive {p.name}: {rows[-1]['wall_s']:.1f} s (training cells {rows[-1]['train_s']:.1f} s)"
              + (f" ERROR {rows[-1]['error']}" if "error" in rows[-1] else ""), flush=True)
        if time.perf_counter() - t > budget_s:
            break
    measured = time.perf_counter() - t
    per = measured / len(rows)
    return {"graded": len(rows), "n": len(paths), "measured_s": round(measured, 1), "per_submission_s": round(per, 2),
            "wall_s": round(per * len(paths), 1), "extrapolated": len(rows) < len(paths), "copies": rows}


def run_batch(folder: Path, out: Path, data: str, data_dir: Path | None, train_idx: list[int]) -> dict[str, Any]:
    """``grader batch`` with every default on, as an instructor would run it."""
    cmd = [sys.executable, "-m", "grader", "batch", str(folder), "--data", data, "--out", str(out), "--no-progress"]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - t
    plan = next((ln for ln in proc.stderr.splitlines() if ln.startswith("GPU plan:")), None)
    results = [json.loads(p.read_text()) for p in sorted(out.glob("student*.json"))]
    subs = []
    for r in results:
        cells = {c["index"]: c["duration_s"] for c in (r.get("execution") or {}).get("cells", [])}
        subs.append({"id": r["submission"]["id"], "status": r["status"], "score": r["score"]["auto"],
                     "total_s": (r.get("timings") or {}).get("total_s", 0.0),
                     "train_s": round(sum(cells.get(i, 0.0) for i in train_idx), 2),
                     "device": r.get("device"), "gpu": r.get("gpu"),
                     "sandbox": (r.get("sandbox") or {}).get("enabled")})
    return {"wall_s": round(wall, 1), "returncode": proc.returncode, "plan": plan,
            "stderr_tail": proc.stderr.strip().splitlines()[-6:], "submissions": subs}


def extrapolate(naive: dict[str, Any], batch: dict[str, Any], n: int, epochs: int) -> dict[str, Any]:
    """15-epoch estimates: training time × REAL_EPOCHS/epochs, everything else unchanged."""
    k = REAL_EPOCHS / epochs
    nv = [c["wall_s"] + (k - 1) * c["train_s"] for c in naive["copies"]]
    naive_per = sum(nv) / len(nv)
    work = sum(s["total_s"] for s in batch["submissions"]) or 1.0
    work15 = sum(s["total_s"] + (k - 1) * s["train_s"] for s in batch["submissions"]) or work
    batch_wall15 = batch["wall_s"] * work15 / work
    return {"epochs": REAL_EPOCHS, "naive_per_submission_s": round(naive_per, 1),
            "naive_100_min": round(100 * naive_per / 60, 1),
            "batch_wall_s_for_n": round(batch_wall15, 1),
            "batch_submissions_per_hour": round(3600 * n / batch_wall15, 1),
            "batch_100_min": round(100 / n * batch_wall15 / 60, 1),
            "goal_100_min": GOAL_MIN_FOR_100,
            "method": "per submission: non-training time + training cells' time × 15 (1-epoch runs measured); "
                      "batch wall scaled by the ratio of 15-epoch to measured per-submission work"}


def device_name() -> str:
    """The GPU's name, else the CPU model."""
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} × {torch.cuda.get_device_name(0)}"
    try:
        model = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                     if ln.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"CPU only: {model} ({os.cpu_count()} cores)"


def report(args: argparse.Namespace, naive: dict[str, Any], batch: dict[str, Any],
           ext: dict[str, Any]) -> dict[str, Any]:
    """Print the numbers and return them as one JSON-able dict."""
    import torch

    ratio = naive["wall_s"] / batch["wall_s"] if batch["wall_s"] else None
    ok = sum(1 for s in batch["submissions"] if s["status"] not in ("failed", "kernel_died", "timeout"))
    data = {"benchmark": "gpu_throughput", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "device": device_name(), "cpu_cores": os.cpu_count(), "torch": torch.__version__,
            "n": args.n, "epochs_per_run": args.epochs, "runs_per_submission": 3, "data": args.data,
            "naive": naive, "batch": batch, "ratio": round(ratio, 2) if ratio else None,
            "naive_submissions_per_hour": round(3600 / naive["per_submission_s"], 1),
            "batch_submissions_per_hour": round(3600 * args.n / batch["wall_s"], 1) if batch["wall_s"] else None,
            "batch_graded_ok": ok, "extrapolated_15_epochs": ext}
    print(f"\ndevice: {data['device']}; torch {data['torch']}; data {args.data}; {args.n} submissions × 3 runs × "
          f"{args.epochs} epoch(s)")
    print(f"{batch['plan'] or 'GPU plan: (not printed by grader batch)'}")
    print(f"(a) naive, one at a time: {naive['wall_s']:.1f} s"
          + (f" (extrapolated from {naive['graded']} of {naive['n']})" if naive["extrapolated"] else "")
          + f"  = {data['naive_submissions_per_hour']:.0f} submissions/hour")
    print(f"(b) grader batch:         {batch['wall_s']:.1f} s  = {data['batch_submissions_per_hour']:.0f} "
          f"submissions/hour ({ok}/{args.n} graded, exit {batch['returncode']})")
    print(f"ratio naive / batch: {data['ratio']}x")
    print(f"real {REAL_EPOCHS}-epoch homework: naive {ext['naive_per_submission_s']:.0f} s each -> 100 in "
          f"{ext['naive_100_min']:.0f} min; grader batch {ext['batch_submissions_per_hour']:.0f}/hour -> 100 in "
          f"{ext['batch_100_min']:.1f} min (goal <= {GOAL_MIN_FOR_100:.0f} min)")
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="copies of the homework (default 16)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per training run (default 1)")
    ap.add_argument("--data", choices=["full", "subset"], default="full")
    ap.add_argument("--data-dir", type=Path, default=None, help="full MNIST raw files (default $GRADER_MNIST_DIR)")
    ap.add_argument("--naive-budget-s", type=float, default=300.0,
                    help="stop the naive pass after this many seconds and extrapolate (default 300)")
    ap.add_argument("--cell-timeout", type=int, default=600)
    ap.add_argument("--json", type=Path, default=None, help="write every number to this JSON file")
    args = ap.parse_args()

    from grader.data import mnist

    root = mnist.prepare(args.data, args.data_dir)  # locates/decompresses the files only; no grading
    nb = homework(args.epochs)
    train_idx = training_cells(nb)
    with tempfile.TemporaryDirectory(prefix="gpu-throughput-") as tmp:
        folder = Path(tmp) / "class"
        folder.mkdir()
        paths = write_copies(nb, args.n, folder)
        print(f"(b) grader batch on {args.n} copies ...", flush=True)
        batch = run_batch(folder, Path(tmp) / "out", args.data, args.data_dir, train_idx)
        if args.json:  # kept even if the naive pass never finishes
            args.json.parent.mkdir(parents=True, exist_ok=True)
            partial = {"partial": True, "device": device_name(), "batch": batch}
            args.json.write_text(json.dumps(partial, indent=1) + "\n")
        print(f"(a) naive pass (budget {args.naive_budget_s:.0f} s) ...", flush=True)
        naive = run_naive(paths, root, train_idx, args.naive_budget_s, args.cell_timeout)
    data = report(args, naive, batch, extrapolate(naive, batch, args.n, args.epochs))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"numbers written to {args.json}")


if __name__ == "__main__":
    main()
