"""IN THE KERNEL (stdlib + torch only): checkpoints for proof of training.

At the start of a few epochs of every run (epochs 0, 2, 7, 15, 31: at most :data:`MAX_SEGMENTS`) the
state before a step is saved: the run's graph tensors (parameters, BatchNorm buffers), their gradients
(the update about to be applied), the optimizer's ``state_dict`` and, for each of the next
:data:`SEGMENT_STEPS` steps, the batch's dataset indices, the RNG state the forward pass drew its
Dropout masks from and the learning rates; after those steps the tensors are saved again. Each
segment is one ``torch.save`` file of tensors and plain values (loadable with ``weights_only=True``)
and one ``proof`` event, streamed append-only, that carries the batch indices and the file's sha256
(a checkpoint swapped afterwards no longer matches its event). After the notebook, the grader
re-trains chosen segments in its own process from its own copy of the data and compares
(``grader.evaluation.replay``). Only map-style MNIST
datasets served by the grader, fed by a single-process DataLoader, can be replayed; other runs get a
``proof`` event saying why not.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import torch
import torch.utils.data

SEGMENT_EPOCHS = (0, 2, 7, 15, 31)
MAX_SEGMENTS = 3
SEGMENT_STEPS = 8

_P_: Any = None


class Proof:
    """Per-run segment state; the probe calls :meth:`step_pre` / :meth:`step_post` around live steps."""

    def __init__(self, p: Any) -> None:
        self.p = p
        self.last_index: Any = None      # dataset indices of the batch fetched last
        self.last_rng: Any = None        # RNG state right after that fetch (before the forward pass)
        self.last_data: Any = None       # (dataset, worker count) of that batch's DataLoader
        self.active: dict[int, dict[str, Any]] = {}   # run -> open segment
        self.done: dict[int, int] = {}                 # run -> segments written
        self.epochs: dict[int, tuple[int, int]] = {}   # run -> (last iterator, epochs begun)
        self.refused: set[int] = set()
        self.fetches: dict[int, int] = {}                # id(dataset) -> batches fetched from it
        self.run_fetch: dict[int, int] = {}              # run -> that count at its previous step
        self.last_fp: list[float] | None = None   # (sum, sum of squares) of the last model input
        self.fp_iter = -2

    # ------------------------------------------------------------ model input
    def wants_input(self) -> bool:
        """Fingerprint the model's input only in a segment or at an epoch's first batch (cheap otherwise)."""
        return bool(self.active) or self.p.current_iter != self.fp_iter

    def model_input(self, args: Any) -> None:
        x = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self.fp_iter = self.p.current_iter
        if x is None or x.device.type != "cpu" or not x.is_floating_point():
            self.last_fp = None
            return
        x = x.detach().double()
        self.last_fp = [float(x.sum()), float((x * x).sum())]

    # ------------------------------------------------------------ data
    def fetched(self, it: Any, index: Any) -> None:
        self.last_index, self.last_data = index, (getattr(it, "_dataset", None), getattr(it, "_num_workers", 0))
        self.last_rng = torch.get_rng_state()
        self.last_fp = None  # a new batch: only a model call after this fetch fingerprints what it was fed
        key = id(self.last_data[0])
        self.fetches[key] = self.fetches.get(key, 0) + 1

    def after_backward(self) -> None:
        """A backward just finished: the gradients as it left them, for the open segments' next step."""
        for k, seg in self.active.items():
            seg["bw_fp"] = _grad_fp(self.p.runs[k]["tensors"])

    def _changed_between(self, k: int, run: dict[str, Any]) -> str | None:
        """Why an open segment's step cannot be re-executed as backward → step (None: it can)."""
        seg = self.active.get(k)
        if seg is None:
            return None
        calls = self.p.train_calls.get(run.get("model"), 0)
        before, seg["calls"] = seg.get("calls"), calls
        fp = seg.pop("bw_fp", None)
        if not seg["index"]:
            return None  # the segment's first step is replayed from its checkpointed gradients
        now = _grad_fp(run["tensors"])
        if fp is not None and now != fp and any(now):
            return "the gradients are changed between backward() and step() (clipping, scaling or noise)"
        if before is not None and calls - before > 1 and any(key[0] == "b" for key in run["tensors"]):
            return "the model ran more than one training-mode forward pass per step (BatchNorm statistics updated " \
                   "outside the steps: evaluate with model.eval())"
        return None

    def _batches_per_step(self, k: int) -> int:
        """Batches of the training dataset fetched since run ``k``'s previous step (1 for a plain loop)."""
        n = self.fetches.get(id(self.last_data[0]) if self.last_data else 0, 0)
        prev, self.run_fetch[k] = self.run_fetch.get(k), n
        return 1 if prev is None else n - prev

    # ------------------------------------------------------------ steps
    def step_pre(self, k: int, run: dict[str, Any], opt: Any) -> None:
        per_step = self._batches_per_step(k)
        why = f"gradient accumulation ({per_step} batches per optimizer step)" if per_step > 1 else \
            "the batches do not come from a DataLoader pass (tensors sliced by hand)" if self.p.current_iter == -1 \
            else self._changed_between(k, run)
        if why is not None and k not in self.refused:  # every run streams a checkpoint or why it has none
            self.active.pop(k, None)
            self.refused.add(k)
            self.p.emit("proof", run=k, replayable=False, reason=why)
        if k in self.refused:
            return
        seg = self.active.get(k)
        if seg is None and self._epoch_start(k, run) and self.done.get(k, 0) < MAX_SEGMENTS:
            seg = self._begin(k, run, opt)
        if seg is not None:
            seg["index"].append(torch.as_tensor(list(self.last_index), dtype=torch.int64))
            seg["rng"].append(self.last_rng)
            seg["lr"].append([float(g["lr"]) for g in opt.param_groups])
            seg["hp"].append([_scheduled(g) for g in opt.param_groups])  # OneCycleLR cycles momentum/betas too
            seg["fp"].append(self.last_fp)
            self.last_fp = None

    def step_post(self, k: int, run: dict[str, Any], opt: Any) -> None:
        seg = self.active.get(k)
        if seg is not None and len(seg["index"]) >= SEGMENT_STEPS:
            self._finish(k, run, seg)

    def _epoch_start(self, k: int, run: dict[str, Any]) -> bool:
        it = self.p.current_iter
        last, begun = self.epochs.get(k, (None, 0))
        if it == -1 or it == last:
            return False
        self.epochs[k] = (it, begun + 1)
        return begun in SEGMENT_EPOCHS

    def _why_not(self, run: dict[str, Any], opt: Any) -> str | None:
        if self.last_data is None or self.last_index is None:
            return "the batches do not come from a DataLoader the grader can follow"
        dataset, workers = self.last_data
        if workers:
            return "a DataLoader with worker processes"
        if not hasattr(dataset, "_grader_split"):
            return f"a custom data pipeline ({type(dataset).__name__}, not the grader's MNIST)"
        if not run.get("graph") or not run["graph"].get("nodes"):
            return "no model graph was traced"
        if not run["graph"].get("plain_loss", False):
            return "the loss is not a plain mean CrossEntropy/NLL loss (extra terms or options)"
        keys = {id(t): key for key, t in run["tensors"].items()}
        if any(id(t) not in keys for g in opt.param_groups for t in g["params"]):
            return "the optimizer holds tensors outside the traced model"
        if any(t.device.type != "cpu" for t in run["tensors"].values()):
            return "trained on a GPU (its Dropout masks and kernels cannot be re-drawn on the CPU)"
        return None

    def _begin(self, k: int, run: dict[str, Any], opt: Any) -> dict[str, Any] | None:
        why = self._why_not(run, opt)
        if why is not None:
            if k not in self.refused:
                self.refused.add(k)
                self.p.emit("proof", run=k, replayable=False, reason=why)
            return None
        keys = {id(t): key for key, t in run["tensors"].items()}
        seg = {"start_step": run["steps"], "index": [], "rng": [], "lr": [], "hp": [], "fp": [],
               "start": {key: t.detach().clone() for key, t in run["tensors"].items()},
               "grad": {key: t.grad.detach().clone() for key, t in run["tensors"].items() if t.grad is not None},
               "optim": opt.state_dict(), "opt_keys": [keys[id(t)] for g in opt.param_groups for t in g["params"]],
               "split": self.last_data[0]._grader_split, "normalize": getattr(self.last_data[0], "_grader_norm", None),
               "opt_cls": type(opt).__name__}
        seg["optim"] = _copy_state(seg["optim"])
        self.active[k] = seg
        return seg

    def _finish(self, k: int, run: dict[str, Any], seg: dict[str, Any]) -> None:
        del self.active[k]
        j = self.done.get(k, 0)
        self.done[k] = j + 1
        name = f"proof_run{k}_seg{j}.pt"
        blob = {"start": seg["start"], "grad": seg["grad"], "optim": seg["optim"],
                "end": {key: t.detach().clone() for key, t in run["tensors"].items()}, "rng": seg["rng"]}
        buf = io.BytesIO()
        torch.save(blob, buf)
        with open(os.path.join(self.p.cfg["export_dir"], name), "wb") as fh:
            fh.write(buf.getvalue())
        self.p.emit("proof", run=k, replayable=True, segment=j, file=name, start_step=seg["start_step"],
                    n_steps=len(seg["index"]), opt_keys=seg["opt_keys"], split=seg["split"],
                    normalize=seg["normalize"], opt_cls=seg["opt_cls"], lr=seg["lr"], hp=seg["hp"], fp=seg["fp"],
                    index=[ix.tolist() for ix in seg["index"]], sha256=hashlib.sha256(buf.getvalue()).hexdigest())


def _grad_fp(tensors: dict[str, Any]) -> list[float]:
    """Sum of every gradient (0 for none), in float64: changes when anything rescales or edits them."""
    return [float(t.grad.detach().double().sum()) if t.grad is not None else 0.0 for t in tensors.values()]


def _scheduled(group: dict[str, Any]) -> dict[str, Any]:
    """The group's hyper-parameters besides lr that a scheduler may change per step (momentum, betas)."""
    out: dict[str, Any] = {}
    if isinstance(group.get("momentum"), (int, float)):
        out["momentum"] = float(group["momentum"])
    if isinstance(group.get("betas"), (tuple, list)) and len(group["betas"]) == 2:
        out["betas"] = [float(b) for b in group["betas"]]
    return out


def _copy_state(sd: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of an optimizer state_dict (its tensors change in place at the next step)."""
    state = {int(i): {k: (v.detach().clone() if isinstance(v, torch.Tensor) else v) for k, v in s.items()}
             for i, s in sd["state"].items()}
    groups = [{k: (list(v) if isinstance(v, (list, tuple)) and k == "params" else v) for k, v in g.items()}
              for g in sd["param_groups"]]
    return {"state": state, "param_groups": groups}


def install(p: Any) -> Proof:
    """Attach to the probe and follow every batch's indices (single-process DataLoaders)."""
    global _P_
    base = torch.utils.data.dataloader._BaseDataLoaderIter
    orig = base._next_index
    proof = _P_ = Proof(p)

    def _next_index(self: Any) -> Any:
        index = orig(self)
        try:
            proof.fetched(self, index)
        except Exception as exc:
            p.error("proof_fetch", exc)
        return index

    base._next_index = _next_index  # type: ignore[method-assign]
    p.originals["next_index"] = orig
    return proof


def uninstall() -> None:
    """Restore the DataLoader's index method (benchmarks toggle the probe in one process)."""
    global _P_
    if _P_ is not None and "next_index" in _P_.p.originals:
        torch.utils.data.dataloader._BaseDataLoaderIter._next_index = _P_.p.originals["next_index"]  # type: ignore[method-assign]
    _P_ = None
