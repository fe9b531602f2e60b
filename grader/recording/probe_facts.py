"""Facts from the student's kernel, IN THE KERNEL (stdlib + torch only): after the notebook ran, evaluate what
the assignment names (the student's function called with the instructor's inputs, the notebook's ``Dataset``,
its ``DataLoader`` iterated) and stream each result out as one JSON ``fact`` event.

The grader's facts cell (after the export cell) loads this source fresh as ``_grader_probe_facts`` and calls
:func:`run_facts` (no notebook cell can have replaced it). A spec names exactly one of ``target`` (a notebook
global, dotted attributes allowed), ``instance_of`` (the notebook global that is an instance of that class, the
notebook's own classes first, the last one) or ``subclass_of`` (a class the notebook defined); then optionally
``call`` ({"args": [...], "kwargs": {...}}), ``then`` (ops of :data:`OPS`), ``seed`` and ``timeout_s``.
Events: ``facts_start`` (the grader's token, the ids), one ``fact`` per spec (``id``, ``status``
ok|error|timeout|missing, ``value`` as bounded JSON (:class:`Converter`), ``error`` {ename, evalue, traceback}
or None, ``elapsed_s``, ``truncated`` when cut), ``facts_end``. Each fact runs under a SIGALRM timer (cells run
on the kernel's main thread); the previous handler and timer are restored. Nothing here raises into the kernel.
"""

from __future__ import annotations

import builtins
import importlib
import json
import math
import random
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

DEFAULT_TIMEOUT_S = 10.0
MAX_TIMEOUT_S = 600.0
MAX_UNITS = 200_000       # converted scalars per fact (a tensor element, a list item, 8 characters of a string)
MAX_DEPTH = 8
MAX_TENSOR_VALUES = 10_000
MAX_STR = 10_000
MAX_ITEMS = 10_000        # items kept per epoch of ["iterate", n] / by "list"
MAX_EPOCHS = 100
_HIDDEN = {"In", "Out", "exit", "quit", "get_ipython"}


class _FactTimeout(BaseException):
    """Raised by the timer: a BaseException, so the student's ``except Exception`` does not swallow it."""


class _Outcome(Exception):
    """A fact that ends other than ok: its status (error | missing) and its error."""

    def __init__(self, status: str, ename: str, evalue: str, tb: list[str] | None = None) -> None:
        super().__init__(evalue)
        self.status, self.error = status, {"ename": ename, "evalue": evalue, "traceback": tb or []}


def _bad_spec(message: str) -> _Outcome:
    return _Outcome("error", "FactSpecError", message)  # the spec is wrong, not the student's code


def _student_error(exc: BaseException) -> _Outcome:
    """The student's exception, described while the timer still runs (its ``__str__`` is student code too)."""
    ename = _safe(lambda: str(type(exc).__name__), "Exception")
    evalue = _safe(lambda: str(exc)[:2000], "<unprintable>")
    own = _student_error.__code__.co_filename  # this module's frames are not the student's
    tb = _safe(lambda: [f"{f.filename}:{f.lineno} in {f.name}: {(f.line or '').strip()}"[:300]
                        for f in traceback.extract_tb(exc.__traceback__) if f.filename != own][-5:], [])
    return _Outcome("error", ename, evalue, tb)


def _safe(fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception:
        return default


class _Timer:
    """SIGALRM after ``seconds``, then every second while the fact still runs (code that catches the first one
    gets another); :meth:`stop` restores the previous handler and timer. No timer off the main thread."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = self.installed = False
        self.prev_handler: Any = None
        self.prev_timer = (0.0, 0.0)
        self.started = 0.0

    def _fire(self, signum: int, frame: Any) -> None:
        if self.armed:
            raise _FactTimeout()

    def start(self) -> None:
        try:
            self.prev_handler = signal.signal(signal.SIGALRM, self._fire)
        except (ValueError, OSError, AttributeError):  # not the main thread, or no SIGALRM here
            return
        self.installed = self.armed = True
        self.started = time.monotonic()
        self.prev_timer = signal.setitimer(signal.ITIMER_REAL, self.seconds, 1.0)

    def stop(self) -> None:
        self.armed = False
        if not self.installed:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.prev_handler if self.prev_handler is not None else signal.SIG_DFL)
        self.installed = False
        delay, interval = self.prev_timer
        if delay > 0:  # someone's timer was running: give it what it had left
            signal.setitimer(signal.ITIMER_REAL, max(0.001, delay - (time.monotonic() - self.started)), interval)


# ------------------------------------------------------------------------------------------------ JSON values
def qualname(t: Any) -> str:
    """``module.QualName`` of a type (builtins without the module), e.g. ``torch.Tensor``, ``__main__.Rows``."""
    try:
        mod = getattr(t, "__module__", None)
        name = str(getattr(t, "__qualname__", None) or getattr(t, "__name__", "?"))
        return name if mod in (None, "builtins") else f"{mod}.{name}"
    except Exception:
        return "?"


class Converter:
    """A value -> bounded plain JSON: scalars as they are, lists/tuples -> lists, dicts with str keys -> dicts,
    tensors -> ``{"tensor": {"shape", "dtype", "values"}}`` (values up to :data:`MAX_TENSOR_VALUES` elements),
    anything else -> ``{"object": qualified type name}``. ``truncated`` says something was cut."""

    def __init__(self, units: int = MAX_UNITS) -> None:
        self.left = units
        self.truncated = False

    def convert(self, x: Any, depth: int = 0) -> Any:
        """``x`` as JSON within what is left of the budget."""
        self.left -= 1
        t = type(x)
        if x is None or t is bool:
            return x
        if isinstance(x, float):  # numpy's float64 too
            return float(x)
        if isinstance(x, int) and x.bit_length() <= 1024:
            return int(x)
        if t is str:
            keep = max(0, min(MAX_STR, self.left * 8))
            self.left -= min(len(x), keep) // 8
            self.truncated |= len(x) > keep
            return x[:keep]
        if isinstance(x, torch.Tensor):
            return self._tensor(x)
        if depth >= MAX_DEPTH and isinstance(x, (list, tuple, dict)):
            self.truncated = True
            return {"object": qualname(t), "truncated": True}
        if isinstance(x, (list, tuple)):
            return self._items(x, depth)
        if isinstance(x, dict) and all(type(k) is str for k in x):
            keys = list(x)
            self.left -= sum(len(k) for k in keys) // 8
            return dict(zip(keys, self._items([x[k] for k in keys], depth), strict=False))
        return {"object": qualname(t)}

    def _items(self, x: Any, depth: int) -> list[Any]:
        out: list[Any] = []
        for item in x:
            if self.left <= 0:
                self.truncated = True
                break
            out.append(self.convert(item, depth + 1))
        return out

    def _tensor(self, t: torch.Tensor) -> dict[str, Any]:
        try:
            info: dict[str, Any] = {"shape": [int(s) for s in t.shape], "dtype": str(t.dtype)}
            n = int(t.numel())
        except Exception:
            return {"object": qualname(type(t))}
        if n <= min(MAX_TENSOR_VALUES, self.left) and t.layout == torch.strided and not t.is_complex():
            try:
                info["values"] = t.detach().cpu().tolist()
                self.left -= n
                return {"tensor": info}
            except Exception:
                pass
        info["truncated"] = self.truncated = True
        return {"tensor": info}


# ------------------------------------------------------------------------------------------------ ops
def _capped(ctx: Converter, x: Any) -> list[Any]:
    items: list[Any] = []
    for item in x:
        if len(items) >= MAX_ITEMS:
            ctx.truncated = True
            break
        items.append(item)
    return items


def _public(name: Any) -> str:
    if not isinstance(name, str) or not name or name.startswith("_"):
        raise _bad_spec(f"attr {name!r}: a public attribute name is needed")
    return name


def _epochs(n: Any) -> range:
    if type(n) is not int or not 1 <= n <= MAX_EPOCHS:
        raise _bad_spec(f"iterate: a number of epochs from 1 to {MAX_EPOCHS} is needed, got {n!r}")
    return range(n)


#: every op a spec's ``then`` may use: name -> (how many arguments at most, function(converter, value, *arguments));
#: an op with arguments is a list ``[name, *arguments]``, one without may be the bare name
OPS: dict[str, tuple[int, Callable[..., Any]]] = {
    "len": (0, lambda c, x: len(x)),
    "index": (1, lambda c, x, k: x[tuple(k) if isinstance(k, list) else k]),
    "attr": (1, lambda c, x, name: getattr(x, _public(name))),
    "call": (2, lambda c, x, *a: _call(x, *a)),
    "iterate": (1, lambda c, x, n: [_capped(c, x) for _ in _epochs(n)]),
    "list": (0, lambda c, x: _capped(c, x)),
    "float": (0, lambda c, x: float(x)),
    "type": (0, lambda c, x: qualname(type(x))),
}


def _call(x: Any, args: Any = (), kwargs: Any = None) -> Any:
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict) or not all(type(k) is str for k in kwargs):
        raise _bad_spec("call: args must be a list and kwargs a dict with str keys")
    return x(*args, **kwargs)


_DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "int32": torch.int32,
           "bool": torch.bool, "uint8": torch.uint8, "float16": torch.float16}


def _argument(a: Any, ns: dict[str, Any]) -> Any:
    """A call argument from the spec: ``{"tensor": {"values": [...], "dtype": "float32", "shape": [...]}}`` is a
    fresh tensor, ``{"var": "X"}`` a notebook global; anything else is passed as it is."""
    if not isinstance(a, dict) or len(a) != 1:
        return a
    if "var" in a and isinstance(a["var"], str):
        return _target(a["var"], ns)
    t = a.get("tensor")
    if not isinstance(t, dict) or "values" not in t:
        return a
    dtype = _DTYPES.get(str(t.get("dtype", "float32")))
    if dtype is None:
        raise _bad_spec(f"tensor dtype {t.get('dtype')!r} (known: {', '.join(_DTYPES)})")
    x = torch.tensor(t["values"], dtype=dtype)
    shape = t.get("shape")
    if shape is not None:
        if not isinstance(shape, list) or not all(type(d) is int for d in shape):
            raise _bad_spec(f"tensor shape must be a list of ints, got {shape!r}")
        x = x.reshape(shape)
    return x


# ------------------------------------------------------------------------------------------------ targets
def _namespace() -> dict[str, Any]:
    ip = getattr(builtins, "get_ipython", None)
    shell = ip() if ip is not None else None
    return shell.user_ns if shell is not None else vars(sys.modules["__main__"])


def _import_class(path: str) -> type:
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p, None)
        if isinstance(obj, type):
            return obj
        break
    if parts[0] == "__main__":
        raise _Outcome("missing", "LookupError", f"the notebook defines no class {path!r}")
    raise _bad_spec(f"{path!r} is not an importable class")


def _target(name: str, ns: dict[str, Any]) -> Any:
    parts = name.split(".")
    if not all(parts) or any(p.startswith("_") for p in parts):
        raise _bad_spec(f"target {name!r}: public names only")
    if parts[0] not in ns:
        raise _Outcome("missing", "NameError", f"name {parts[0]!r} is not defined in the notebook")
    x = ns[parts[0]]
    for i, p in enumerate(parts[1:], start=1):
        try:
            x = getattr(x, p)
        except AttributeError:
            raise _Outcome("missing", "AttributeError", f"{'.'.join(parts[:i])!r} has no attribute {p!r}") from None
    return x


def _pick(ns: dict[str, Any], test: Callable[[Any], bool], what: str) -> Any:
    found, own = [], []
    for k, v in list(ns.items()):
        if k.startswith("_") or k in _HIDDEN:
            continue
        try:
            if test(v):
                found.append(v)
                if (v.__module__ if isinstance(v, type) else type(v).__module__) == "__main__":
                    own.append(v)
        except Exception:
            continue
    if not found:
        raise _Outcome("missing", "LookupError", f"the notebook has no global that is {what}")
    return (own or found)[-1]


def _resolve(spec: dict[str, Any], ns: dict[str, Any]) -> Any:
    keys = [k for k in ("target", "instance_of", "subclass_of") if k in spec]
    if len(keys) != 1 or not isinstance(spec[keys[0]], str) or not spec[keys[0]]:
        raise _bad_spec("a fact names exactly one of target, instance_of, subclass_of (a string)")
    key, name = keys[0], spec[keys[0]]
    if key == "target":
        return _target(name, ns)
    base = _import_class(name)
    if key == "instance_of":
        return _pick(ns, lambda v: not isinstance(v, type) and isinstance(v, base), f"an instance of {name}")
    return _pick(ns, lambda v: isinstance(v, type) and v is not base and issubclass(v, base)
                 and v.__module__ == "__main__", f"a class defined in the notebook subclassing {name}")


# ------------------------------------------------------------------------------------------------ evaluation
def spec_timeout(spec: Any) -> float:
    """The fact's time limit in seconds: ``timeout_s`` when a positive number (at most :data:`MAX_TIMEOUT_S`)."""
    t = spec.get("timeout_s") if isinstance(spec, dict) else None
    if isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) and t > 0:
        return float(min(t, MAX_TIMEOUT_S))
    return DEFAULT_TIMEOUT_S


def _apply(ctx: Converter, x: Any, op: Any) -> Any:
    """``"len"`` or ``["index", 0]`` applied to ``x`` through :data:`OPS`; a bad op is a spec error."""
    name, args = (op, []) if isinstance(op, str) else (op[0], op[1:]) if isinstance(op, list) and op else (None, [])
    if not isinstance(name, str) or name not in OPS:
        raise _bad_spec(f"unknown op {op!r} (known: {', '.join(OPS)})")
    most, fn = OPS[name]
    if len(args) > most or (most and name != "call" and len(args) < most):
        raise _bad_spec(f"op {name!r} takes {most} argument(s), got {len(args)}")
    return fn(ctx, x, *args)


def _evaluate(spec: dict[str, Any], ns: dict[str, Any]) -> tuple[Any, bool]:
    seed = spec.get("seed")
    if seed is not None:
        if type(seed) is not int:
            raise _bad_spec(f"seed must be an int, got {seed!r}")
        random.seed(seed)
        torch.manual_seed(seed)
    then = spec.get("then") or []
    if not isinstance(then, list):
        raise _bad_spec("'then' must be a list of ops")
    x = _resolve(spec, ns)
    call = spec.get("call")
    if call is not None:
        if not isinstance(call, dict):
            raise _bad_spec("'call' must be {\"args\": [...], \"kwargs\": {...}}")
        args, kwargs = call.get("args", []), call.get("kwargs", {})
        if isinstance(args, list) and isinstance(kwargs, dict):
            args, kwargs = [_argument(a, ns) for a in args], {k: _argument(v, ns) for k, v in kwargs.items()}
        x = _call(x, args, kwargs)
    conv = Converter()  # ops note a capped iteration on it too
    for op in then:
        x = _apply(conv, x, op)
    return conv.convert(x), conv.truncated


def _timed(spec: dict[str, Any], ns: dict[str, Any]) -> tuple[Any, bool]:
    timer = _Timer(spec_timeout(spec))
    try:
        timer.start()
        try:
            return _evaluate(spec, ns)
        except (_FactTimeout, KeyboardInterrupt, _Outcome):
            raise
        except BaseException as exc:  # the student's code (SystemExit included)
            raise _student_error(exc) from None
    finally:
        for _ in range(3):  # an alarm landing inside stop() itself, before it disarmed: stop again
            try:
                timer.stop()
                break
            except _FactTimeout:
                continue


def evaluate_fact(spec: dict[str, Any], ns: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
    """Evaluate one spec in ``ns`` (default: the notebook's globals) -> (its ``fact`` event, stop): ``stop`` is
    True when the grader interrupted the cell (KeyboardInterrupt), so no later fact should start."""
    ev: dict[str, Any] = {"ev": "fact", "id": spec.get("id"), "status": "ok", "value": None, "error": None}
    t0, stop = time.monotonic(), False
    try:
        ev["value"], truncated = _timed(spec, _namespace() if ns is None else ns)
        if truncated:
            ev["truncated"] = True
    except _FactTimeout:
        ev.update(status="timeout", error=_Outcome("", "TimeoutError",
                                                   f"did not finish within {spec_timeout(spec):g} s").error)
    except KeyboardInterrupt:
        ev.update(status="timeout", error=_Outcome("", "KeyboardInterrupt",
                                                   "interrupted by the facts cell's time limit").error)
        stop = True
    except _Outcome as out:
        ev.update(status=out.status, error=out.error)
    ev["elapsed_s"] = round(time.monotonic() - t0, 4)
    return ev, stop


def _open_sink(sink: dict[str, Any] | None) -> tuple[Any, bool]:
    """Where the events go: the grader's pipe descriptor, else the events file, else the probe's own output."""
    sink = sink or {}
    if sink.get("events_fd") is not None:
        return open(int(sink["events_fd"]), "w", buffering=1, encoding="utf-8", closefd=False), True
    if sink.get("events_path"):
        return open(sink["events_path"], "a", buffering=1, encoding="utf-8"), True
    return sys.modules["_grader_probe"].probe().out, False


def _write(out: Any, ev: dict[str, Any]) -> None:
    try:
        line = json.dumps(ev)
    except (TypeError, ValueError) as exc:
        ev.update(status="error", value=None, error=_Outcome("", "ValueError", f"result not JSON: {exc}"[:500]).error)
        line = json.dumps(ev, default=str)
    out.write(line + "\n")
    out.flush()


def run_facts(specs: Any, token: str | None = None, sink: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Evaluate every spec (a list of dicts with a str ``id``) in order and write ``facts_start``, one ``fact``
    per spec and ``facts_end`` to ``sink`` (``{"events_fd": n}`` or ``{"events_path": p}``; default: the probe's
    output). Returns the fact events written. Never raises."""
    written: list[dict[str, Any]] = []
    try:
        out, own = _open_sink(sink)
    except BaseException:
        return written
    try:
        todo, seen = [], set()
        for s in specs if isinstance(specs, list) else []:
            if isinstance(s, dict) and isinstance(s.get("id"), str) and s["id"] not in seen:  # the first per id
                seen.add(s["id"])
                todo.append(s)
        _write(out, {"ev": "facts_start", "token": token, "ids": [s["id"] for s in todo]})
        for spec in todo:
            ev, stop = evaluate_fact(spec)
            _write(out, ev)
            written.append(ev)
            if stop:
                break
        _write(out, {"ev": "facts_end", "n": len(written)})
    except BaseException:  # an interrupt while writing, a closed pipe: never into the kernel
        pass
    finally:
        if own:
            _safe(out.close, None)
    return written
