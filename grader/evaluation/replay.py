"""Proof of training: re-train checkpointed segments of a run in the grader's own process.

The kernel saved, at the start of a few epochs, the state before a step (tensors, their gradients,
the optimizer's state) and, for the next steps, the batch indices, RNG states and learning rates,
then the tensors after them (``probe_proof``). Here the grader picks segments at random (after the
notebook ended, so the student could not know which), rebuilds the model from its op graph with
the checkpoint's tensors (``weights_only=True``; no student Python), the optimizer from an
allow-list of torch classes, feeds its own copy of the data and re-executes the steps. The reached
tensors must equal the next checkpoint and the losses the recorded ones within tolerances measured
on honest runs (docs/measurements.md); the final weights' loss on training data must agree with
the last recorded epoch. A run whose first replayed loss already differs (its loop feeds the model
something the grader does not rebuild) is "not replay-verified", with the reason, never "unverified".
"""

from __future__ import annotations

import copy
import hashlib
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from grader.evaluation.rebuild import (
    UnverifiableModel,
    check_replayable,
    load_weights,
    rebuild,
    safe_load,
    weights_path,
)
from grader.recording.events import Run
from grader.recording.graph import Graph, GraphError, parse_graph
from grader.recording.probe_proof import SEGMENT_STEPS

if TYPE_CHECKING:
    from grader.evaluation.live import ReplayCache

ProofStatus = Literal["verified", "not_replay_verified", "unverified"]
Split = Callable[[bool], tuple[Tensor, Tensor]]

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    name: getattr(torch.optim, name) for name in
    ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD")}
#: how the student's loop treats gradients between steps, tried in this order until one reproduces the checkpoint
LoopMode = Literal["zero_grad", "accumulate", "zeroed_before_step"]
LOOP_MODES: tuple[LoopMode, ...] = ("zero_grad", "accumulate", "zeroed_before_step")
WEIGHT_TOL = 2e-2      # ‖replayed − checkpoint‖ / ‖movement‖, per tensor (honest runs: docs/measurements.md)
LOSS_TOL = 1e-3        # relative, per step (honest runs: ≤ 1e-6)
FIRST_LOSS_TOL = 1e-4  # the first step's loss: a deterministic forward pass from the checkpoint
FINAL_SAMPLES = 2000


class NotReplayable(Exception):
    """This segment cannot be re-executed by the grader (not evidence of anything)."""


class Contradiction(Exception):
    """The checkpoint's own weights, on the very batch the kernel fed, do not give the recorded loss."""


@dataclass
class SegmentCheck:
    """One replayed segment: where it starts, how far the replay landed from the checkpoint."""

    segment: int
    start_step: int
    steps: int
    weight_dev: float
    loss_dev: float
    mode: str
    ok: bool


@dataclass
class ProofResult:
    """A run's proof of training: ``verified``, ``not_replay_verified`` (why) or ``unverified`` (why)."""

    status: ProofStatus
    reason: str | None = None
    segments: list[SegmentCheck] = field(default_factory=list)
    final_loss: float | None = None
    final_recorded: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "max_weight_dev": max((s.weight_dev for s in self.segments), default=None),
                "max_loss_dev": max((s.loss_dev for s in self.segments), default=None)}


def _tensor_dict(obj: Any, what: str) -> dict[str, Tensor]:
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()):
        raise NotReplayable(f"the checkpoint's {what} is not a dict of tensors")
    return {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v for k, v in obj.items()}


def _load_blob(path: Path, data: bytes) -> dict[str, Any]:
    """A checkpoint's contents from the bytes already hashed (``weights_only=True``: tensors and plain values)."""
    try:
        blob = safe_load(path, data)
    except UnverifiableModel as exc:
        raise NotReplayable(exc.reason) from exc
    if not isinstance(blob, dict):
        raise NotReplayable(f"checkpoint {path.name} is not a dict")
    for key in ("start", "end", "grad", "optim", "rng"):
        if key not in blob:
            raise NotReplayable(f"checkpoint {path.name} has no {key!r}")
    return blob


def _optimizer(seg: dict[str, Any], blob: dict[str, Any], tensors: dict[str, Tensor]) -> torch.optim.Optimizer:
    cls = OPTIMIZERS.get(str(seg.get("opt_cls")))
    if cls is None:
        raise NotReplayable(f"optimizer class {seg.get('opt_cls')!r} is not one the grader re-executes")
    keys, state = seg.get("opt_keys") or [], blob["optim"]
    if not all(isinstance(k, str) and k in tensors for k in keys):
        raise NotReplayable("the optimizer's tensors are not the model's")
    try:
        groups = [{"params": [tensors[keys[i]] for i in g["params"]]} for g in state["param_groups"]]
        opt = cls(groups)  # type: ignore[call-arg]  # the torch subclasses take defaults of their own
        # a copy: load_state_dict keeps same-device tensors as they are, and the steps update them in place,
        # so a second attempt (gradients accumulating) would start from the first attempt's end state
        opt.load_state_dict(copy.deepcopy(state))
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
        raise NotReplayable(f"the optimizer state could not be restored ({type(exc).__name__}: {exc})") from exc
    return opt


def _batch(split: tuple[Tensor, Tensor], index: Tensor, norm: Any) -> tuple[Tensor, Tensor]:
    images, labels = split
    if index.dtype != torch.int64 or index.dim() != 1 or int(index.min()) < 0 or int(index.max()) >= len(labels):
        raise NotReplayable("a batch index lies outside the dataset")
    x = images[index].to(torch.float32).unsqueeze(1) / 255.0
    if norm is not None:
        x = (x - float(norm[0])) / float(norm[1])
    return x, labels[index].to(torch.long)


def _index(raw: Any) -> Tensor:
    if not isinstance(raw, list) or not raw or not all(isinstance(i, int) and not isinstance(i, bool) for i in raw):
        raise NotReplayable("a batch's indices are not a list of integers")
    return torch.tensor(raw, dtype=torch.int64)


def _loss_fn(graph: Graph) -> Callable[[Tensor, Tensor], Tensor]:
    if graph.loss == "cross_entropy":
        return F.cross_entropy
    if graph.loss == "nll":
        return F.nll_loss
    raise NotReplayable(f"the loss ({graph.loss or 'unknown'}) is not one the grader re-executes")


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-8)


def _steps(graph: Graph, seg: dict[str, Any], blob: dict[str, Any], begin: dict[str, Tensor],
           split: tuple[Tensor, Tensor], recorded: list[float | None],
           mode: LoopMode) -> tuple[dict[str, Tensor], float]:
    """Re-execute the segment's steps from its start tensors ``begin``; the reached tensors and max loss deviation."""
    tensors = {k: v.clone() for k, v in begin.items()}
    for k, v in tensors.items():
        if k.startswith("p"):
            v.requires_grad_(True)
    grads = _tensor_dict(blob["grad"], "gradients")
    opt, forward, loss_fn = _optimizer(seg, blob, tensors), rebuild(graph, tensors, stochastic=True), _loss_fn(graph)
    index, rng, lrs, start = seg.get("index") or [], blob["rng"], seg.get("lr") or [], int(seg["start_step"])
    if len(index) < int(seg["n_steps"]) or len(rng) < int(seg["n_steps"]):
        raise NotReplayable("the segment's batch indices or RNG states are incomplete")
    dev, fps, hps = 0.0, seg.get("fp") or [], seg.get("hp") or []
    for i in range(int(seg["n_steps"])):
        x, y = _batch(split, _index(index[i]), seg.get("normalize"))
        if i < len(fps) and fps[i] is not None and not _same_input(x, fps[i]):
            raise NotReplayable(f"at step {start + i + 1} the model was fed something other than the grader's copy of "
                                "its batch (preprocessing in the loop, e.g. normalising X, or noise)")
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(rng[i])
            if i == 0:  # the checkpoint was taken after this step's forward pass: keep its buffers
                buffers = {k: v.clone() for k, v in tensors.items() if k.startswith("b")}
            loss = loss_fn(forward(x), y)
        want = recorded[start + i] if start + i < len(recorded) else None
        if i == 0:
            for k, v in buffers.items():
                tensors[k].copy_(v)
            if want is None or _rel(float(loss.detach()), want) > FIRST_LOSS_TOL:
                _first_loss_problem(float(loss.detach()), want, x, fps[0] if fps else None, start)
            for k, v in tensors.items():
                v.grad = grads[k].clone() if k in grads else None
        else:
            if want is not None:
                dev = max(dev, _rel(float(loss.detach()), want))
            if mode == "zero_grad":
                opt.zero_grad(set_to_none=True)
            loss.backward()
            if mode == "zeroed_before_step":  # zero_grad(set_to_none=False) between backward() and step()
                for v in tensors.values():
                    if v.grad is not None:
                        v.grad.zero_()
        for g, lr in zip(opt.param_groups, lrs[i] if i < len(lrs) else [], strict=False):
            g["lr"] = float(lr)
        for g, hp in zip(opt.param_groups, hps[i] if i < len(hps) else [], strict=False):
            _set_scheduled(g, hp)
        opt.step()
    return tensors, dev


def _set_scheduled(group: dict[str, Any], hp: Any) -> None:
    """Momentum / betas as the kernel's scheduler had set them for this step (numbers only)."""
    if not isinstance(hp, dict):
        return
    m, betas = hp.get("momentum"), hp.get("betas")
    if "momentum" in group and isinstance(m, (int, float)) and not isinstance(m, bool):
        group["momentum"] = float(m)
    if "betas" in group and isinstance(betas, list) and len(betas) == 2 and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) for b in betas):
        group["betas"] = (float(betas[0]), float(betas[1]))


def _same_input(x: Tensor, fp: Any) -> bool:
    """Whether batch ``x`` has the kernel's model-input fingerprint ``fp`` (sum, sum of squares)."""
    xd = x.double()
    ours = [float(xd.sum()), float((xd * xd).sum())]
    return isinstance(fp, list) and len(fp) == 2 and all(
        isinstance(v, (int, float)) and abs(a - v) <= 1e-5 * max(abs(v), 1.0) for a, v in zip(ours, fp, strict=True))


def _first_loss_problem(loss: float, want: float | None, x: Tensor, fp: Any, step: int) -> None:
    """Why the first replayed loss differs: the data the kernel fed (not replayable) or the checkpoint (forged)."""
    if _same_input(x, fp):
        raise Contradiction(f"at step {step + 1} the checkpoint's weights give loss {loss:.6f} on the very batch the "
                            f"model was fed, but the recorded loss is {want}")
    raise NotReplayable(f"the first replayed loss {loss:.6f} is not the recorded {want}: the loop feeds the model "
                        "something the grader does not rebuild (preprocessing, random numbers drawn between batches)")


def _weight_dev(reached: dict[str, Tensor], start: dict[str, Tensor], end: dict[str, Tensor]) -> float:
    """Max over tensors of ‖replayed − checkpoint‖ / ‖how far the segment moved it‖ (0 = bit-identical).

    Relative to the movement, not to the values: Adam's normalised updates turn float noise in a
    near-zero gradient into an lr-sized step, which is large next to a small tensor but not next to the
    segment's movement; a checkpoint the steps did not produce is off by about the movement or more.
    """
    dev = 0.0
    for k, want in end.items():
        got, before = reached.get(k), start.get(k)
        if got is None or before is None or got.shape != want.shape or before.shape != want.shape:
            return float("inf")
        moved = float((want - before).norm()) + 1e-6 * float(want.norm()) + 1e-12
        dev = max(dev, float((got.detach() - want).norm()) / moved)
    return dev


def checkpoint_bytes(seg: dict[str, Any], export_dir: Path) -> tuple[Path, bytes]:
    """The segment's checkpoint file and its bytes, which must be those the kernel streamed the sha256 of."""
    name = seg.get("file")
    path = (export_dir / str(name)).resolve()
    if not isinstance(name, str) or export_dir.resolve() not in path.parents:
        raise NotReplayable(f"checkpoint {name!r} is not a file of the export folder")
    if not path.is_file():  # the kernel streamed its event after writing it: only the notebook can have removed it
        raise Contradiction(f"checkpoint {name} was written at step {int(seg['start_step']) + 1} and is gone "
                            "(removed by the notebook)")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != seg.get("sha256"):
        raise Contradiction(f"checkpoint {name} is not the file the kernel wrote at step {int(seg['start_step']) + 1} "
                            "(its sha256 differs from the one streamed then)")
    return path, data


def replay_segment(graph: Graph, seg: dict[str, Any], export_dir: Path, split: tuple[Tensor, Tensor],
                   recorded: list[float | None]) -> SegmentCheck:
    """Re-train one checkpointed segment (plain steps, else with gradients accumulating) and compare."""
    path, data = checkpoint_bytes(seg, export_dir)
    return replay_bytes(graph, seg, path, data, split, recorded)


def replay_bytes(graph: Graph, seg: dict[str, Any], path: Path, data: bytes, split: tuple[Tensor, Tensor],
                 recorded: list[float | None]) -> SegmentCheck:
    """:func:`replay_segment` from the checkpoint's bytes, already checked by :func:`checkpoint_bytes`."""
    blob = _load_blob(path, data)
    begin = _tensor_dict(blob["start"], "start")
    end = {k: v for k, v in _tensor_dict(blob["end"], "end").items() if k[0] in "pb"}  # constants never train
    start = int(seg["start_step"])
    if any(not torch.isfinite(v).all() for v in end.values()) or any(
            x is None for x in recorded[start:start + int(seg["n_steps"])]):
        raise NotReplayable("the run diverged in this segment (NaN/inf): not re-executed")
    best: SegmentCheck | None = None
    threads = torch.get_num_threads()
    for mode in LOOP_MODES:  # a loop without zero_grad() accumulates, one with it misplaced steps on zeros
        torch.set_num_threads(1)  # as the kernels train (one thread each): the same float order, mostly exact
        try:
            reached, loss_dev = _steps(graph, seg, blob, begin, split, recorded, mode)
        finally:
            torch.set_num_threads(threads)
        dev = _weight_dev(reached, begin, end)
        check = SegmentCheck(int(seg.get("segment", 0)), int(seg["start_step"]), int(seg["n_steps"]), dev, loss_dev,
                             mode, False)
        check.ok = check.weight_dev <= WEIGHT_TOL and check.loss_dev <= LOSS_TOL
        if best is None or check.weight_dev < best.weight_dev:
            best = check
        if check.ok:
            break
    assert best is not None
    return best


def _final_loss(graph: Graph, run: Run, export_dir: Path, split: tuple[Tensor, Tensor], norm: Any) -> float | None:
    """Loss of the exported final weights on the first training samples, in eval mode."""
    try:
        forward = rebuild(graph, load_weights(weights_path({"weights_file": f"run{run.index}.pt"}, export_dir)))
        n = min(FINAL_SAMPLES, len(split[1]))
        x, y = _batch(split, torch.arange(n), norm)
        with torch.no_grad():
            return float(_loss_fn(graph)(forward(x), y))
    except (UnverifiableModel, NotReplayable, RuntimeError, ValueError):
        return None


def verify_run(run: Run, proofs: list[dict[str, Any]], export_dir: Path, split: Split,
               rng: random.Random, max_segments: int = 2, expected: bool = True,
               final_epoch: int | None = None, cache: ReplayCache | None = None) -> ProofResult | None:
    """The proof of training of one run (None for a run that never stepped).

    ``expected``: the kernel's checkpoints were on, so every run of at least ``SEGMENT_STEPS`` steps streamed
    a checkpoint or the reason it has none; silence means the notebook switched them off. ``final_epoch``: the
    0-based epoch whose weights the run ended with, when it restored them (``grader.evaluation.states``).
    ``cache``: segments already re-trained while the notebook ran (``grader.evaluation.live``).
    """
    if not run.steps:
        return None
    mine = [p for p in proofs if p.get("run") == run.index]
    if expected and not mine and run.steps >= SEGMENT_STEPS:
        return ProofResult("unverified", f"no checkpoint and no reason for having none was streamed for its "
                                         f"{run.steps} steps: the notebook switched the grader's checkpoints off")
    segs = [p for p in mine if p.get("replayable") and isinstance(p.get("n_steps"), int)]
    if not segs:
        why = next((str(p.get("reason")) for p in mine if not p.get("replayable")), None)
        return ProofResult("not_replay_verified", why or "no checkpoint was written (the run was too short)")
    try:
        graph = parse_graph(run.graph)
        check_replayable(graph)
    except (GraphError, UnverifiableModel) as exc:
        return ProofResult("not_replay_verified", f"the model cannot be re-executed: {exc}")
    train = segs[0].get("split") != "test"
    data = split(train)
    result = ProofResult("verified")
    try:
        for seg in sorted(rng.sample(segs, min(max_segments, len(segs))), key=lambda s: int(s["start_step"])):
            check = replay_segment(graph, seg, export_dir, data, run.losses) if cache is None else \
                cache.replay(run, graph, seg, export_dir, data, train)
            result.segments.append(check)
            if not check.ok:
                result.status, result.reason = "unverified", (
                    f"re-training steps {check.start_step + 1}–{check.start_step + check.steps} from its checkpoint "
                    f"reached weights {check.weight_dev:.2e} (relative) from the next checkpoint and losses "
                    f"{check.loss_dev:.2e} from the recorded ones")
                return result
    except NotReplayable as exc:
        return ProofResult("not_replay_verified", str(exc), result.segments)
    except UnverifiableModel as exc:  # a training-time op the replay does not re-execute (BatchNorm momentum=None)
        return ProofResult("not_replay_verified", f"the training step cannot be re-executed: {exc.reason}",
                           result.segments)
    except Contradiction as exc:
        return ProofResult("unverified", str(exc), result.segments)
    return _check_final(result, graph, run, export_dir, data, segs[0].get("normalize"), final_epoch)


def _check_final(result: ProofResult, graph: Graph, run: Run, export_dir: Path, data: tuple[Tensor, Tensor],
                 norm: Any, final_epoch: int | None = None) -> ProofResult:
    """The final weights' training loss against the last recorded epoch, or the epoch whose weights were restored
    (a forged curve claims far less)."""
    means = run.epoch_means()
    restored = run.epochs[final_epoch].mean_loss if final_epoch is not None and final_epoch < len(run.epochs) \
        else None
    result.final_loss = _final_loss(graph, run, export_dir, data, norm)
    result.final_recorded = restored if restored is not None else means[-1] if means else None
    which = "last recorded epoch" if restored is None or final_epoch is None else \
        f"epoch {final_epoch + 1} (whose weights it restored)"
    if result.final_loss is not None and result.final_recorded is not None \
            and result.final_loss > 2 * result.final_recorded + 0.1:
        result.status, result.reason = "unverified", (
            f"its final weights have loss {result.final_loss:.4f} on training data, but its {which} "
            f"says {result.final_recorded:.4f}")
    return result
