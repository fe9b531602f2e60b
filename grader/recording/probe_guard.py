"""Tamper evidence, IN THE KERNEL (stdlib + torch only): are the probe's hooks still in place, and did
every recorded optimizer step really change its parameters?

Loaded beside ``_grader_probe`` as ``_grader_probe_guard``; :func:`install` is called at the end of the
probe's own install. Everything here is evidence, not proof (the student's code runs in the same process):
what it finds is streamed out at once as ``guard`` events, so undoing it later does not erase it.

* Hook checks run after every cell (IPython ``post_run_cell``) and once more at export: forward hooks,
  optimizer step hooks, the ``Optimizer.__init__`` / ``torch.autograd.backward`` / ``Tensor.backward`` /
  DataLoader wrappers, and this guard's own cell watcher. The first cell a check fails in is reported.
* Step checks: around each live step (one the probe records) the parameters' ``_version`` counters are
  read before and after; a torch optimizer bumps each updated tensor's counter. A step that changed no
  parameter (no counter bumped, a value sample unchanged) is "idle": the step was faked or bypassed.
  Per optimizer the versions at its first and last step are kept, so the grader can compare the version
  advance with the number of steps in the (append-only) recording; fused optimizers do not bump
  counters and are not version-checked.
* Method checks: the probe's and the guard's methods (``emit``, ``step_pre`` / ``step_post``, ``report``, ...)
  must still be the functions captured at install, and ``_grader_probe.probe()`` the installed probe; the
  guard writes its own events to the probe's original output, so replacing ``p.emit`` cannot silence it.
* Weight states: at every DataLoader pass's begin and end (an epoch edge) and after every cell, each run whose
  parameters' version counters still read as its last step left them gets a fingerprint of those weights
  (:func:`state_fp`, one hash per recorded state, never a copy), streamed as a ``weights`` event with the step
  count. Weights written after the last step (a save/load round trip, a best-epoch restore) are fingerprinted
  at the export, so the grader can tell a recorded state of the run from weights it never had.
"""

from __future__ import annotations

import builtins
import ctypes
import hashlib
import importlib
import json
import sys
import time
from typing import Any

import torch
import torch.utils.data

_optim = importlib.import_module("torch.optim.optimizer")
_mm = torch.nn.modules.module

_G: Guard | None = None

#: methods whose replacement (on the instance or the class) would let a notebook forge or drop the recording
PROBE_METHODS = ("emit", "error", "forward_pre", "forward_post", "new_root", "optimizer_created", "step_pre",
                 "step_post", "new_run", "flush_run", "flush_all", "backward", "loader_iter", "mnist_created",
                 "hooks_intact")
GUARD_METHODS = ("state", "check", "step_pre", "step_post", "_count", "report", "_run_evidence", "_emit",
                 "methods_state", "record_states")


def _params(opt: Any) -> list[Any]:
    return [t for g in opt.param_groups for t in g["params"]]


def _fused(opt: Any) -> bool:
    return any(bool(g.get("fused")) for g in opt.param_groups)


def state_fp(tensors: list[Any]) -> str:
    """Fingerprint of a list of weights: blake2b over each tensor's shape and the bytes of its float32 CPU copy
    (what the export writes; no copy for float32 CPU tensors). Equal values give equal fingerprints whatever the
    device or dtype they were loaded with; any changed bit gives another."""
    h = hashlib.blake2b(digest_size=16)
    for t in tensors:
        c = t.detach().to("cpu", torch.float32).contiguous()
        h.update(repr(tuple(c.shape)).encode())
        if c.numel():
            h.update((ctypes.c_char * (c.numel() * 4)).from_address(c.data_ptr()))  # the tensor's memory, read in place
    return h.hexdigest()


def _sample(params: list[Any], mask: list[bool]) -> Any:
    i = next((k for k, m in enumerate(mask) if m), None)
    return None if i is None else (i, params[i].detach().reshape(-1)[:8].clone())


class Guard:
    """Expected hook state captured at install, and per-optimizer step evidence."""

    def __init__(self, p: Any) -> None:
        self.p = p
        self.expected: dict[str, Any] = {
            "optimizer_init": torch.optim.Optimizer.__init__,
            "backward_wrapper": torch.autograd.backward,
            "tensor_backward": torch.Tensor.backward,
            "dataloader_iter": torch.utils.data.DataLoader.__iter__,
            "dataloader_next": torch.utils.data.dataloader._BaseDataLoaderIter.__next__,
        }
        self.first_bad: dict[str, int] = {}     # check name -> probe cell ordinal where it first failed
        self.opts: dict[int, dict[str, Any]] = {}  # id(optimizer) -> step evidence
        self.fps: dict[int, dict[int, str]] = {}    # run -> step count -> fingerprint of the weights then
        self.reported = False                        # the export's report ran: nothing is streamed after it
        self.depth: dict[int, int] = {}
        self.before: dict[int, Any] = {}
        self.handles: list[Any] = []
        # the functions behind the probe's and this guard's methods, and the probe's output, as installed:
        # the export compares the bound methods with these, and guard events never go through p.emit
        self.refs: dict[str, dict[str, Any]] = {
            "probe_methods": {n: getattr(type(p), n) for n in PROBE_METHODS if hasattr(type(p), n)},
            "guard_methods": {n: getattr(Guard, n) for n in GUARD_METHODS},
        }
        self.out, self.t0 = p.out, p.t0
        probe_mod = sys.modules.get("_grader_probe")
        self.probe_fn = getattr(probe_mod, "probe", None)

    def _emit(self, **fields: Any) -> None:
        """A ``guard`` event, written with the probe's original output file (not ``p.emit``, which may be replaced)."""
        fields.update(ev="guard", t=round(time.monotonic() - self.t0, 4), cell=self.p.cell)
        self.out.write(json.dumps(fields, default=str) + "\n")

    def methods_state(self) -> dict[str, bool]:
        """Are the probe's and the guard's methods still the installed functions (and the probe the installed one)?"""
        out = {who: _bound_ok(obj, self.refs[who]) for who, obj in (("probe_methods", self.p), ("guard_methods", self))}
        mod = sys.modules.get("_grader_probe")
        out["probe_object"] = mod is not None and getattr(mod, "probe", None) is self.probe_fn and (
            self.probe_fn is None or self.probe_fn() is self.p)
        return out

    # ------------------------------------------------------------------ hooks
    def state(self) -> dict[str, bool]:
        """Each protection: still in place?"""
        p, ip = self.p, getattr(builtins, "get_ipython", None)
        shell = ip() if ip is not None else None
        out = {
            "forward_hooks": _has(_mm._global_forward_pre_hooks, p.forward_pre)
            and _has(_mm._global_forward_hooks, p.forward_post),
            "optimizer_hooks": _has(_optim._global_optimizer_pre_hooks, p.step_pre)
            and _has(_optim._global_optimizer_post_hooks, p.step_post),
            "guard_step_hooks": _has(_optim._global_optimizer_pre_hooks, self.step_pre)
            and _has(_optim._global_optimizer_post_hooks, self.step_post),
            "optimizer_init": torch.optim.Optimizer.__init__ is self.expected["optimizer_init"],
            "backward_wrapper": torch.autograd.backward is self.expected["backward_wrapper"],
            "tensor_backward": torch.Tensor.backward is self.expected["tensor_backward"],
            "dataloader_wrapper": torch.utils.data.DataLoader.__iter__ is self.expected["dataloader_iter"]
            and torch.utils.data.dataloader._BaseDataLoaderIter.__next__ is self.expected["dataloader_next"],
        }
        out.update(self.methods_state())
        if shell is not None:
            out["cell_watch"] = _post_run_cell in shell.events.callbacks.get("post_run_cell", [])
        return out

    def check(self) -> None:
        """Stream every protection found missing for the first time."""
        bad = [k for k, ok in self.state().items() if not ok and k not in self.first_bad]
        if bad:
            for k in bad:
                self.first_bad[k] = self.p.cell
            self._emit(kind="hooks", broken=bad, first_bad=dict(self.first_bad))

    # ------------------------------------------------------------------ steps
    def step_pre(self, opt: Any, args: Any, kwargs: Any) -> None:
        depth = self.depth.get(id(opt), 0)
        self.depth[id(opt)] = depth + 1
        if depth:
            return
        try:
            if not self.p.step_live.get(id(opt), False):
                self.before.pop(id(opt), None)
                return
            params = _params(opt)
            mask = [t.grad is not None for t in params]
            rec = self.opts.get(id(opt))
            # a value sample only while the optimizer has not shown it bumps version counters
            sample = _sample(params, mask) if rec is None or rec["data"] else None
            self.before[id(opt)] = ([t._version for t in params], mask, sample)
        except Exception as exc:
            self.p.error("guard_step_pre", exc)

    def step_post(self, opt: Any, args: Any, kwargs: Any) -> None:
        depth = self.depth.get(id(opt), 1) - 1
        self.depth[id(opt)] = depth
        if depth or id(opt) not in self.before:
            return
        try:
            self._count(opt, *self.before.pop(id(opt)))
        except Exception as exc:
            self.p.error("guard_step_post", exc)

    def _count(self, opt: Any, versions: list[int], mask: list[bool], sample: Any) -> None:
        params = _params(opt)
        after = [t._version for t in params]
        rec = self.opts.get(id(opt))
        if rec is None:
            rec = self.opts[id(opt)] = {"first": versions, "steps": 0, "bumped": 0, "data": 0, "idle": 0,
                                        "fused": _fused(opt), "first_idle_cell": None}
        rec["last"], rec["steps"] = after, rec["steps"] + 1
        if len(after) == len(versions) and any(m and a > b for a, b, m in zip(after, versions, mask, strict=True)):
            rec["bumped"] += 1
        elif sample is not None and not torch.equal(params[sample[0]].detach().reshape(-1)[:8], sample[1]):
            rec["data"] += 1  # updated through .data: a real (old-style) update, invisible to the counters
        elif not rec["fused"]:
            rec["idle"] += 1
            if rec["first_idle_cell"] is None:
                rec["first_idle_cell"] = self.p.cell

    # ------------------------------------------------------------------ weight states
    def record_states(self, where: str) -> None:
        """Fingerprint every run whose weights are still as its last step left them (versions unchanged) and whose
        step count has none yet; one ``weights`` event each. Called at epoch edges and after every cell."""
        if self.reported:
            return
        for k, run in enumerate(self.p.runs):
            try:
                rec = self.opts.get(id(run["opt"]))
                done = self.fps.setdefault(k, {})
                if rec is None or not run["weights"] or "snapshot" in run or run["steps"] in done:
                    continue
                if [t._version for t in _params(run["opt"])] == rec.get("last"):
                    done[run["steps"]] = fp = state_fp(run["weights"])
                    self._emit(kind="weights", run=k, step=run["steps"], fp=fp, at=where)
            except Exception as exc:
                self.p.error("guard_states", exc)

    # ------------------------------------------------------------------ report
    def report(self) -> None:
        """Final evidence, emitted by the export cell before the probe's ``end``."""
        self.check()
        self.reported = True
        runs = [self._run_evidence(k, run) for k, run in enumerate(self.p.runs)]
        self._emit(kind="final", state=self.state(), first_bad=dict(self.first_bad), runs=runs)

    def _run_evidence(self, k: int, run: dict[str, Any]) -> dict[str, Any]:
        rec = self.opts.get(id(run["opt"]))
        out: dict[str, Any] = {"run": k, "steps": 0}
        if rec is None:
            return out
        params = _params(run["opt"])
        now = [t._version for t in params]
        first, last = rec["first"], rec.get("last", rec["first"])
        same = len(now) == len(first) == len(last)
        weight_ids = {id(w) for w in run["weights"]}
        out.update({f: rec[f] for f in ("steps", "bumped", "data", "idle", "fused", "first_idle_cell")})
        out["version_delta"] = max((b - a for a, b in zip(first, last, strict=True)), default=0) if same else None
        # tensors changed in place after the last step (a later run re-training them keeps a snapshot)
        out["modified_after_training"] = sorted(
            i for i, (t, a, b) in enumerate(zip(params, last, now, strict=False))
            if b > a and id(t) in weight_ids) if same and "snapshot" not in run else []
        if out["modified_after_training"]:  # which weights they are now: a recorded state of the run, or none
            try:
                out["final_fp"] = state_fp(run["weights"])
            except Exception as exc:  # no fingerprint: judged as weights the run never had
                self.p.error("guard_final_fp", exc)
        return out


def _bound_ok(obj: Any, refs: dict[str, Any]) -> bool:
    """Every ``obj.name`` still a method bound to ``obj`` whose function is ``refs[name]``."""
    try:
        return bool(refs) and all(getattr(getattr(obj, n, None), "__func__", None) is f
                                  and getattr(getattr(obj, n, None), "__self__", None) is obj for n, f in refs.items())
    except Exception:
        return False


def _has(hooks: Any, fn: Any) -> bool:
    try:
        return any(h == fn for h in hooks.values())
    except Exception:
        return False


def _post_run_cell(result: Any = None) -> None:
    if _G is not None:
        try:
            _G.check()
        except Exception as exc:
            _G.p.error("guard_check", exc)
        _G.record_states("cell_end")


def install(p: Any) -> Guard:
    """Capture the probe's freshly installed hooks as the expected state; add the step and cell watchers."""
    global _G
    if _G is not None and _G.p is p:
        return _G
    g = _G = Guard(p)
    g.handles = [_optim.register_optimizer_step_pre_hook(g.step_pre),
                 _optim.register_optimizer_step_post_hook(g.step_post)]
    ip = getattr(builtins, "get_ipython", None)
    if ip is not None and ip() is not None:
        ip().events.register("post_run_cell", _post_run_cell)
    return g


def uninstall() -> None:
    """Remove the guard's hooks (benchmarks toggle the probe in one process)."""
    global _G
    g, _G = _G, None
    if g is None:
        return
    for h in g.handles:
        h.remove()
    ip = getattr(builtins, "get_ipython", None)
    if ip is not None and ip() is not None:
        try:
            ip().events.unregister("post_run_cell", _post_run_cell)
        except ValueError:
            pass


def guard() -> Guard | None:
    """The installed guard, if any."""
    return _G
