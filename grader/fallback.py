"""The quick data mode never fails a notebook that the whole data set would not.

A notebook may write the data set's size out (``.view(10000, 784)``, a slice ``[36000:42000]``, an index past the
served split's end). In a quick mode that serves fewer items (the provider's ``split_sizes``) such a cell fails
where the whole data would not. :func:`assumes_full_size` reads the recorded errors (cell index, ename, evalue,
traceback) and the cell sources and says whether a failure shows that assumption; the pipeline then grades the
submission once more in the provider's ``full_mode`` (:func:`plan`), or, without the whole data at hand, explains
(:func:`explanation`, :func:`diagnosis`). An ordinary bug never matches: a shape error must name a whole split's
size (or a multiple of it) and be about an input made of whole served items, an index error must lie between the
served and the whole size, ``random_split`` lengths must add up to a whole split, an empty-data error needs a slice
in the notebook starting past the served end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

from grader.data.provider import DataProvider
from grader.diagnosis.model import Diagnosis
from grader.execution.runner import ExecutionReport
from grader.text import Text, text

_SHAPE = (re.compile(r"shape '\[([-\d, ]+)\]' is invalid for input of size (\d+)"),
          re.compile(r"cannot reshape array of size (\d+) into shape \(([-\d, ]+)\)"))
_INDEX = re.compile(r"index (-?\d+) is out of bounds for (?:dimension|axis) \d+ with size (\d+)")
_EMPTY = re.compile(r"\b0 elements|\bsize 0\b|\(0\)|\bempty\b|zero-size|division by zero|numel\(\) == 0|"
                    r"\[0(?:, \d+)*\]|got 0\b|non-zero size|nonzero size|\b0 sample", re.I)
_RANDOM_SPLIT = re.compile(r"random_split\([^\[\]]*\[([\d_,\s]+)\]")
_SLICE = re.compile(r"\[\s*(\d[\d_]*)\s*:\s*(\d[\d_]*)?\s*[\],]")
_INT = re.compile(r"(?<![\w.])(\d[\d_]*)(?![\w.])")
_SPLIT_KO = {"train": "학습 ", "test": "테스트 ", "all": ""}
_SPLIT_EN = {"all": ""}


@dataclass
class SizeAssumption:
    """A failed cell that assumed a split's whole size."""

    cell: int          # notebook cell index
    split: str         # the provider's split name ("train", "test")
    served: int        # items the quick mode served for that split
    full: int          # items of the whole split
    reason: str        # shape | index | split | empty | scale
    error: str         # "ename: evalue" (first line)

    def to_dict(self) -> dict[str, Any]:
        """The result's ``data.fallback`` fields about the cell."""
        return {"reason": self.reason, "cell": self.cell, "split": self.split, "served": self.served,
                "full": self.full, "error": self.error}


def assumes_full_size(report: ExecutionReport | None, notebook: Any,
                      sizes: dict[str, tuple[int, int]]) -> SizeAssumption | None:
    """The first failed cell whose error shows it assumed a whole split's size, or None (ordinary bugs)."""
    sizes = {k: (s, f) for k, (s, f) in sizes.items() if 0 < s < f}
    if report is None or not sizes:
        return None
    cells = list(getattr(notebook, "cells", None) or [])
    for outcome in report.cells:
        if not outcome.error:
            continue
        err = outcome.error
        message = f"{err.get('ename', '')}: {err.get('evalue', '')}"
        code = _sources(cells, outcome.index)
        found = _shape(message, sizes) or _index(message, sizes, code) or _split_sum(message, sizes, code) \
            or _empty(message + "\n" + str(err.get("traceback", "")), sizes, code)
        if found is not None:
            split, reason = found
            first = message.strip().splitlines()[0][:200]
            return SizeAssumption(outcome.index, split, sizes[split][0], sizes[split][1], reason, first)
    return None


def _sources(cells: list[Any], upto: int) -> str:
    """The code of the notebook's code cells up to and including ``upto``."""
    return "\n".join(str(c.get("source", "")) for i, c in enumerate(cells[:upto + 1])
                     if c.get("cell_type") == "code")


def _ints(values: str) -> list[int]:
    return [int(v) for v in re.findall(r"-?\d+", values)]


def _shape(message: str, sizes: dict[str, tuple[int, int]]) -> tuple[str, str] | None:
    """A reshape to a whole split's size of an input made of whole served items."""
    for i, rx in enumerate(_SHAPE):
        m = rx.search(message)
        if not m:
            continue
        dims, size = (_ints(m.group(1)), int(m.group(2))) if i == 0 else (_ints(m.group(2)), int(m.group(1)))
        fixed = prod(d for d in dims if d > 0)
        for split, (served, full) in sizes.items():
            if size % served or not size:
                continue
            per_item = size // served
            if (-1 in dims and full in dims) or (-1 not in dims and fixed == full * per_item):
                return split, "shape"
    return None


def _index(message: str, sizes: dict[str, tuple[int, int]], code: str) -> tuple[str, str] | None:
    """An index between the served and the whole size of a split the notebook names a number for."""
    m = _INDEX.search(message)
    if not m:
        return None
    index, size = int(m.group(1)), int(m.group(2))
    literals = {int(v.replace("_", "")) for v in _INT.findall(code)}
    for split, (served, full) in sizes.items():
        if size == served and served <= index < full and any(served < n <= full for n in literals):
            return split, "index"
    return None


def _split_sum(message: str, sizes: dict[str, tuple[int, int]], code: str) -> tuple[str, str] | None:
    """``random_split(ds, [55000, 5000])``: lengths that add up to a whole split, not to the served one."""
    if "Sum of input lengths does not equal the length of the input dataset" not in message:
        return None
    for m in _RANDOM_SPLIT.finditer(code):
        total = sum(int(v.replace("_", "")) for v in re.findall(r"\d[\d_]*", m.group(1)))
        for split, (_served, full) in sizes.items():
            if total == full:
                return split, "split"
    return None


def _empty(message: str, sizes: dict[str, tuple[int, int]], code: str) -> tuple[str, str] | None:
    """An error about empty data after a slice of the notebook that starts past a split's served end."""
    if not _EMPTY.search(message):
        return None
    for m in _SLICE.finditer(code):
        start = int(m.group(1).replace("_", ""))
        for split, (served, full) in sorted(sizes.items(), key=lambda kv: kv[1][1]):
            if served <= start < full:
                return split, "empty"
    return None


def silent_assumption(result: dict[str, Any], notebook: Any,
                      sizes: dict[str, tuple[int, int]]) -> SizeAssumption | None:
    """Assumptions of the whole size that raise nothing: a model trained on empty batches (the doctor's
    ``empty_batches``) after code naming a number between a split's served and whole size, or printed costs that
    are the recorded epoch means scaled by served/whole (an average over the whole data's batch count)."""
    sizes = {k: (s, f) for k, (s, f) in sizes.items() if 0 < s < f}
    cells = list(getattr(notebook, "cells", None) or [])
    for d in result.get("diagnoses") or []:
        cell = d.get("cell_index")
        if d.get("id") != "empty_batches" or not isinstance(cell, int):
            continue
        literals = {int(v.replace("_", "")) for v in _INT.findall(_sources(cells, cell))}
        for split, (served, full) in sorted(sizes.items(), key=lambda kv: kv[1][1]):
            if any(served < n <= full for n in literals):
                return SizeAssumption(cell, split, served, full, "empty", "a batch of 0 rows (NaN loss)")
    return _scaled_costs(result, sizes)


def _scaled_costs(result: dict[str, Any], sizes: dict[str, tuple[int, int]]) -> SizeAssumption | None:
    """Printed costs matching no recorded loss but the recorded epoch means × served/whole of the train split."""
    flag = next((f for f in result.get("flags") or [] if f.get("id") == "printed_numbers"
                 and (f.get("evidence") or {}).get("unmatched")), None)
    if flag is None or "train" not in sizes:
        return None
    served, full = sizes["train"]
    printed = [float(c) for c in flag["evidence"]["unmatched"] if isinstance(c, (int, float))]
    first: int | None = None  # the cell of the first run whose scaled means were printed
    hits = 0
    for c in printed:
        for run in result.get("runs") or []:
            means = [e["mean_loss"] * served / full for e in run.get("epochs") or []
                     if isinstance(e.get("mean_loss"), (int, float))]
            if any(abs(c - m) <= max(0.05 * abs(m), 1e-5) for m in means):
                hits += 1
                first = first if first is not None else int(run.get("cell_index") or 0)
                break
    if first is None or hits < 2 or hits < 0.8 * len(printed):
        return None
    return SizeAssumption(first, "train", served, full, "scale",
                          f"printed costs {served / full:g}× the recorded epoch means")


@dataclass
class Fallback:
    """What the pipeline does about a size assumption: grade again in ``mode``, or explain (mode None)."""

    assumption: SizeAssumption
    from_mode: str
    mode: str | None
    label: str


def plan(provider: DataProvider, mode: str, report: ExecutionReport | None, notebook: Any,
         data_dir: Path | None, result: dict[str, Any] | None = None) -> Fallback | None:
    """The fallback for one graded submission, or None (no size assumption, the whole data already, or a provider
    without ``full_mode``/``split_sizes``). Besides failed cells, ``result`` shows assumptions that raise nothing:
    training on empty batches sliced past the served end, printed costs divided by the whole data's batch count."""
    full_mode = getattr(provider, "full_mode", None)
    sizes_of = getattr(provider, "split_sizes", None)
    if not full_mode or mode == full_mode or sizes_of is None or report is None:
        return None
    sizes = sizes_of(provider.prepare(mode, data_dir))
    found = assumes_full_size(report, notebook, sizes) if any(c.error for c in report.cells) else None
    if found is None and result is not None:
        found = silent_assumption(result, notebook, sizes)
    if found is None:
        return None
    available = getattr(provider, "available", None)
    ready = bool(available is not None and available(full_mode, data_dir))
    return Fallback(found, mode, full_mode if ready else None, provider.label)


def note(fb: Fallback) -> Text:
    """The line a result and its pages show after a re-grade on the whole data."""
    a = fb.assumption
    return text(f"graded on the full {fb.label}: cell {a.cell} assumes {_images(a.full, a.split)}",
                f"전체 {fb.label}로 채점했습니다: 셀 {a.cell}이(가) {_images_ko(a.full, a.split)}를 가정합니다")


def _images(n: int, split: str) -> str:
    """"10,000 test images" ("70,000 images" for both splits together)."""
    name = _SPLIT_EN.get(split, f"{split} ")
    return f"{n:,} {name}images"


def _images_ko(n: int, split: str) -> str:
    return f"{_SPLIT_KO.get(split, split + ' ')}이미지 {n:,}개"


def explanation(fb: Fallback) -> Text:
    """Why the cell failed in the quick mode and how to write it without the size (no whole data at hand)."""
    a = fb.assumption
    return text(
        f"cell {a.cell} assumes the full {fb.label} ({_images(a.full, a.split)}), but the quick mode "
        f"'{fb.from_mode}' serves {_images(a.served, a.split)}, so it went wrong here ({a.error}); it would run on "
        f"the full data. Write it without the size: len(dataset), .view(-1, 784), slices relative to len(...)",
        f"셀 {a.cell}은(는) 전체 {fb.label}({_images_ko(a.full, a.split)})를 가정하지만, 빠른 채점 모드 "
        f"'{fb.from_mode}'는 {_images_ko(a.served, a.split)}만 제공하므로 여기서 잘못되었습니다({a.error}). 전체 "
        f"데이터에서는 실행됩니다. 크기를 직접 쓰지 마세요: len(dataset), .view(-1, 784), len(...) 기준의 슬라이스")


def diagnosis(fb: Fallback) -> Diagnosis:
    """The error-level finding that explains a size assumption the grader could not re-grade."""
    a = fb.assumption
    return Diagnosis(
        id="full_size_assumed", severity="error", message=explanation(fb),
        todo=text("use len(dataset) or -1 instead of the data set's size",
                  "데이터셋 크기 대신 len(dataset) 또는 -1을 쓰세요"),
        evidence={"cause": "environment", **a.to_dict(), "mode": fb.from_mode}, cell_index=a.cell)


def annotate(result: dict[str, Any], fb: Fallback, first: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the fallback into ``result``: after a re-grade (``first`` = the quick mode's result) the note and
    both timings; else the explanation first in the message and the diagnosis."""
    info: dict[str, Any] = {"from": fb.from_mode, "to": fb.mode, **fb.assumption.to_dict()}
    if first is not None:
        info["note"] = note(fb)
        info["first_timings"] = first.get("timings")
        timings = result.get("timings") or {}
        timings["total_s"] = round(float(timings.get("total_s", 0)) + float(
            (first.get("timings") or {}).get("total_s", 0)), 2)
    else:
        info["note"] = said = explanation(fb)
        before = result.get("messages") or text(result.get("message") or "", result.get("message") or "")
        result["messages"] = text(*(f"{said[k]}; {before[k]}" if before.get(k) else said[k] for k in ("en", "ko")))
        result["message"] = result["messages"]["en"]
        result.setdefault("diagnoses", []).insert(0, diagnosis(fb).to_dict())
        _mark_environment(result, fb.assumption.cell)
        if fb.assumption.reason == "scale":  # the printed costs are explained: no accusation left standing
            result["flags"] = [f for f in result.get("flags") or [] if f.get("id") != "printed_numbers"]
    result.setdefault("data", {})["fallback"] = info
    return result


def _mark_environment(result: dict[str, Any], cell: int) -> None:
    """The size-assuming cell's error is the quick mode's, not the student's (and its follow-ons with it)."""
    for err in result.get("errors") or []:
        if err.get("cell_index") == cell or err.get("follow_on_of") == cell:
            err["kind"] = "environment"
    roots = [e for e in result.get("errors") or [] if e.get("follow_on_of") is None]
    result["error_kinds"] = {k: sum(1 for e in roots if e.get("kind", "student") == k)
                             for k in ("environment", "student")}
