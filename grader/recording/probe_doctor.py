"""Evidence for the training-loop doctor, IN THE KERNEL (stdlib + torch only).

Loaded beside ``_grader_probe`` as ``_grader_probe_doctor``; the probe creates one :class:`Doctor` at install
and calls it from its existing hooks, only on sampled steps and on the first few forward calls of each
model, so a training step costs one set lookup more. Everything goes out as ``doctor`` events
(``kind`` = ``forward`` | ``grads`` | ``grad_carry`` | ``idle_step``); the grader's ``grader.diagnosis``
turns them into findings.

* ``forward``: the first few outermost forward calls of each model, with and without autograd, and the first
  few with autograd on a batch over twice the training batch (``test_like``: a test cell without
  ``torch.no_grad()``): input range (pixels 0–255 or scaled?), train/eval mode, and the Dropout/BatchNorm layers
  a train-mode test-time call (a test-accuracy cell without ``model.eval()``) leaves active.
* ``grads``: on sampled steps, just before ``optimizer.step()``: the gradient norm over the small tensors (biases,
  the output layer: exploding?) and, per 1-D parameter (a bias), how many entries have exactly zero gradient
  (a ReLU unit inactive on the whole batch has a zero bias gradient: dead units).
* ``grad_carry``: after a sampled step, a one-shot tensor hook on the smallest parameter looks at its
  ``.grad`` when the next backward delivers a new gradient: still non-zero means nothing zeroed it
  (``optimizer.zero_grad()`` missing) and the gradients accumulate across steps.
* ``idle_step``: ``optimizer.step()`` on an optimizer none of whose parameters has a gradient (at the 1st, 2nd,
  4th, ... such step): the loss being back-propagated, the model of the latest forward call with autograd
  and how many of its parameters the optimizer holds (a copy-pasted loop stepping another model's optimizer).
"""

from __future__ import annotations

import os
from typing import Any

import torch

# step counts at which evidence is sampled (a 1-2-3 ... log scale: a handful per run, whatever its length)
STEPS = frozenset({0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000})
FORWARD_SAMPLES = 3  # outermost forward calls sampled per model, with and without autograd each
_NORM_MAX = 1 << 14  # gradient norms are sampled over tensors of at most this many elements
_STOCHASTIC = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._BatchNorm)


_TEST_SIGS: dict[str, set[tuple[int, int]]] = {}
_SIG_WEIGHTS = torch.randint(0, 1 << 20, (2, 784), generator=torch.Generator().manual_seed(20261201))


def _signatures(masks: torch.Tensor) -> list[tuple[int, int]]:
    """Two exact integer hashes per row of a (N, 784) boolean mask."""
    out: list[tuple[int, int]] = []
    for start in range(0, masks.shape[0], 2048):  # int64 (2048, 784) at a time
        m = masks[start:start + 2048].long()
        a, b = (m * _SIG_WEIGHTS[0]).sum(1).tolist(), (m * _SIG_WEIGHTS[1]).sum(1).tolist()
        out.extend(zip(a, b, strict=True))
    return out


class Doctor:
    """Sampling state of one kernel; every method catches its own errors (the student's code must run)."""

    def __init__(self, p: Any) -> None:
        self.p = p
        self.steps = STEPS
        self.left: dict[tuple[int, bool], int] = {}   # (id(module), grad enabled) -> forward samples left
        self.stochastic: dict[int, dict[str, Any]] = {}
        self.carry: dict[int, Any] = {}                # run index -> hook handle of the pending carry check
        self.idle: dict[int, int] = {}                 # id(optimizer) -> steps without any gradient
        self.losses: set[int] = set()                  # ids of loss modules (roots too, but not models)
        self.segments: dict[tuple[Any, ...], torch.Tensor] = {}  # bias sizes -> segment id of each entry
        self.last_root: Any = None                     # the model of the latest forward call with autograd
        self.batch: dict[int, int] = {}                # id(module) -> batch size of its first autograd call
        self.big: dict[int, int] = {}                  # id(module) -> test-like autograd samples left
        self.test_sigs: set[tuple[int, int]] | None = None  # background signatures of the served test images
        self.empty: set[int] = set()                   # ids of models already seen training on an empty batch

    # ------------------------------------------------------------------ forward calls
    def root_forward(self, mod: Any, args: Any) -> None:
        """An outermost forward call just returned (called by the probe's forward post-hook)."""
        try:
            grad = torch.is_grad_enabled()
            key = (id(mod), grad)
            n = self.left.get(key, FORWARD_SAMPLES)
            if n > 0:
                self.left[key] = n - 1
                self.sample(mod, args, grad, key)
            elif grad and self.big.get(id(mod), FORWARD_SAMPLES) > 0 and args and isinstance(args[0], torch.Tensor) \
                    and args[0].dim() and args[0].shape[0] > 2 * self.batch.get(id(mod), 1 << 62):
                # a call with autograd on a much larger batch than training's: a test-accuracy cell without no_grad
                self.big[id(mod)] = self.big.get(id(mod), FORWARD_SAMPLES) - 1
                self.sample(mod, args, grad, key, test_like=True)
            if grad and id(mod) not in self.losses:
                self.last_root = mod  # resolved (compile wrapper, id) only at an idle step: Module getattr is slow
                if args and isinstance(args[0], torch.Tensor) and args[0].dim() and not args[0].shape[0] \
                        and id(mod) not in self.empty:
                    # a batch of 0 rows (a slice past the data's end): its loss is NaN, nothing raises
                    self.empty.add(id(mod))
                    self.p.emit("doctor", kind="empty_input", model=id(mod), shape=list(args[0].shape),
                                run=len(self.p.runs) - 1)
        except Exception as exc:
            self.p.error("doctor_root", exc)

    def sample(self, mod: Any, args: Any, grad: bool, key: tuple[int, bool], test_like: bool = False) -> None:
        """One ``forward`` event: input range, mode, and the layers a no-grad train-mode call leaves active."""
        try:
            if isinstance(mod, torch.nn.modules.loss._Loss):
                self.left[key] = 0
                self.losses.add(id(mod))
                return
            mod = getattr(mod, "_orig_mod", mod)
            ev: dict[str, Any] = {"model": id(mod), "grad": grad, "training": bool(mod.training)}
            x = args[0] if args and isinstance(args[0], torch.Tensor) else None
            if x is not None and x.is_floating_point() and x.numel():
                lo, hi = torch.aminmax(x.detach())
                ev.update(min=float(lo), max=float(hi), shape=list(x.shape))
                if grad and not test_like and x.dim():
                    self.batch.setdefault(id(mod), int(x.shape[0]))
                    share = self.test_share(x)
                    if share is not None:
                        ev["test_rows"] = share
            if test_like:
                ev["test_like"] = True
            if (not grad or test_like) and mod.training:
                ev["active"] = self.active_layers(mod)
            self.p.emit("doctor", kind="forward", **ev)
        except Exception as exc:
            self.p.error("doctor_forward", exc)

    def test_share(self, x: torch.Tensor) -> float | None:
        """Share of a training batch's images that are test-split images, however they were scaled or gathered.

        An image's signature is its background: which pixels are at the image's minimum (0 in the raw file, 0
        after ``ToTensor``, −m/s after ``Normalize``), hashed exactly in integers; the served test split's
        signatures are computed once. Catches training on ``mnist_test.test_data`` slices or a TensorDataset
        of them, which no DataLoader split tells.
        """
        rows = x.detach().reshape(x.shape[0], -1) if x.dim() >= 2 else None
        if rows is None or rows.shape[1] != 784 or rows.device.type != "cpu":
            return None
        if self.test_sigs is None:
            self.test_sigs = self._load_test_sigs()
        if not self.test_sigs:
            return None
        mine = _signatures(rows == rows.min(dim=1, keepdim=True).values)
        return sum(1 for s in mine if s in self.test_sigs) / max(1, len(mine))

    def _load_test_sigs(self) -> set[tuple[int, int]]:
        root = self.p.cfg.get("mnist_root")
        path = os.path.join(root, "MNIST", "raw", "t10k-images-idx3-ubyte") if root else ""
        if not path or not os.path.exists(path):
            return set()
        if path not in _TEST_SIGS:  # once per process (7 ms for the subset's 1,000 images, 70 ms for 10,000)
            with open(path, "rb") as fh:
                data = bytearray(fh.read())
            images = torch.frombuffer(data, dtype=torch.uint8, offset=16).view(-1, 784)
            _TEST_SIGS[path] = set(_signatures(images == 0))
        return _TEST_SIGS[path]

    def active_layers(self, mod: Any) -> dict[str, Any]:
        """Dropout probabilities and BatchNorm layers still in training mode (cached per model)."""
        if id(mod) not in self.stochastic:
            layers = [m for m in mod.modules() if isinstance(m, _STOCHASTIC)]
            self.stochastic[id(mod)] = {"classes": sorted({type(m).__name__ for m in layers})}
        drop = [float(m.p) for m in mod.modules() if isinstance(m, _STOCHASTIC[0]) and m.training and m.p > 0]
        bn = sum(1 for m in mod.modules() if isinstance(m, _STOCHASTIC[1]) and m.training)
        return {**self.stochastic[id(mod)], "dropout": drop, "batchnorm": bn}

    # ------------------------------------------------------------------ steps
    def before_step(self, k: int, run: dict[str, Any], opt: Any) -> None:
        """Sampled step ``run["steps"]``, gradients in place: total norm and zero-gradient counts of biases."""
        try:
            handle = self.carry.pop(k, None)
            if handle is not None:
                handle.remove()
            grads = [q.grad for g in opt.param_groups for q in g["params"] if q.grad is not None]
            if not grads:
                return
            # the norm over the small tensors (biases, the output layer) tracks an explosion as well as the full
            # norm and costs a fraction of reading every weight gradient
            small = [g for g in grads if g.numel() <= _NORM_MAX] or [min(grads, key=lambda g: g.numel())]
            total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(small)).float()).reshape(1)
            ones = [g for g in grads if g.dim() == 1]
            sizes = [g.numel() for g in ones]
            if ones:  # zero entries per bias in one reduction: a segment id per entry (cached), then bincount
                key = (tuple(sizes), str(total.device))
                if key not in self.segments:
                    self.segments[key] = torch.repeat_interleave(torch.arange(len(ones), device=total.device),
                                                                 torch.tensor(sizes, device=total.device))
                zeros = torch.bincount(self.segments[key], weights=(torch.cat(ones) == 0).float(),
                                       minlength=len(ones))
                total = torch.cat([total, zeros.to(total.dtype)])
            values = total.tolist()
            self.p.emit("doctor", kind="grads", run=k, step=run["steps"], total=values[0],
                        biases=[[n, int(z)] for n, z in zip(sizes, values[1:], strict=True)])
        except Exception as exc:
            self.p.error("doctor_grads", exc)

    def after_step(self, k: int, run: dict[str, Any], opt: Any) -> None:
        """Sampled step done: watch the next gradient of the smallest parameter for carried-over ``.grad``."""
        try:
            params = [q for g in opt.param_groups for q in g["params"] if q.grad is not None and q.requires_grad]
            if not params or k in self.carry:
                return
            q = min(params, key=lambda t: t.numel())
            state = {"done": False}
            step, emit = run["steps"], self.p.emit

            def hook(new: torch.Tensor) -> None:
                if state["done"]:
                    return
                state["done"] = True
                try:
                    old = q.grad
                    carried = 0.0 if old is None else float(old.detach().float().norm())
                    emit("doctor", kind="grad_carry", run=k, step=step, carried=carried,
                         new=float(new.detach().float().norm()))
                except Exception as exc:
                    self.p.error("doctor_carry", exc)

            self.carry[k] = q.register_hook(hook)
        except Exception as exc:
            self.p.error("doctor_after_step", exc)

    def idle_step(self, opt: Any) -> None:
        """``step()`` on an optimizer whose parameters have no gradient (the probe records no run step)."""
        n = self.idle[id(opt)] = self.idle.get(id(opt), 0) + 1
        if n & (n - 1):
            return  # the 1st, 2nd, 4th, 8th ... only
        try:
            loss = self.p.pending_loss
            held = {id(q) for g in opt.param_groups for q in g["params"]}
            model = getattr(self.last_root, "_orig_mod", self.last_root)
            shared = None if model is None else sum(id(q) in held for q in model.parameters())
            self.p.emit("doctor", kind="idle_step", opt=id(opt), n=n, it=self.p.current_iter,
                        loss=None if loss is None else float(loss.float().reshape(())),
                        model=None if model is None else id(model),
                        model_cls=type(model).__name__ if model is not None else None, shared_params=shared)
        except Exception as exc:
            self.p.error("doctor_idle", exc)
