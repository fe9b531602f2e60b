"""What the execution stage knows about GPUs: is CUDA usable here, and which memory guard a kernel was given.

Kept apart from :mod:`grader.batch.gpu` (job packing, MPS) so that grading one submission needs no batch code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ENV_FRACTION = "GRADER_GPU_MEM_FRACTION"  # read by the probe (grader/recording/probe.py)
ENV_MPS_LIMIT = "CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"


def cuda_available() -> bool:
    """``torch.cuda.is_available()``, without importing torch (3+ s) where no NVIDIA device node exists."""
    if not any(Path("/dev").glob("nvidia[0-9]*")):
        return False
    import torch

    return bool(torch.cuda.is_available())


def result_info(env: dict[str, str], hello: dict[str, Any] | None) -> dict[str, Any]:
    """The result's ``gpu`` object: the GPU and memory guard this kernel was given (its environment) and
    what the probe reported about the cooperative guard (``hello["gpu_guard"]``)."""
    kernel = (hello or {}).get("gpu_guard") or {}
    if env.get(ENV_MPS_LIMIT):
        guard, detail = "mps", f"CUDA_MPS_PINNED_DEVICE_MEM_LIMIT={env[ENV_MPS_LIMIT]} (enforced by the MPS server)"
    elif env.get(ENV_FRACTION) and kernel.get("applied"):
        guard, detail = "fraction", (f"torch.cuda.set_per_process_memory_fraction({env[ENV_FRACTION]}) in the "
                                     "kernel (cooperative)")
    else:
        guard, detail = "none", kernel.get("reason") or "no GPU memory guard requested"
    return {"visible_devices": env.get("CUDA_VISIBLE_DEVICES"), "mps": bool(env.get(ENV_MPS_LIMIT)),
            "memory_guard": guard, "memory_guard_detail": detail}
