"""What the model was fed and how its numbers were printed: the test split used for training, unscaled or
differently preprocessed inputs, a test accuracy measured in training mode, the slide's ``avg_cost`` slip."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from grader.assignment.settings import DiagnosisConfig
from grader.diagnosis.evidence import fmt, name, printed_accuracy, printed_costs
from grader.diagnosis.model import Diagnosis, DiagnosisInput
from grader.text import text

if TYPE_CHECKING:
    from grader.evaluation.runs import EvaluatedRun


def trained_on_test(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """A run with epochs over the test split: its "test accuracy" was measured on data it learned from."""
    out = []
    for er in inp.runs:
        epochs = [e.index + 1 for e in er.run.epochs if e.split == "test"]
        if not epochs:
            continue
        acc, unseen = er.accuracy, er.accuracy_unseen
        unseen_ko = f"{unseen:.4f}" if unseen is not None else "측정되지 않음"
        unseen_en = (f"the grader measured {unseen:.4f} on the train split, which this run did not see"
                     if unseen is not None else "its accuracy on the train split, which it did not see, was not "
                                                "measured")
        out.append(Diagnosis(
            "trained_on_test", "error",
            text(f"{name(er)} trained on the test split ({len(epochs)} epoch(s) over it): its test accuracy "
                 f"{fmt(acc)} was measured on images it learned from, so it is not a test accuracy; for information, "
                 f"{unseen_en}",
                 f"{name(er)} 은 테스트 데이터로 학습했습니다 (epoch {len(epochs)}개): 테스트 정확도 {fmt(acc)} 는 "
                 "학습한 "
                 "이미지로 잰 값이라 테스트 정확도가 아닙니다. 참고로 이 실행이 보지 않은 train 데이터에서 채점기가 "
                 "잰 "
                 f"정확도는 {unseen_ko} 입니다"),
            text("Train on mnist_train (train=True) and use mnist_test only to measure the final accuracy.",
                 "mnist_train(train=True)으로 학습하고 mnist_test 는 마지막 정확도를 잴 때만 쓰세요."),
            {"epochs_on_test": epochs, "accuracy_on_trained_split": acc, "accuracy_unseen": unseen,
             "unseen_split": "train"}, run=er.run.index))
    return out


def _forwards(inp: DiagnosisInput) -> dict[int, list[dict[str, Any]]]:
    """``forward`` events (with an input range) per model id."""
    by_model: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ev in inp.doctor_events("forward"):
        by_model[int(ev["model"])].append(ev)
    return by_model


def _image_like(shape: Any) -> bool:
    """An input batch that can be images: a height and width, or at least 64 features per sample (a flattened
    image); a table's few columns (scores, XOR's pairs) are never "raw pixels"."""
    if not isinstance(shape, list) or len(shape) < 2:
        return False
    per = 1
    for d in shape[1:]:
        per *= int(d)
    return len(shape) >= 3 or per >= 64


def _run_for(inp: DiagnosisInput, model: int, cell: int) -> EvaluatedRun | None:
    """The latest run of ``model`` that started training at or before probe cell ``cell``."""
    mine = [er for er in inp.runs if er.run.model_id == model and er.run.cell <= cell]
    return max(mine, key=lambda er: er.run.index, default=None)


def inputs(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """Raw 0–255 training inputs; test-time inputs on another scale than training; train-mode evaluation."""
    out: list[Diagnosis] = []
    for model, events in _forwards(inp).items():
        train = [e for e in events if e["grad"] and "max" in e and not e.get("test_like")]
        er = _run_for(inp, model, max((int(e["cell"]) for e in train), default=0)) if train else None
        if er is None:
            continue
        lo, hi = min(e["min"] for e in train), max(e["max"] for e in train)
        if hi > cfg.unscaled_max and any(_image_like(e.get("shape")) for e in train):
            printed = [printed_accuracy(inp.stdout(inp.cell_index(int(e["cell"]))), cfg.printed.accuracy)
                       for e in events if not e["grad"]]
            out.append(_unscaled(er, lo, hi, next((p for p in printed if p is not None), None)))
        seen: set[int] = set()
        for ev in (e for e in events if not e["grad"] or e.get("test_like")):
            cell = inp.cell_index(int(ev["cell"]))
            if cell in seen:
                continue
            seen.add(cell)
            out.extend(_test_time(inp, cfg, _run_for(inp, model, int(ev["cell"])) or er, ev, cell, (lo, hi)))
    return out


def _unscaled(er: EvaluatedRun, lo: float, hi: float, printed: float | None) -> Diagnosis:
    shown = f" (the notebook printed {printed:.4f}, measured on raw pixels like its training)" if printed else ""
    shown_ko = f" (노트북이 학습 때처럼 원래 픽셀 값으로 잰 정확도는 {printed:.4f})" if printed else ""
    return Diagnosis(
        "inputs_not_scaled", "warning",
        text(f"{name(er)} was trained on inputs from {lo:g} to {hi:g}: raw pixel values (0–255), not scaled to [0, 1] "
             "like transforms.ToTensor() does; the first layer then sees 255× larger numbers (Sigmoid saturates, "
             f"steps get large), and the grader, which feeds exported models ToTensor-scaled images, measured "
             f"{fmt(er.accuracy)}{shown}",
             f"{name(er)} 은 {lo:g}~{hi:g} 범위의 입력으로 학습했습니다: transforms.ToTensor() 처럼 [0, 1] 로 나누지 "
             "않은 "
             "픽셀 값(0–255)입니다. 첫 층이 255배 큰 값을 받아 Sigmoid 는 포화되고 step 이 커집니다. 채점기는 "
             f"ToTensor 처럼 스케일한 이미지로 재므로 정확도가 {fmt(er.accuracy)} 로 나왔습니다{shown_ko}"),
        text("Divide the pixels by 255 (or use transforms.ToTensor()), for training and testing alike.",
             "학습과 테스트 모두 픽셀을 255 로 나누세요 (또는 transforms.ToTensor() 를 쓰세요)."),
        {"train_min": lo, "train_max": hi, "grader_accuracy": er.accuracy, "printed_accuracy": printed},
        run=er.run.index)


def _test_time(inp: DiagnosisInput, cfg: DiagnosisConfig, er: EvaluatedRun, ev: dict[str, Any], cell: int,
               train: tuple[float, float]) -> list[Diagnosis]:
    """Findings about one cell that ran the model without autograd (the notebook's own test accuracy)."""
    out = []
    printed = printed_accuracy(inp.stdout(cell), cfg.printed.accuracy)
    base = {"cell_index": cell, "printed_accuracy": printed, "grader_accuracy": er.accuracy,
            "train_min": train[0], "train_max": train[1]}
    if "max" in ev and _differs(cfg, train, (ev["min"], ev["max"])):
        out.append(_preprocessing(er, cell, base | {"test_min": ev["min"], "test_max": ev["max"]}))
    active = ev.get("active") or {}
    if ev.get("training") and (active.get("dropout") or active.get("batchnorm")):
        out.append(_train_mode(er, cell, base | {"dropout": active.get("dropout"),
                                                 "batchnorm": active.get("batchnorm")}))
    return out


def _differs(cfg: DiagnosisConfig, train: tuple[float, float], test: tuple[float, float]) -> bool:
    """Another scale (raw vs scaled, or ``range_ratio`` times off), or normalised in training only."""
    (lo, hi), (tlo, thi) = train, test
    raw, traw = hi > cfg.unscaled_max, thi > cfg.unscaled_max
    if raw != traw:
        return True
    ratio = cfg.range_ratio
    off_scale = hi > 0 and thi > 0 and (thi > ratio * hi or hi > ratio * thi)
    return off_scale or (lo < -0.1 <= 0 <= tlo)


def _numbers(ev: dict[str, Any]) -> tuple[str, str]:
    """"the notebook printed X and the grader measured Y" — and whether that is why they differ."""
    printed, measured = ev.get("printed_accuracy"), ev.get("grader_accuracy")
    if printed is None:
        return (f"the grader measured {fmt(measured)} with the training preprocessing in eval mode",
                f"채점기가 학습 때와 같은 전처리, eval 모드로 잰 정확도는 {fmt(measured)} 입니다")
    differ = measured is not None and abs(printed - measured) > 0.02
    en = (f"the notebook printed accuracy {printed:.4f}, the grader measured {fmt(measured)} with the training "
          "preprocessing in eval mode" + (": that is why they differ" if differ else " (here they happen to agree)"))
    ko = (f"노트북이 출력한 정확도는 {printed:.4f}, 채점기가 학습 때와 같은 전처리, eval 모드로 잰 정확도는 "
          f"{fmt(measured)} "
          "입니다" + (". 그래서 두 값이 다릅니다" if differ else " (이번에는 우연히 비슷합니다)"))
    return en, ko


def _preprocessing(er: EvaluatedRun, cell: int, ev: dict[str, Any]) -> Diagnosis:
    p_en, p_ko = _numbers(ev)
    rng = f"[{ev['test_min']:g}, {ev['test_max']:g}]"
    trn = f"[{ev['train_min']:g}, {ev['train_max']:g}]"
    hint = " (the slide's `test_data.float()` without `/ 255`)" if ev["test_max"] > 10 >= ev["train_max"] else ""
    return Diagnosis(
        "test_preprocessing_differs", "warning",
        text(f"cell index {cell} fed the model of {name(er)} inputs in {rng}, but it was trained on inputs in "
             f"{trn}{hint}: {p_en}",
             f"셀 {cell}에서 {name(er)} 의 모델에 {rng} 범위의 입력을 넣었지만, 학습 때 입력은 {trn} 범위였습니다"
             f"{' (슬라이드의 `/ 255` 없는 `test_data.float()`)' if hint else ''}: {p_ko}"),
        text("Preprocess test inputs exactly like training inputs, e.g. "
             "`mnist_test.test_data.view(-1, 28 * 28).float() / 255.`",
             "테스트 입력도 학습 입력과 똑같이 전처리하세요. 예: `mnist_test.test_data.view(-1, 28 * 28).float() / "
             "255.`"),
        ev, run=er.run.index, cell_index=cell)


def _train_mode(er: EvaluatedRun, cell: int, ev: dict[str, Any]) -> Diagnosis:
    p_en, p_ko = _numbers(ev)
    drops = ev.get("dropout") or []
    layers = ", ".join([f"{drops.count(p)} × Dropout(p={p:g})" for p in dict.fromkeys(drops)]
                       + ([f"{ev['batchnorm']} BatchNorm layer(s)"] if ev.get("batchnorm") else []))
    what_en = " and ".join([*(["random units dropped"] if drops else []), *(["batch statistics used"]
                                                                           if ev.get("batchnorm") else [])])
    what_ko = ", ".join([*(["유닛을 무작위로 끔"] if drops else []),
                         *(["batch 통계를 씀"] if ev.get("batchnorm") else [])])
    return Diagnosis(
        "train_mode_eval", "warning",
        text(f"cell index {cell} measured the model of {name(er)} in training mode (no model.eval()): {layers} "
             f"stayed active ({what_en}); {p_en}",
             f"셀 {cell}에서 {name(er)} 의 모델을 학습 모드로 평가했습니다 (model.eval() 없음): {layers} 가 켜진 "
             "채였습니다 "
             f"({what_ko}). {p_ko}"),
        text("Call model.eval() before measuring test accuracy (and model.train() before training again).",
             "테스트 정확도를 재기 전에 model.eval() 을 호출하세요 (다시 학습할 때는 model.train())."),
        ev, run=er.run.index, cell_index=cell)


def avg_cost_outside(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """Printed per-epoch costs that are the last batch's cost / total_batch instead of the epoch mean."""
    out = []
    for er in inp.runs:
        printed = printed_costs(inp.stdout(inp.cell_index(er.run.cell)), cfg.printed.cost)
        means, lasts = _epoch_values(er)
        tol = cfg.cost_tolerance
        slips = [c for c in printed if _near(c, lasts, tol) and not _near(c, means, tol)]
        if len(slips) < 2 or len(slips) < 0.8 * min(len(printed), len(means)):
            continue
        out.append(Diagnosis(
            "avg_cost_outside_loop", "warning",
            text(f"{name(er)} printed cost = {slips[0]:.6f} for an epoch whose mean loss was {means[0]:.4f}: the "
                 "printed "
                 "number is the last batch's cost / total_batch, because `avg_cost += cost / total_batch` sits outside "
                 "the `for X, Y in data_loader:` loop (as on the slide) and adds only the last batch",
                 f"{name(er)} 은 평균 loss 가 {means[0]:.4f} 인 epoch 에 cost = {slips[0]:.6f} 를 출력했습니다: "
                 "`avg_cost += cost / total_batch` 가 `for X, Y in data_loader:` 루프 밖에 있어 (슬라이드처럼) 마지막 "
                 "batch 의 cost / total_batch 만 더해졌습니다"),
            text("Indent `avg_cost += cost / total_batch` into the inner loop, level with `optimizer.step()`.",
                 "`avg_cost += cost / total_batch` 를 안쪽 루프 안으로 (`optimizer.step()` 과 같은 들여쓰기로) "
                 "옮기세요."),
            {"printed": slips[:5], "epoch_means": means[:5], "last_over_total": lasts[:5]}, run=er.run.index))
    return out


def _near(v: float, values: list[float], tol: float) -> bool:
    return any(abs(v - k) <= max(tol * abs(k), 1e-6) for k in values)


def _epoch_values(er: EvaluatedRun) -> tuple[list[float], list[float]]:
    """(mean loss, last-batch loss / steps) per complete epoch."""
    means, lasts, start = [], [], 0
    for ep in er.run.epochs:
        last = er.run.losses[start + ep.steps - 1] if ep.steps else None
        if ep.complete and ep.mean_loss is not None and last is not None:
            means.append(ep.mean_loss)
            lasts.append(last / ep.steps)
        start += ep.steps
    return means, lasts


def empty_batches(inp: DiagnosisInput, cfg: DiagnosisConfig) -> list[Diagnosis]:
    """A model trained on a batch of 0 rows (a slice past the data's end): its loss is NaN and nothing raises."""
    out = []
    for ev in inp.doctor_events("empty_input"):
        run = ev.get("run")
        cell = inp.cell_index(int(ev.get("cell", 0)))
        out.append(Diagnosis(
            "empty_batches", "error",
            text(f"cell {cell} trained on an empty batch (input shape {ev.get('shape')}): a slice past the end of "
                 "the data gives 0 rows and a NaN loss, without any error",
                 f"셀 {cell}이(가) 빈 배치(입력 shape {ev.get('shape')})로 학습했습니다: 데이터 끝을 넘는 슬라이스는 "
                 "0개의 행과 NaN loss 를 만들며 오류도 나지 않습니다"),
            text("compute the number of batches from len(dataset) (or use a DataLoader) instead of writing it out",
                 "배치 수를 직접 쓰지 말고 len(dataset) 으로 계산하세요 (또는 DataLoader 를 쓰세요)"),
            evidence={"shape": ev.get("shape"), "cell": cell},
            run=run if isinstance(run, int) and run >= 0 else None, cell_index=cell))
    return out
