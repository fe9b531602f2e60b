"""Task 2 of the dnn2_gd_dataloader homework, written with the grader's public API only.

The notebook's Dataset (each item a pair of float32 tensors of shapes (3,) and (1,) holding the table's row) and
its ``dataloader`` iterated for three seeded epochs (``[[facts]]``): batches of 2, 2, 1, every row once per epoch
with its own y, the order changing between epochs. Dtypes and shapes are named when they are wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.api import CheckContext, Outcome, Text, cat, check, close, join, judge, plain, text

# --------------------------------------------------------------------------------------------- helpers


def _spec(ctx: CheckContext, fact_id: str) -> dict[str, Any]:
    """The ``[[facts]]`` entry of ``fact_id`` (its call arguments; the API has no accessor for them)."""
    facts = ctx.assignment.facts if ctx.assignment is not None else ()
    return next((f for f in facts if f.get("id") == fact_id), {})


def _short(value: Any, limit: int = 100) -> str:
    s = repr(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


_KINDS = {"error": ("raised", "에서 오류가 났습니다"),
          "timeout": ("did not finish in time", "이(가) 시간 안에 끝나지 않았습니다"),
          "missing": ("was not found", "을(를) 찾을 수 없습니다"),
          "not_run": ("was not evaluated", "을(를) 평가하지 못했습니다")}


def _unavailable(ctx: CheckContext, fact_id: str, label: str) -> Text | None:
    """Why fact ``fact_id`` (read as ``label``, e.g. ``dataset[0]``) has no value, or None when it has one."""
    res = ctx.fact(fact_id)
    if res is not None and res.status == "ok":
        return None
    if res is None:
        return judge(ctx, fact_id, None, 0.0).why
    en, ko = _KINDS.get(res.status, (res.status, res.status))
    err = f": {res.error}" if res.error else ""
    return text(f"{label} {en}{err}", f"{label} {ko}{err}")


# --------------------------------------------------------------------------------------------- task 2
def _tensor(value: Any) -> dict[str, Any] | None:
    return value["tensor"] if isinstance(value, dict) and isinstance(value.get("tensor"), dict) else None


def _dims(shape: list[int]) -> str:
    return str(tuple(shape))


Problem = tuple[str, Text]  # (what kind of problem: items with the same kind are reported once, the message)


def _item_problems(name: str, value: Any, x: list[float], y: list[float], tol: float) -> list[Problem]:
    """What is wrong with one ``dataset[k]`` (a pair of float32 tensors of shapes (3,), (1,) = the table row)."""
    if not isinstance(value, list) or len(value) != 2:
        return [(f"pair:{name}", text(f"{name} returned {_short(value)}: __getitem__ must return a pair x, y",
                                      f"{name} 의 결과가 {_short(value)} 입니다: __getitem__ 은 x, y 두 개를 반환해야 "
                                      "합니다"))]
    out: list[Problem] = []
    for part, got, want in (("x", value[0], x), ("y", value[1], y)):
        t = _tensor(got)
        if t is None:
            out.append((f"{part}:type", text(f"{part} is {_short(plain(got), 60)}, not a tensor; use "
                                             "torch.FloatTensor(...)", f"{part} 가 텐서가 아닙니다 "
                                             f"({_short(plain(got), 60)}); torch.FloatTensor(...) 를 쓰세요")))
            continue
        dtype, shape = t.get("dtype"), list(t.get("shape") or [])
        if dtype != "torch.float32":
            out.append((f"{part}:dtype:{dtype}", text(
                f"{part} has dtype {dtype}, not torch.float32: nn.Linear and F.mse_loss need float tensors; use "
                f"torch.FloatTensor(self.{part}_data[idx])",
                f"{part} 의 dtype 이 torch.float32 가 아니라 {dtype} 입니다: nn.Linear 와 F.mse_loss 에는 float 텐서가 "
                f"필요하니 torch.FloatTensor(self.{part}_data[idx]) 를 쓰세요")))
        if shape != [len(want)]:
            out.append((f"{part}:shape:{shape}", text(
                f"{part} has shape {_dims(shape)}, expected {_dims([len(want)])}: one row of self.{part}_data, "
                f"torch.FloatTensor(self.{part}_data[idx])",
                f"{part} 의 shape 이 {_dims(shape)} 입니다 (기대: {_dims([len(want)])}): self.{part}_data 의 한 행, "
                f"torch.FloatTensor(self.{part}_data[idx])")))
        elif not close(plain(got), want, tol):
            shown = _short(plain(got), 60)
            out.append((f"{part}:values:{name}", text(f"{part} = {shown}, expected the table's {want}",
                                                      f"{part} = {shown} 입니다 (표의 값 {want} 이어야 합니다)")))
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
    found: dict[str, tuple[list[str], Text]] = {}
    for fid, x, y in zip(p.facts, p.x, p.y, strict=True):
        then = _spec(ctx, fid).get("then") or []
        name = f"dataset[{then[-1][1]}]" if then and isinstance(then[-1], list) and then[-1][0] == "index" \
            else fid
        why = _unavailable(ctx, fid, name)
        if why is not None:
            found[f"fact:{fid}"] = ([], why)
            continue
        for key, msg in _item_problems(name, ctx.fact(fid).value, x, y, p.tolerance):
            found.setdefault(key, ([], msg))[0].append(name)
    if found:
        parts = [cat(", ".join(names), ": ", msg) if names and not key.startswith("pair:") else msg
                 for key, (names, msg) in found.items()]
        return Outcome(False, join("; ", parts), evidence={"problems": sorted(found)})
    return Outcome(True, text(f"{len(p.facts)} items checked: (x, y) float32 tensors of shapes (3,) and (1,) with "
                              "the table's values", f"항목 {len(p.facts)}개 확인: shape (3,), (1,) 의 float32 텐서 "
                              "(x, y) 이고 값이 표와 같습니다"))


def _flat(row: Any) -> bool:
    return isinstance(row, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)


Row = tuple[tuple[float, ...], tuple[float, ...]]


def _loader_epochs(ctx: CheckContext, fact_id: str) -> tuple[list[list[list[Row]]] | None, Text]:
    """The iterated dataloader as epochs → batches → (x row, y row) pairs, or None and why not."""
    why = _unavailable(ctx, fact_id, "dataloader")
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
                    and all(_flat(r) for r in xs + ys)):
                sx, sy = (_dims(t.get("shape") or []) for t in (xt or {}, yt or {}))
                got = text(f"x of shape {sx} and y of shape {sy}", f"x 의 shape 이 {sx}, y 의 shape 이 {sy}") \
                    if xt and yt else text(_short(plain(batch), 80))
                return None, cat(text("a batch of the dataloader has ", "dataloader 의 batch 는 "), got,
                                 text(": expected x of shape (batch, 3) and y of shape (batch, 1) (see t2.items)",
                                      " 입니다: x 는 (batch, 3), y 는 (batch, 1) shape 이어야 합니다 (t2.items 참고)"))
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
                                f" — 한 epoch 에 {n}개 중 {sum(sizes)}개만 나왔습니다: __len__ 이 {n} 을(를) "
                                "반환하나요?"))
        return Outcome(False, msg, evidence={"sizes": [[len(b) for b in bs] for bs in epochs]})
    table = sorted(_row_key((tuple(x), tuple(y))) for x, y in zip(p.x, p.y, strict=True))
    for e, batches in enumerate(epochs, start=1):
        seen = sorted(_row_key(r) for b in batches for r in b)
        if seen != table:
            odd = [r for r in seen if r not in table] or [r for r in table if r not in seen]
            row = f"x = {list(odd[0][0])}, y = {list(odd[0][1])}"
            return Outcome(False, text(f"epoch {e} did not give each row of the table exactly once (e.g. {row}): "
                                       "each x must come with its own y",
                                       f"epoch {e} 에 표의 각 행이 정확히 한 번씩 나오지 않았습니다 (예: {row}): "
                                       "각 x 는 자기 y 와 함께 나와야 합니다"))
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
    keys = [[_row_key(r) for b in bs for r in b] for bs in epochs]
    orders = [[rows.get(k[0], "?") for k in ks] for ks in keys]
    shown = " / ".join(",".join(map(str, o)) for o in orders)
    if len(epochs) < 2:
        return Outcome(False, text("fewer than 2 epochs to compare", "비교할 epoch 이 2개보다 적습니다"))
    if all(k == keys[0] for k in keys):
        return Outcome(False, text(f"the {len(epochs)} epochs gave the rows in the same order ({shown}): "
                                   "shuffle=True reshuffles them every epoch",
                                   f"epoch {len(epochs)}개가 모두 같은 순서였습니다 ({shown}): shuffle=True 로 매 "
                                   "epoch 마다 섞으세요"), evidence={"orders": orders})
    return Outcome(True, text(f"the order changed between epochs (rows {shown})",
                              f"epoch 마다 순서가 바뀌었습니다 (행 {shown})"), evidence={"orders": orders})
