"""The probe: runs inside the student's kernel and records what training really did.

Imports only the standard library and torch (never ``grader``): the grader loads this file's
source into a private module in the kernel and calls :func:`install`. Everything it learns goes
out as JSON lines appended to a file the grader reads (never pickle), so a crash, a timeout or a
dead kernel keeps what was already streamed. Every hook body catches its own exceptions: a bug
here must never break the student's code.

Events (field ``ev``): hello, dataset, loader_iter, model, optimizer, run, gradnorm, steps,
probe_error, doctor (from probe_doctor), end. See ``grader.recording.events`` for the reader.
"""

from __future__ import annotations

import builtins
import importlib
import json
import math
import os
import random
import sys
import time
from typing import Any

import torch
import torch.utils.data

# torch.optim deletes its submodule names from its namespace; fetch the module itself
_optim = importlib.import_module("torch.optim.optimizer")

_FLUSH_EVERY = 200

_P: Probe | None = None


class Probe:
    """All recording state of one kernel. Created by :func:`install`."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.cfg = config
        self.t0 = time.monotonic()
        self.out = _open_events(config)
        self.cell = 0
        self.depth = 0
        self.roots: dict[int, Any] = {}          # id(module) -> module (kept alive: it may be exported)
        self.root_shapes: dict[int, list[int]] = {}
        self.opt_runs: dict[int, int] = {}       # id(optimizer) -> run index
        self.runs: list[dict[str, Any]] = []     # per run: opt, model, graph, tensors, steps
        self.step_depth: dict[int, int] = {}
        self.step_live: dict[int, bool] = {}
        self.empty_steps: dict[int, int] = {}    # id(optimizer) -> steps that had no gradient
        self.pending_loss: torch.Tensor | None = None
        self.trace_wanted = True
        self.last_trace: dict[str, Any] | None = None
        self.root_inputs: list[Any] = []          # what the models were last called with, until the next trace
        self.train_calls: dict[int, int] = {}     # id(module) -> outermost forward calls in training mode
        self.current_iter = -1
        self.iter_count = 0
        self.iter_norm: dict[int, list[float] | None] = {}
        self.n_errors = 0
        self.handles: list[Any] = []
        self.originals: dict[str, Any] = {}
        self.proof: Any = None                   # probe_proof.Proof: checkpoints for proof of training
        self.doctor: Any = None                  # probe_doctor.Doctor: training-loop evidence on sampled steps

    # ---------------------------------------------------------------- output
    def emit(self, ev: str, **fields: Any) -> None:
        fields["ev"] = ev
        fields["t"] = round(time.monotonic() - self.t0, 4)
        fields["cell"] = self.cell
        self.out.write(json.dumps(fields, default=str) + "\n")

    def error(self, where: str, exc: BaseException) -> None:
        self.n_errors += 1
        if self.n_errors <= 20:
            try:
                self.emit("probe_error", where=where, error=f"{type(exc).__name__}: {exc}")
            except Exception:
                pass

    # ---------------------------------------------------------------- modules
    def forward_pre(self, mod: Any, args: Any) -> None:
        self.depth += 1
        if self.depth != 1 or isinstance(mod, torch.nn.modules.loss._Loss):
            return  # a loss module's input is the model's output, not a model input
        if self.proof is not None and self.proof.wants_input():
            try:
                self.proof.model_input(args)
            except Exception as exc:
                self.error("proof_input", exc)
        if mod.training:  # training-mode calls per model: BatchNorm updates between steps
            self.train_calls[id(mod)] = self.train_calls.get(id(mod), 0) + 1
        if self.trace_wanted and args and isinstance(args[0], torch.Tensor):
            self.root_inputs = [*self.root_inputs[-3:], args[0]]
        if self.depth == 1 and id(mod) not in self.roots:
            try:
                self.new_root(mod, args)
            except Exception as exc:
                self.error("forward_pre", exc)

    def forward_post(self, mod: Any, args: Any, out: Any) -> None:
        self.depth = max(0, self.depth - 1)
        if not self.depth and self.doctor is not None:
            self.doctor.root_forward(mod, args)

    def new_root(self, mod: Any, args: Any) -> None:
        if isinstance(mod, torch.nn.modules.loss._Loss):
            return
        mod = getattr(mod, "_orig_mod", mod)  # torch.compile wrapper
        self.roots[id(mod)] = mod
        shape = list(args[0].shape) if args and isinstance(args[0], torch.Tensor) else None
        self.root_shapes[id(mod)] = shape or []
        n_params = sum(p.numel() for p in mod.parameters())
        self.emit("model", model=id(mod), cls=type(mod).__name__, input_shape=shape, n_params=n_params)

    # ---------------------------------------------------------------- optimizers
    def optimizer_created(self, opt: Any) -> None:
        cls = next((c for c in type(opt).__mro__ if c.__module__.startswith("torch.optim.")
                    and c.__name__ != "Optimizer"), type(opt))
        torch_cls = cls.__name__
        d = opt.defaults
        if torch_cls == "Adam" and d.get("decoupled_weight_decay"):
            torch_cls = "AdamW"
        hp = {k: d[k] for k in ("lr", "momentum", "betas", "weight_decay", "nesterov", "alpha",
                                "eps", "dampening", "decoupled_weight_decay", "amsgrad") if k in d}
        hp = {k: (float(v) if isinstance(v, torch.Tensor) else v) for k, v in hp.items()}
        n = sum(p.numel() for g in opt.param_groups for p in g["params"])
        self.trace_wanted = True
        self.emit("optimizer", opt=id(opt), cls=type(opt).__name__, torch_cls=torch_cls,
                  hparams=hp, n_params=n)

    def step_pre(self, opt: Any, args: Any, kwargs: Any) -> None:
        depth = self.step_depth.get(id(opt), 0)
        self.step_depth[id(opt)] = depth + 1
        if depth:
            return  # a subclass calling super().step(): count the outer call only
        try:
            # a step with no gradient anywhere updates nothing (e.g. the loop steps an old optimizer
            # whose model was not in the backward): it is not training, so it is not recorded
            live = len(args) > 1 or kwargs.get("closure") is not None or any(  # args[0] is the optimizer
                p.grad is not None for g in opt.param_groups for p in g["params"])
            self.step_live[id(opt)] = live
            if not live:
                self.empty_steps[id(opt)] = self.empty_steps.get(id(opt), 0) + 1
                if self.doctor is not None:
                    self.doctor.idle_step(opt)
                return
            k = self.opt_runs.get(id(opt))
            if k is None:
                k = self.new_run(opt)
                tensors = self.runs[k]["tensors"]  # their fingerprint before the first update
                self.runs[k]["fp0"] = sys.modules["_grader_probe_graph"].fingerprint(tensors) if tensors else None
            run = self.runs[k]
            if run["steps"] < self.cfg.get("grad_steps", 3) and run["weights"]:
                grads = [w.grad for w in run["weights"]]
                if all(g is not None for g in grads):
                    norms = torch._foreach_norm(grads)
                    self.emit("gradnorm", run=k, step=run["steps"], norms=[float(x) for x in norms])
            if self.doctor is not None and run["steps"] in self.doctor.steps:
                self.doctor.before_step(k, run, opt)
            if self.proof is not None:
                self.proof.step_pre(k, run, opt)
        except Exception as exc:
            self.error("step_pre", exc)

    def step_post(self, opt: Any, args: Any, kwargs: Any) -> None:
        depth = self.step_depth.get(id(opt), 1) - 1
        self.step_depth[id(opt)] = depth
        if depth or not self.step_live.get(id(opt), True):
            return
        try:
            run = self.runs[self.opt_runs[id(opt)]]
            run["steps"] += 1
            if self.doctor is not None and run["steps"] in self.doctor.steps:
                self.doctor.after_step(self.opt_runs[id(opt)], run, opt)
            if self.proof is not None:
                self.proof.step_post(self.opt_runs[id(opt)], run, opt)
            loss, self.pending_loss = self.pending_loss, None
            run["buf"].append(loss if loss is not None else torch.tensor(float("nan")))
            run["iters"].append(self.current_iter)
            run["last_iter"] = self.current_iter
            if len(run["buf"]) >= _FLUSH_EVERY:
                self.flush_run(self.opt_runs[id(opt)])
        except Exception as exc:
            self.error("step_post", exc)

    def new_run(self, opt: Any) -> int:
        ids = {id(p) for g in opt.param_groups for p in g["params"]}
        model = max(self.roots, default=None,
                    key=lambda r: len(ids & {id(p) for p in self.roots[r].parameters()}))
        if model is not None and not ids & {id(p) for p in self.roots[model].parameters()}:
            model = None
        trace = self.last_trace if self.last_trace and ids & self.last_trace["param_ids"] else None
        for prev in self.runs:  # a new run re-training an earlier run's tensors: keep that run's tensors
            if "snapshot" not in prev and any(id(t) in ids for t in prev["tensors"].values()):
                prev["snapshot"] = {k: t.detach().clone() for k, t in prev["tensors"].items()}
        k = len(self.runs)
        self.opt_runs[id(opt)] = k
        self.runs.append({"opt": opt, "model": model, "steps": 0, "buf": [], "iters": [], "first": 0, "last_iter": -1,
                          "weights": trace["weights"] if trace else [],
                          "tensors": trace["tensors"] if trace else {},
                          "graph": trace["graph"] if trace else None})
        self.emit("run", run=k, opt=id(opt), model=model,
                  graph=trace["graph"] if trace else None,
                  loss=trace["loss"] if trace else None,
                  batch=trace["batch"] if trace else None,
                  param_overlap=len(ids & trace["param_ids"]) if trace else 0, n_opt_params=len(ids))
        return k

    def flush_run(self, k: int) -> None:
        run = self.runs[k]
        if not run["buf"]:
            return
        losses = torch.stack([t.float().reshape(()).cpu() for t in run["buf"]]).tolist()
        losses = [x if math.isfinite(x) else None for x in losses]
        self.emit("steps", run=k, first=run["first"], losses=losses, iters=run["iters"])
        run["first"] += len(run["buf"])
        run["buf"], run["iters"] = [], []

    def flush_all(self) -> None:
        for k in range(len(self.runs)):
            try:
                self.flush_run(k)
            except Exception as exc:
                self.error("flush", exc)

    # ---------------------------------------------------------------- losses + graph
    def backward(self, tensors: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if isinstance(tensors, torch.Tensor) and tensors.numel() == 1:
                self.pending_loss = tensors.detach().clone()  # a copy: the student's tensor can be edited in place
                if self.trace_wanted and tensors.grad_fn is not None:
                    self.trace_wanted = False
                    modules = [m for r in self.roots.values() for m in r.modules()]
                    self.last_trace = sys.modules["_grader_probe_graph"].trace_graph(tensors, modules,
                                                                                     self.root_inputs)
                    self.root_inputs = []
        except Exception as exc:
            self.error("backward", exc)
        out = self.originals["backward"](tensors, *args, **kwargs)
        if self.proof is not None and self.proof.active:
            try:
                self.proof.after_backward()
            except Exception as exc:
                self.error("proof_backward", exc)
        return out

    # ---------------------------------------------------------------- data
    def loader_iter(self, loader: Any, it: Any) -> Any:
        try:
            self.flush_all()  # an epoch boundary: stream what we have
            _weight_states("pass_begin")
            self.iter_count += 1
            ds = loader.dataset
            while hasattr(ds, "dataset") and not hasattr(ds, "_grader_split"):
                ds = ds.dataset  # Subset and friends
            if hasattr(ds, "datasets") and ds.datasets:
                ds = ds.datasets[0]
            try:
                n = len(loader)
            except TypeError:
                n = None
            it._grader_iter = self.iter_count
            self.iter_norm[self.iter_count] = getattr(ds, "_grader_norm", None)
            self.emit("loader_iter", it=self.iter_count, loader=id(loader), len=n, ds=id(ds),
                      batch_size=loader.batch_size, split=getattr(ds, "_grader_split", None),
                      dataset=type(ds).__name__, n_items=_safe_len(ds))
        except Exception as exc:
            self.error("loader_iter", exc)
        return it

    def mnist_created(self, ds: Any, train: bool, requested_root: Any, download: Any) -> None:
        ds._grader_split = "train" if train else "test"
        tf = ds.transform
        parts = list(getattr(tf, "transforms", [tf] if tf is not None else []))
        norm = next(([float(_first(p.mean)), float(_first(p.std))] for p in parts
                     if type(p).__name__ == "Normalize"), None)
        ds._grader_norm = norm
        self.emit("dataset", ds=id(ds), split=ds._grader_split, n_items=len(ds), transform=repr(tf),
                  transforms=[type(p).__name__ for p in parts], normalize=norm,
                  requested_root=str(requested_root), download=bool(download))

    # ---------------------------------------------------------------- end
    def hooks_intact(self) -> dict[str, bool]:
        mm = torch.nn.modules.module
        ids = {h.id for h in self.handles}
        dl = torch.utils.data.DataLoader
        return {
            "forward_hooks": bool(ids & set(mm._global_forward_pre_hooks))
            and bool(ids & set(mm._global_forward_hooks)),
            "optimizer_hooks": bool(ids & set(_optim._global_optimizer_pre_hooks))
            and bool(ids & set(_optim._global_optimizer_post_hooks)),
            "backward_wrapper": torch.autograd.backward is self.originals["backward_wrapper"],
            "dataloader_wrapper": dl.__iter__ is self.originals["iter_wrapper"],
        }


def _open_events(config: dict[str, Any]) -> Any:
    """The grader's pipe (``events_fd``, append-only: kept from subprocesses) or, without one, the file."""
    fd = config.get("events_fd")
    if fd is None:
        return open(config["events_path"], "a", buffering=1, encoding="utf-8")
    os.set_inheritable(int(fd), False)
    return open(int(fd), "w", buffering=1, encoding="utf-8")


def _weight_states(where: str) -> None:
    """An epoch edge: the guard fingerprints the runs whose weights are still as their last step left them."""
    g = getattr(sys.modules.get("_grader_probe_guard"), "_G", None)
    if g is not None:
        g.record_states(where)


def _first(x: Any) -> float:
    return x[0] if isinstance(x, (list, tuple)) else x


def _safe_len(ds: Any) -> int | None:
    try:
        return len(ds)
    except Exception:
        return None


# -------------------------------------------------------------------- install / export
def _seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed)
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def install(config: dict[str, Any]) -> Probe:
    """Install every hook; seeds first so student seeds (set later) still win."""
    global _P
    if _P is not None:
        return _P
    p = _P = Probe(config)
    _seed(int(config.get("seed", 0)))
    device = sys.modules["_grader_probe_device"]  # loaded beside this module by the set-up cell
    p.originals["flush"] = device.flush_subnormals(config.get("flush_denormal", True))
    mm = torch.nn.modules.module
    p.handles.append(mm.register_module_forward_pre_hook(p.forward_pre))
    p.handles.append(mm.register_module_forward_hook(p.forward_post, always_call=True))
    p.handles.append(_optim.register_optimizer_step_pre_hook(p.step_pre))
    p.handles.append(_optim.register_optimizer_step_post_hook(p.step_post))

    opt_init = torch.optim.Optimizer.__init__

    def optimizer_init(self: Any, *args: Any, **kwargs: Any) -> None:
        opt_init(self, *args, **kwargs)
        try:
            p.optimizer_created(self)
        except Exception as exc:
            p.error("optimizer_init", exc)

    torch.optim.Optimizer.__init__ = optimizer_init  # type: ignore[method-assign]
    p.originals["optimizer_init"] = opt_init
    p.originals["backward"] = torch.autograd.backward

    def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        return p.backward(tensors, *args, **kwargs)

    torch.autograd.backward = backward
    p.originals["backward_wrapper"] = backward
    _install_state_dict_hook(p)
    _install_data_hooks(p)
    _install_companions(p, config)
    guard = sys.modules.get("_grader_probe_guard")  # after every hook: it records them as the expected state
    if guard is not None:
        guard.install(p)
    ip = getattr(builtins, "get_ipython", None)
    if ip is not None:
        ip().events.register("pre_run_cell", _pre_run_cell)
    cuda = torch.cuda.is_available()
    p.emit("hello", torch=torch.__version__, cuda=cuda, pid=os.getpid(),
           device=torch.cuda.get_device_name(0) if cuda else "cpu", seed=config.get("seed"),
           gpu_guard=device.gpu_memory_guard(cuda))
    return p


def _install_companions(p: Probe, config: dict[str, Any]) -> None:
    """The kernel-side modules loaded beside this one by the set-up cell: MNIST redirect, doctor, proof."""
    mnist = sys.modules.get("_grader_probe_mnist")
    if mnist is not None and config.get("mnist_root"):  # only when the assignment serves MNIST
        mnist.install(p)
    doctor = sys.modules.get("_grader_probe_doctor")
    if doctor is not None:
        p.doctor = doctor.Doctor(p)
    proof = sys.modules.get("_grader_probe_proof")
    if proof is not None and config.get("proof", True):
        p.proof = proof.install(p)


def _install_state_dict_hook(p: Probe) -> None:
    """``state_dict()`` (to save or to copy the best epoch) makes the state it reads a recorded state of the run: a
    full-batch loop that saves and reloads in its training cell has no epoch edge in between. Wrapped on the class,
    never hooked on the student's module, so ``torch.save(model)`` pickles nothing of the grader's."""
    orig = torch.nn.Module.state_dict

    def state_dict(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs.get("prefix"):  # the outermost call, not its recursion into submodules
            _weight_states("state_dict")
        return orig(self, *args, **kwargs)

    p.originals["state_dict"] = orig
    torch.nn.Module.state_dict = state_dict  # type: ignore[method-assign,assignment]


def _install_data_hooks(p: Probe) -> None:
    dl = torch.utils.data.DataLoader
    base_iter = torch.utils.data.dataloader._BaseDataLoaderIter
    orig_iter, orig_next = dl.__iter__, base_iter.__next__

    def __iter__(self: Any) -> Any:
        return p.loader_iter(self, orig_iter(self))

    def __next__(self: Any) -> Any:
        try:
            batch = orig_next(self)
        except StopIteration:
            p.current_iter = -1  # the pass is over: later steps (manual batching) belong to no pass
            _weight_states("pass_end")
            raise
        p.current_iter = getattr(self, "_grader_iter", -1)
        return batch

    p.originals["iter"], p.originals["next"] = orig_iter, orig_next
    dl.__iter__ = __iter__  # type: ignore[method-assign]
    base_iter.__next__ = __next__  # type: ignore[method-assign]
    p.originals["iter_wrapper"] = __iter__


def uninstall() -> None:
    """Remove every hook and restore what was wrapped (benchmarks toggle the probe in one process)."""
    global _P
    p, _P = _P, None
    if p is None:
        return
    for h in p.handles:
        h.remove()
    torch.optim.Optimizer.__init__ = p.originals["optimizer_init"]  # type: ignore[method-assign]
    torch.autograd.backward = p.originals["backward"]
    torch.nn.Module.state_dict = p.originals["state_dict"]  # type: ignore[method-assign]
    if p.originals.get("flush"):
        torch.set_flush_denormal(False)
    torch.utils.data.DataLoader.__iter__ = p.originals["iter"]  # type: ignore[method-assign]
    torch.utils.data.dataloader._BaseDataLoaderIter.__next__ = p.originals["next"]  # type: ignore[method-assign]
    mnist = sys.modules.get("_grader_probe_mnist")
    if mnist is not None:
        mnist.uninstall()
    proof = sys.modules.get("_grader_probe_proof")
    if proof is not None:
        proof.uninstall()
    guard = sys.modules.get("_grader_probe_guard")
    if guard is not None:
        guard.uninstall()
    ip = getattr(builtins, "get_ipython", None)
    if ip is not None and ip() is not None:
        ip().events.unregister("pre_run_cell", _pre_run_cell)
    p.out.close()


def _pre_run_cell(info: Any = None) -> None:
    if _P is not None:
        _P.cell += 1
        _P.depth = 0  # an interrupted forward must not hide later roots
        _P.current_iter = -1  # a pass left unfinished in an earlier cell must not claim this cell's steps


def probe() -> Probe | None:
    """The installed probe, if any."""
    return _P
