"""Kernel-side device settings the grader applies before student code runs (stdlib + torch only).

Loaded into the student's kernel as ``_grader_probe_device`` (see grader/execution/instrument.py) and called by
``_grader_probe.install``: flushing subnormal floats on the CPU and the cooperative GPU memory guard.
"""

from __future__ import annotations

import os
from typing import Any

import torch


def flush_subnormals(wanted: bool) -> bool:
    """Zero subnormal floats on the CPU; True when it took effect (so uninstall can undo it).

    Subnormal optimizer state (RMSprop's ``square_avg`` of dead units) makes a CPU step up to 10x slower
    (benchmarks/cpu_denormals.py); only values below 1.18e-38 change.
    """
    return bool(wanted) and bool(torch.set_flush_denormal(True))


def gpu_memory_guard(cuda: bool) -> dict[str, Any]:
    """GRADER_GPU_MEM_FRACTION (set by a GPU batch without MPS): cap torch's caching allocator on this
    kernel's GPU. Cooperative: student code could raise it again. A no-op without CUDA."""
    raw = os.environ.get("GRADER_GPU_MEM_FRACTION")
    if not raw:
        return {"applied": False, "reason": "no GPU memory fraction requested"}
    if not cuda:
        return {"applied": False, "fraction": raw, "reason": "no CUDA in the kernel: no GPU memory to guard"}
    try:
        torch.cuda.set_per_process_memory_fraction(float(raw), 0)
    except Exception as exc:  # noqa: BLE001 - never break the kernel over the guard
        return {"applied": False, "fraction": raw, "reason": f"{type(exc).__name__}: {exc}"}
    return {"applied": True, "fraction": float(raw)}
