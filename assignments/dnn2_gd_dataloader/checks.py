"""Task 1 of the dnn2_gd_dataloader homework, written with the grader's public API only (task 2:
checks_data.py, task 3: checks_train.py).

``gradient_descent(x0, lr, steps)`` is called in the student's kernel with the slide's input and two hidden ones
(``[[facts]]``); every iterate must match. A wrong answer is explained: x0 included, one update too many, a wrong
count, 3x² instead of 4x³, lr ignored, the same list for every input, one tensor appended again and again (an
in-place update), an uphill step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.api import CheckContext, Outcome, Text, cat, check, close, judge, plain, text


def _call_args(ctx: CheckContext, fact_id: str) -> list[Any]:
    """The call arguments of fact ``fact_id`` (read from the assignment: the API has no accessor for them)."""
    facts = ctx.assignment.facts if ctx.assignment is not None else ()
    spec = next((f for f in facts if f.get("id") == fact_id), {})
    args = (spec.get("call") or {}).get("args")
    return list(args) if isinstance(args, list) else []


def _short(value: Any, limit: int = 100) -> str:
    s = repr(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


@dataclass(frozen=True)
class Iterates:
    facts: list[str]                 # gradient_descent(x0, lr, steps) facts, the slide's input first
    expected: list[list[float]]      # x_1 … x_steps of each
    tolerance: float = 1e-4


def _descend(x0: float, lr: float, steps: int, slope: Callable[[float], float]) -> list[float]:
    xs, x = [], float(x0)
    try:
        for _ in range(int(steps)):
            x = x - lr * slope(x)
            xs.append(x)
    except OverflowError:
        pass
    return xs


def _numbers(got: Any) -> list[float] | None:
    """``got`` as a list of numbers (one-element lists unwrapped), or None when it is not one."""
    if not isinstance(got, list):
        return None
    out = []
    for v in got:
        v = v[0] if isinstance(v, list) and len(v) == 1 else v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        out.append(float(v))
    return out


def _shape_problem(got: Any, steps: int) -> Text | None:
    """What is wrong with the kind of value returned, before any number is compared."""
    if got is None:
        return text("it returned None: end the function with `return xs`", "None 을 반환했습니다: 함수 끝에서 "
                    "`return xs` 를 하세요")
    if isinstance(got, (int, float)) and not isinstance(got, bool):
        return text(f"it returned one number, not the list of the {steps} iterates x_1 … x_{steps}",
                    f"숫자 하나를 반환했습니다: x_1 … x_{steps} {steps}개를 리스트로 반환하세요")
    if _numbers(got) is None:
        return text(f"it returned {_short(got)}, not a list of numbers: append float(x) (or a 0-d tensor) each step",
                    f"{_short(got)} 을(를) 반환했습니다: 숫자의 리스트여야 합니다 (매 step 마다 float(x) 또는 0차원 "
                    "텐서를 추가)")
    if not got:
        return text("it returned an empty list: append x to the list after each update",
                    "빈 리스트를 반환했습니다: 업데이트할 때마다 x 를 리스트에 추가하세요")
    return None


def _gd_hint(got: list[float], want: list[float], args: list[float], others: list[list[float]],
             tol: float) -> Text:
    """The likely mistake behind a wrong list of iterates (``others``: the expected lists of the other inputs)."""
    x0, lr, steps = float(args[0]), float(args[1]), int(args[2])
    if any(close(got, o, 1e-3) for o in others):
        return text("it returned the same numbers as for another input: compute the iterates from x0, lr and "
                    "steps instead of writing them down",
                    "다른 입력에 대한 값과 똑같은 숫자를 반환했습니다: 숫자를 적어 두지 말고 x0, lr, steps 로 "
                    "계산하세요")
    if len(got) == steps + 1 and close(got[1:], want, tol) and abs(got[0] - x0) <= tol:
        return text(f"the list starts with x0 = {x0:g}: return only x_1 … x_{steps} (append after each update)",
                    f"리스트가 x0 = {x0:g} 로 시작합니다: x_1 … x_{steps} 만 반환하세요 (업데이트한 뒤에 추가)")
    if len(got) == steps + 1 and close(got[:-1], want, tol):
        return text(f"one update too many ({len(got)} values): range(steps) gives exactly {steps}",
                    f"업데이트를 한 번 더 했습니다 (값 {len(got)}개): range(steps) 는 정확히 {steps}번입니다")
    if len(got) != steps:
        return text(f"it returned {len(got)} values for steps = {steps}: return exactly {steps} iterates "
                    f"x_1 … x_{steps} (without x0)",
                    f"steps = {steps} 인데 값 {len(got)}개를 반환했습니다: x0 없이 x_1 … x_{steps} 정확히 {steps}개를 "
                    "반환하세요")
    if len(got) > 1 and max(got) - min(got) <= tol and abs(want[-1] - want[0]) > tol:
        return text("every value in the list is the same: the list holds one tensor updated in place again and "
                    "again; append x.item() (or x.detach().clone()) instead of x",
                    "리스트의 값이 모두 같습니다: 제자리에서(in place) 업데이트되는 같은 텐서를 계속 추가했습니다. "
                    "x 대신 x.item() (또는 x.detach().clone()) 을 추가하세요")
    if close(got, _descend(x0, lr, steps, lambda x: 3 * x ** 2), tol):
        return text("these are the iterates for f'(x) = 3x²: the derivative of x⁴ is 4x³ (3x² is the derivative "
                    "of x³)", "f'(x) = 3x² 로 계산한 값입니다: x⁴ 의 도함수는 4x³ 입니다 (3x² 는 x³ 의 도함수)")
    if close(got, _descend(x0, lr, steps, lambda x: -4 * x ** 3), tol):
        return text("x moved uphill: the update is x − λ·f'(x) (minus), not x + λ·f'(x)",
                    "x 가 오르막으로 움직였습니다: 업데이트는 x + λ·f'(x) 가 아니라 x − λ·f'(x) (빼기) 입니다")
    fixed = [v for v in (0.01, 0.001, 0.1) if abs(v - lr) > 1e-12]
    if any(close(got, _descend(x0, v, steps, lambda x: 4 * x ** 3), tol) for v in fixed):
        return text(f"the learning rate argument was ignored (lr = {lr:g} here): use lr in the update",
                    f"학습률 인자를 쓰지 않았습니다 (여기서는 lr = {lr:g}): 업데이트에 lr 을 쓰세요")
    k = next(i for i, (g, w) in enumerate(zip(got, want, strict=True)) if not close(g, w, tol))
    return text(f"x_{k + 1} is {got[k]:.6g}, expected {want[k]:.6g}: x_(k+1) = x_k − λ·4·x_k³",
                f"x_{k + 1} 이(가) {got[k]:.6g} 입니다 (기대값 {want[k]:.6g}): x_(k+1) = x_k − λ·4·x_k³")


@check("gd_iterates", params=Iterates)
def gd_iterates(ctx: CheckContext, p: Iterates) -> Outcome:
    """``gradient_descent`` returned x_1 … x_steps for every input (slide's and hidden ones)."""
    if len(p.facts) != len(p.expected):
        return Outcome(False, text("facts and expected differ in length (assignment error)",
                                   "facts 와 expected 의 길이가 다릅니다 (과제 설정 오류)"))
    results = [judge(ctx, fid, want, p.tolerance) for fid, want in zip(p.facts, p.expected, strict=True)]
    evidence = {"facts": [r.to_dict() for r in results]}
    if all(r.ok for r in results):
        return Outcome(True, cat(text(f"all {len(results)} calls returned x_1 … x_steps: ",
                                      f"호출 {len(results)}개가 모두 x_1 … x_steps 를 반환했습니다: "),
                                 results[0].why), evidence=evidence)
    i = next(i for i, r in enumerate(results) if not r.ok)
    head = cat(text(f"{sum(not r.ok for r in results)} of {len(results)} calls wrong: ",
                    f"호출 {len(results)}개 중 {sum(not r.ok for r in results)}개가 틀림: "), results[i].why)
    res = ctx.fact(p.facts[i])
    if res is None or res.status != "ok":
        hint = text("define `def gradient_descent(x0, lr, steps)` in the task 1 cell and make it run (printing the "
                    "numbers is not enough)", "과제 1 칸에 `def gradient_descent(x0, lr, steps)` 를 정의하고 오류 없이 "
                    "실행되게 하세요 (숫자를 출력만 하면 안 됩니다)") \
            if res is None or res.status in ("missing", "not_run") else \
            text("the call raised an error: run gradient_descent yourself with other inputs",
                 "호출 중 오류가 났습니다: 다른 입력으로 gradient_descent 를 직접 실행해 보세요")
        return Outcome(False, cat(head, " — ", hint), evidence=evidence)
    got, args = plain(res.value), _call_args(ctx, p.facts[i])
    steps = int(args[2]) if len(args) == 3 else len(p.expected[i])
    hint = _shape_problem(got, steps)
    if hint is None and len(args) == 3:
        others = [e for j, e in enumerate(p.expected) if j != i]
        hint = _gd_hint(_numbers(got) or [], p.expected[i], args, others, p.tolerance)
    return Outcome(False, cat(head, " — ", hint) if hint else head, evidence=evidence)
