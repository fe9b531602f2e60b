"""Checks of the dnn2_gd_dataloader homework, written with the grader's public API only.

Task 1: ``gradient_descent(x0, lr, steps)`` called in the student's kernel with the slide's input and two hidden
  ones (``[[facts]]``); a wrong answer is explained: x0 included, one update too many, 3x² instead of 4x³, lr
  ignored, the same list for every input, the same tensor appended again and again, an uphill step.
Task 2: the notebook's Dataset (each item a pair of float32 tensors of shapes (3,) and (1,) holding the table's
  row) and its ``dataloader`` iterated for three seeded epochs (batches of 2, 2, 1, every row once per epoch, the
  order changing between epochs).
Task 3: the selected linear run: 21 epochs of 3 iterations, the slide's lr and a cost that stays finite (a
  diverged run is said to be one).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grader.api import CheckContext, EvaluatedRun, Outcome, Text, cat, check, close, join, judge, plain, select, text

# --------------------------------------------------------------------------------------------- helpers


def _spec(ctx: CheckContext, fact_id: str) -> dict[str, Any]:
    """The ``[[facts]]`` entry of ``fact_id`` (its call arguments; the API has no accessor for them)."""
    facts = ctx.assignment.facts if ctx.assignment is not None else ()
    return next((f for f in facts if f.get("id") == fact_id), {})


def _short(value: Any, limit: int = 100) -> str:
    s = repr(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _unavailable(ctx: CheckContext, fact_id: str) -> Text | None:
    """Why fact ``fact_id`` has no value (raised, missing, timed out, not run), or None when it has one."""
    res = ctx.fact(fact_id)
    if res is not None and res.status == "ok":
        return None
    return judge(ctx, fact_id, None, 0.0).why


# --------------------------------------------------------------------------------------------- task 1
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
                    "다른 입력에 대한 값과 똑같은 숫자를 반환했습니다: 숫자를 적어 두지 말고 x0, lr, steps 로 계산하세요")
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
    got, args = plain(res.value), (_spec(ctx, p.facts[i]).get("call") or {}).get("args") or []
    steps = int(args[2]) if len(args) == 3 else len(p.expected[i])
    hint = _shape_problem(got, steps)
    if hint is None and len(args) == 3:
        others = [e for j, e in enumerate(p.expected) if j != i]
        hint = _gd_hint(_numbers(got) or [], p.expected[i], args, others, p.tolerance)
    return Outcome(False, cat(head, " — ", hint) if hint else head, evidence=evidence)


# --------------------------------------------------------------------------------------------- task 2
def _tensor(value: Any) -> dict[str, Any] | None:
    return value["tensor"] if isinstance(value, dict) and isinstance(value.get("tensor"), dict) else None


def _dims(shape: list[int]) -> str:
    return str(tuple(shape))


def _item_problems(name: str, value: Any, x: list[float], y: list[float], tol: float) -> list[Text]:
    """What is wrong with one ``dataset[k]`` (a pair of float32 tensors of shapes (3,), (1,) = the table row)."""
    if not isinstance(value, list) or len(value) != 2:
        return [text(f"{name} returned {_short(value)}: __getitem__ must return a pair x, y",
                     f"{name} 의 결과가 {_short(value)} 입니다: __getitem__ 은 x, y 두 개를 반환해야 합니다")]
    out: list[Text] = []
    for part, got, want in (("x", value[0], x), ("y", value[1], y)):
        t = _tensor(got)
        if t is None:
            out.append(text(f"{name}: {part} is {_short(got, 60)}, not a tensor; use torch.FloatTensor(...)",
                            f"{name}: {part} 가 텐서가 아닙니다 ({_short(got, 60)}); torch.FloatTensor(...) 를 쓰세요"))
            continue
        if t.get("dtype") != "torch.float32":
            out.append(text(f"{name}: {part} has dtype {t.get('dtype')}, not torch.float32: nn.Linear and "
                            "F.mse_loss need float tensors; use torch.FloatTensor(...)",
                            f"{name}: {part} 의 dtype 이 torch.float32 가 아니라 {t.get('dtype')} 입니다: nn.Linear 와 "
                            "F.mse_loss 에는 float 텐서가 필요하니 torch.FloatTensor(...) 를 쓰세요"))
        shape = list(t.get("shape") or [])
        if shape != [len(want)]:
            out.append(text(f"{name}: {part} has shape {_dims(shape)}, expected {_dims([len(want)])} (one row of "
                            f"self.{part}_data)", f"{name}: {part} 의 shape 이 {_dims(shape)} 입니다 (기대: "
                            f"{_dims([len(want)])}, self.{part}_data 의 한 행)"))
        elif not close(plain(got), want, tol):
            out.append(text(f"{name}: {part} = {_short(plain(got), 60)}, expected the table's {want}",
                            f"{name}: {part} = {_short(plain(got), 60)} 입니다 (표의 값 {want} 이어야 합니다)"))
    return out


@dataclass(frozen=True)
class Items:
    facts: list[str]                 # dataset[k] facts
    x: list[list[float]]             # the expected x of each
    y: list[list[float]]             # the expected y of each
    tolerance: float = 1e-6


@check("dataset_items", params=Items)
def dataset_items(ctx: CheckContext, p: Items) -> Outcome:
    """Each ``dataset[k]`` is (FloatTensor x of shape (3,), FloatTensor y of shape (1,)) with the table's row."""
    problems: list[Text] = []
    for fid, x, y in zip(p.facts, p.x, p.y, strict=True):
        why = _unavailable(ctx, fid)
        if why is not None:
            problems.append(why)
            continue
        then = _spec(ctx, fid).get("then") or []
        k = then[-1][1] if then and isinstance(then[-1], list) and then[-1][0] == "index" else "?"
        problems += _item_problems(f"dataset[{k}]", ctx.fact(fid).value, x, y, p.tolerance)
    if problems:
        return Outcome(False, join("; ", problems))
    return Outcome(True, text(f"{len(p.facts)} items checked: (x, y) float32 tensors of shapes (3,) and (1,) with "
                              "the table's values", f"항목 {len(p.facts)}개 확인: shape (3,), (1,) 의 float32 텐서 "
                              "(x, y) 이고 값이 표와 같습니다"))


Row = tuple[tuple[float, ...], tuple[float, ...]]


def _loader_epochs(ctx: CheckContext, fact_id: str) -> tuple[list[list[list[Row]]] | None, Text]:
    """The iterated dataloader as epochs → batches → (x row, y row) pairs, or None and why not."""
    why = _unavailable(ctx, fact_id)
    if why is not None:
        return None, cat(why, text(" — define dataloader = DataLoader(dataset, batch_size=2, shuffle=True)",
                                   " — dataloader = DataLoader(dataset, batch_size=2, shuffle=True) 를 만드세요"))
    value = ctx.fact(fact_id).value
    epochs: list[list[list[Row]]] = []
    for epoch in value if isinstance(value, list) else []:
        batches: list[list[Row]] = []
        for batch in epoch if isinstance(epoch, list) else []:
            xt, yt = (_tensor(batch[0]), _tensor(batch[1])) if isinstance(batch, list) and len(batch) == 2 \
                else (None, None)
            xs, ys = (xt or {}).get("values"), (yt or {}).get("values")
            if not (isinstance(xs, list) and isinstance(ys, list) and len(xs) == len(ys)
                    and all(isinstance(r, list) for r in xs + ys)):
                return None, text(f"a batch of the dataloader is {_short(plain(batch), 80)}: expected x of shape "
                                  "(batch, 3) and y of shape (batch, 1)",
                                  f"dataloader 의 batch 가 {_short(plain(batch), 80)} 입니다: x 는 (batch, 3), y 는 "
                                  "(batch, 1) shape 이어야 합니다")
            batches.append([(tuple(map(float, a)), tuple(map(float, b))) for a, b in zip(xs, ys, strict=True)])
        epochs.append(batches)
    if not epochs:
        return None, text(f"iterating the dataloader gave {_short(plain(value), 80)}",
                          f"dataloader 를 돌린 결과가 {_short(plain(value), 80)} 입니다")
    return epochs, text("")


@dataclass(frozen=True)
class Batches:
    fact: str                        # the dataloader iterated for some epochs (["iterate", n])
    sizes: list[int]                 # the batch sizes of one epoch
    x: list[list[float]]             # the table
    y: list[list[float]]


def _row_key(row: Row) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(round(v, 4) for v in row[0]), tuple(round(v, 4) for v in row[1])


@check("loader_batches", params=Batches)
def loader_batches(ctx: CheckContext, p: Batches) -> Outcome:
    """Every epoch of the dataloader: batches of ``sizes`` covering each (x, y) row of the table once."""
    epochs, why = _loader_epochs(ctx, p.fact)
    if epochs is None:
        return Outcome(False, why)
    n, want = len(p.x), p.sizes
    for e, batches in enumerate(epochs, start=1):
        sizes = [len(b) for b in batches]
        if sizes == want:
            continue
        msg = text(f"epoch {e} gave {len(sizes)} batch(es) of sizes {sizes}; with {n} rows and batch_size = {want[0]} "
                   f"one epoch is {len(want)} iterations of {want}",
                   f"epoch {e} 에 batch {len(sizes)}개 (크기 {sizes}) 가 나왔습니다: 데이터 {n}개, batch_size = "
                   f"{want[0]} 이면 한 epoch 은 {want} 크기의 iteration {len(want)}번입니다")
        if sizes and len(set(sizes[:-1] or sizes)) == 1 and sizes[0] != want[0] and sum(sizes) == n:
            msg = cat(msg, text(f" — batch_size is {sizes[0]}, not {want[0]}",
                                f" — batch_size 가 {want[0]} 가 아니라 {sizes[0]} 입니다"))
        if sum(sizes) != n:
            msg = cat(msg, text(f" — the epoch covered {sum(sizes)} of the {n} rows: does __len__ return {n}?",
                                f" — 한 epoch 에 {n}개 중 {sum(sizes)}개만 나왔습니다: __len__ 이 {n} 을 반환하나요?"))
        return Outcome(False, msg, evidence={"sizes": [[len(b) for b in bs] for bs in epochs]})
    table = sorted(_row_key((tuple(x), tuple(y))) for x, y in zip(p.x, p.y, strict=True))
    for e, batches in enumerate(epochs, start=1):
        seen = sorted(_row_key(r) for b in batches for r in b)
        if seen != table:
            odd = [r for r in seen if r not in table] or [r for r in table if r not in seen]
            return Outcome(False, text(f"epoch {e} did not give each row of the table exactly once (e.g. x = "
                                       f"{list(odd[0][0])}, y = {list(odd[0][1])}): each x must come with its own y",
                                       f"epoch {e} 에 표의 각 행이 정확히 한 번씩 나오지 않았습니다 (예: x = "
                                       f"{list(odd[0][0])}, y = {list(odd[0][1])}): 각 x 는 자기 y 와 함께 나와야 합니다"))
    return Outcome(True, text(f"{len(epochs)} epochs, each {len(want)} batches of sizes {want} covering all {n} rows",
                              f"epoch {len(epochs)}개 모두 크기 {want} 의 batch {len(want)}개로 데이터 {n}개를 모두 "
                              "지났습니다"), evidence={"sizes": [[len(b) for b in bs] for bs in epochs]})


@dataclass(frozen=True)
class Shuffles:
    fact: str                        # the dataloader iterated for at least 2 epochs
    x: list[list[float]] = field(default_factory=list)  # the table's x rows, to name rows by number


@check("loader_shuffles", params=Shuffles)
def loader_shuffles(ctx: CheckContext, p: Shuffles) -> Outcome:
    """The order of the rows differs between at least two epochs (``shuffle=True``)."""
    epochs, why = _loader_epochs(ctx, p.fact)
    if epochs is None:
        return Outcome(False, why)
    rows = {tuple(round(v, 4) for v in x): i + 1 for i, x in enumerate(p.x)}
    orders = [[rows.get(_row_key(r)[0], "?") for b in bs for r in b] for bs in epochs]
    shown = " / ".join(",".join(map(str, o)) for o in orders)
    if len(epochs) < 2:
        return Outcome(False, text("fewer than 2 epochs to compare", "비교할 epoch 이 2개보다 적습니다"))
    if all(o == orders[0] for o in orders):
        return Outcome(False, text(f"the {len(epochs)} epochs gave the rows in the same order ({shown}): "
                                   "shuffle=True reshuffles them every epoch",
                                   f"epoch {len(epochs)}개가 모두 같은 순서였습니다 ({shown}): shuffle=True 로 매 "
                                   "epoch 마다 섞으세요"), evidence={"orders": orders})
    return Outcome(True, text(f"the order changed between epochs (rows {shown})",
                              f"epoch 마다 순서가 바뀌었습니다 (행 {shown})"), evidence={"orders": orders})


# --------------------------------------------------------------------------------------------- task 3
_NO_RUN = text("no nn.Linear(3, 1) model was trained with SGD on F.mse_loss for 21 epochs (see t3.trained): ",
               "SGD 와 F.mse_loss 로 21 epoch 학습한 nn.Linear(3, 1) 모델이 없습니다 (t3.trained 참고): ")


def _linear_run(ctx: CheckContext, name: str) -> tuple[EvaluatedRun | None, Outcome | None]:
    er, why = select(ctx, name)
    return (er, None) if er is not None else (None, Outcome(False, cat(_NO_RUN, why)))


@dataclass(frozen=True)
class Iterations:
    run: str                         # a [runs.<name>] selector
    epochs: int = 21                 # range(nb_epochs + 1) with nb_epochs = 20
    iterations: int = 3              # 5 rows in batches of 2


@check("epoch_iterations", params=Iterations)
def epoch_iterations(ctx: CheckContext, p: Iterations) -> Outcome:
    """The run trained exactly ``epochs`` epochs of ``iterations`` steps each."""
    er, out = _linear_run(ctx, p.run)
    if er is None:
        return out  # type: ignore[return-value]
    steps = [e.steps for e in er.run.epochs if e.complete]
    batch = f" (batch {er.run.batch})" if er.run.batch else ""
    ev = {"run": er.run.index, "steps_per_epoch": steps, "batch": er.run.batch}
    if any(s != p.iterations for s in steps):
        odd = sorted(set(steps) - {p.iterations})
        return Outcome(False, text(f"{er.label}: epochs of {', '.join(map(str, odd))} iteration(s){batch}, not "
                                   f"{p.iterations}: train through the task 2 dataloader (batch_size = 2) inside every "
                                   "epoch", f"{er.label}: epoch 마다 iteration 이 {p.iterations}번이 아니라 "
                                   f"{', '.join(map(str, odd))}번입니다{batch}: 매 epoch 안에서 과제 2의 dataloader "
                                   "(batch_size = 2) 로 학습하세요"), evidence=ev)
    if len(steps) != p.epochs:
        return Outcome(False, text(f"{er.label}: {len(steps)} epochs, not {p.epochs}: nb_epochs = {p.epochs - 1} with "
                                   "for epoch in range(nb_epochs + 1)",
                                   f"{er.label}: epoch 이 {p.epochs}개가 아니라 {len(steps)}개입니다: nb_epochs = "
                                   f"{p.epochs - 1}, for epoch in range(nb_epochs + 1)"), evidence=ev)
    return Outcome(True, text(f"{er.label}: {p.epochs} epochs × {p.iterations} iterations = {sum(steps)} steps{batch}",
                              f"{er.label}: {p.epochs} epoch × iteration {p.iterations}번 = {sum(steps)} step{batch}"),
                   evidence=ev)


@dataclass(frozen=True)
class Converges:
    run: str                         # a [runs.<name>] selector
    lr: float = 1e-5                 # the slide's learning rate
    rel_tolerance: float = 0.01      # on lr


def _fmt(v: float | None) -> str:
    return "NaN" if v is None or math.isnan(v) else ("inf" if math.isinf(v) else f"{v:.6g}")


@check("sgd_converges", params=Converges)
def sgd_converges(ctx: CheckContext, p: Converges) -> Outcome:
    """The run used the slide's lr and its cost stayed finite and fell (a diverged run is named one)."""
    er, out = _linear_run(ctx, p.run)
    if er is None:
        return out  # type: ignore[return-value]
    lr = (er.run.optimizer.get("hparams") or {}).get("lr")
    lr_s = f"{lr:g}" if isinstance(lr, (int, float)) else str(lr)
    losses = er.run.losses
    bad = next((i for i, v in enumerate(losses) if v is None or not math.isfinite(v)), None)
    ev = {"run": er.run.index, "lr": lr, "first_non_finite_step": bad}
    if bad is not None:
        peak = max((v for v in losses[:bad] if v is not None), default=None)
        return Outcome(False, text(f"{er.label}: the cost diverged: it became {_fmt(losses[bad])} at step {bad + 1} "
                                   f"(largest finite cost before that {_fmt(peak)}). With inputs of 70–100, lr = {lr_s} "
                                   f"makes every step overshoot; use lr = {p.lr:g} as on the slide",
                                   f"{er.label}: cost 가 발산했습니다: step {bad + 1} 에서 {_fmt(losses[bad])} 이(가) "
                                   f"되었습니다 (그 전 가장 큰 cost {_fmt(peak)}). 입력 값이 70–100 이라 lr = {lr_s} 이면 "
                                   f"매 step 이 너무 멀리 갑니다: 슬라이드처럼 lr = {p.lr:g} 를 쓰세요"), evidence=ev)
    means = er.run.epoch_means()
    if len(means) >= 2 and means[-1] > means[0]:
        return Outcome(False, text(f"{er.label}: the cost grew from {means[0]:.6g} (epoch 1) to {means[-1]:.6g}: it is "
                                   f"diverging; lr = {lr_s} is too large, use lr = {p.lr:g}",
                                   f"{er.label}: cost 가 {means[0]:.6g} (epoch 1) 에서 {means[-1]:.6g} 로 커졌습니다: "
                                   f"발산하고 있습니다. lr = {lr_s} 은(는) 너무 크니 lr = {p.lr:g} 를 쓰세요"),
                       evidence=ev)
    if not isinstance(lr, (int, float)) or abs(lr - p.lr) > p.rel_tolerance * p.lr:
        return Outcome(False, text(f"{er.label}: lr = {lr_s}; the slide's training uses SGD(lr = {p.lr:g})",
                                   f"{er.label}: lr = {lr_s} 입니다. 슬라이드의 학습은 SGD(lr = {p.lr:g}) 입니다"),
                       evidence=ev)
    trend = f": cost {means[0]:.6g} → {means[-1]:.6g} (epoch means)" if means else ""
    return Outcome(True, text(f"{er.label}: lr = {lr_s}, the cost stayed finite{trend}",
                              f"{er.label}: lr = {lr_s}, cost 가 발산하지 않았습니다{trend.replace('epoch means', 'epoch 평균')}"),
                   evidence=ev)
