"""Judging kernel facts (``[[facts]]``: calls the grader made in the student's kernel after the notebook ran).

Only JSON came back (:class:`grader.recording.events.FactResult`); here, in the grader's process, values are
unwrapped (tensors become nested lists) and compared with what the instructor expects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from grader.checks.context import CheckContext
from grader.text import Text, cat, text


def plain(value: Any) -> Any:
    """A fact value with tensors (``{"tensor": {"values": ...}}``) replaced by their values, recursively."""
    if isinstance(value, dict):
        if set(value) == {"tensor"} and isinstance(value["tensor"], dict):
            return plain(value["tensor"].get("values"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def close(got: Any, want: Any, tolerance: float) -> bool:
    """Equal, with numbers within ``tolerance`` (a 1-element list and a scalar compare as the scalar)."""
    if isinstance(got, list) and len(got) == 1 and not isinstance(want, list):
        got = got[0]
    if isinstance(want, bool) or isinstance(got, bool):
        return got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return math.isfinite(got) and abs(float(got) - float(want)) <= tolerance
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(close(g, w, tolerance) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict) and isinstance(got, dict):
        return set(got) == set(want) and all(close(got[k], want[k], tolerance) for k in want)
    return bool(got == want)


def _arg_text(a: Any) -> str:
    """How one call argument reads: a declared tensor as ``tensor([[0, 1], ...])``, a kernel variable by name."""
    if isinstance(a, dict) and len(a) == 1 and isinstance(a.get("var"), str):
        return str(a["var"])
    if isinstance(a, dict) and len(a) == 1 and isinstance(a.get("tensor"), dict):
        shown = f"tensor({a['tensor'].get('values')!r})"
        return shown if len(shown) <= 80 else shown[:79] + "…"
    return repr(a)


def call_text(spec: dict[str, Any] | None, fact_id: str) -> str:
    """How a fact reads in a message: ``gradient_descent(2.0, 0.01, 9)``, ``len(<Dataset>)``, or its id."""
    if not spec:
        return fact_id
    target = spec.get("target") or f"<{spec.get('instance_of') or spec.get('subclass_of')}>"
    call = spec.get("call")
    if isinstance(call, dict):
        args = [_arg_text(a) for a in call.get("args", [])] + [f"{k}={_arg_text(v)}"
                                                                for k, v in (call.get("kwargs") or {}).items()]
        target = f"{target}({', '.join(args)})"
    for op in spec.get("then") or []:
        name, args = (op, []) if isinstance(op, str) else (op[0], list(op[1:]))
        if name in ("len", "list", "float", "type"):
            target = f"{name}({target})"
        elif name == "index":
            target = f"{target}[{args[0]!r}]" if args else target
        elif name == "attr":
            target = f"{target}.{args[0]}" if args else target
        elif name == "iterate":
            target = f"{target} ({args[0] if args else 1} epoch(s) iterated)"
        else:
            target = f"{target}(…)"
    return str(target)


def _short(value: Any, limit: int = 120) -> str:
    s = repr(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


@dataclass(frozen=True)
class FactJudgement:
    """One fact compared with its expected value."""

    id: str
    ok: bool
    why: Text
    got: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ok": self.ok, "got": self.got, "why": dict(self.why)}


_KINDS = {"bool": "integer", "uint8": "integer", "int8": "integer", "int16": "integer", "int32": "integer",
          "int64": "integer", "float16": "float", "bfloat16": "float", "float32": "float", "float64": "float"}


def declared_tensor(want: Any) -> dict[str, Any] | None:
    """``{"tensor": {"values", "dtype", "shape"}}`` as the toml declares an expected tensor, else None."""
    if isinstance(want, dict) and set(want) == {"tensor"} and isinstance(want["tensor"], dict) \
            and "values" in want["tensor"]:
        return want["tensor"]  # type: ignore[no-any-return]
    return None


def _squeezed(shape: list[int]) -> list[int]:
    return [d for d in shape if d != 1]


def tensor_problem(got: Any, want: dict[str, Any], equivalent: bool) -> Text | None:
    """What keeps result ``got`` (raw JSON) from being the declared tensor ``want``: its shape and dtype, exactly,
    or with ``equivalent`` up to size-1 dimensions ((N,) ≡ (N, 1)) and within a kind (bool/int, or float)."""
    info = got.get("tensor") if isinstance(got, dict) else None
    if not isinstance(info, dict):
        return text("returned no tensor", "텐서를 반환하지 않았습니다")
    shape, dtype = list(info.get("shape") or []), str(info.get("dtype", "")).removeprefix("torch.")
    want_shape = want.get("shape")
    if want_shape is not None and shape != list(want_shape) and not (
            equivalent and _squeezed(shape) == _squeezed(list(want_shape))):
        return text(f"returned a tensor of shape {tuple(shape)}, not {tuple(want_shape)}",
                    f"shape {tuple(shape)} 인 텐서를 반환했습니다 ({tuple(want_shape)} 이어야 합니다)")
    want_dtype = want.get("dtype")
    if want_dtype is not None and dtype != want_dtype and not (
            equivalent and _KINDS.get(dtype, dtype) == _KINDS.get(str(want_dtype), want_dtype)):
        return text(f"returned a {dtype} tensor, not {want_dtype}", f"{dtype} 텐서를 반환했습니다 "
                                                                       f"({want_dtype} 이어야 합니다)")
    return None


def judge(ctx: CheckContext, fact_id: str, want: Any, tolerance: float, equivalent: bool = False) -> FactJudgement:
    """Did fact ``fact_id`` return ``want``? Its status (error, timeout, missing, not run) says why not. A declared
    tensor (``{"tensor": {"values", "dtype", "shape"}}``) also needs its shape and dtype (:func:`tensor_problem`)."""
    call = call_text(ctx.fact_spec(fact_id), fact_id)
    res = ctx.fact(fact_id)
    if res is None:
        return FactJudgement(fact_id, False, text(f"{call}: no such fact in the assignment",
                                                  f"{call}: 과제에 이런 fact 가 없습니다"))
    if res.status != "ok":
        err = res.error or res.status
        kinds = {"error": ("raised", "오류"), "timeout": ("did not finish in time", "시간 안에 끝나지 않음"),
                 "missing": ("was not found", "찾을 수 없음"), "not_run": ("was not evaluated", "평가하지 못함")}
        en, ko = kinds.get(res.status, (res.status, res.status))
        return FactJudgement(fact_id, False, text(f"{call} {en}: {err}", f"{call} {ko}: {err}"))
    declared = declared_tensor(want)
    if declared is not None:
        wrong = tensor_problem(res.value, declared, equivalent)
        if wrong is not None:
            return FactJudgement(fact_id, False, cat(text(f"{call} ", f"{call}: "), wrong), plain(res.value))
        want = declared["values"]
    got = plain(res.value)
    if close(got, want, tolerance):
        return FactJudgement(fact_id, True, text(f"{call} = {_short(got)}"), got)
    return FactJudgement(fact_id, False, text(f"{call} returned {_short(got)}, expected {_short(want)}",
                                              f"{call} 의 결과가 {_short(got)} 입니다 (기대값 {_short(want)})"), got)
